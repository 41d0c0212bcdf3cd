"""HOSTILE SIDE. Code that runs inside the student's kernel, in the sandbox.

Nothing in the trusted side imports these modules: ``graders.runner.kernel_code`` reads
their source and compiles it inside the kernel. They may use only the standard library,
numpy, IPython and (where the notebook already imported it) torch, plus the constants of
``graders/boundary.py``, which the kernel receives as ``_autograder_boundary``.
"""
