"""Constants both sides of the trust boundary agree on: where things are inside the
sandbox and how kernel messages are tagged.

The trusted side imports this module; the kernel gets its source injected as the module
``_autograder_boundary`` before any probe code runs. It must stay plain assignments.
"""

# The MIME type of every message the probe code sends back (as display_data).
MIME = "application/vnd.ml-autograder.probe+json"

# Paths inside the sandbox.
ENV_MOUNT = "/opt/grading-env"
HOME = "/home/student"
IPC_MOUNT = "/ipc"
PROBE_MOUNT = "/grader"
FILES_MOUNT = "/submission"
DATASETS_MOUNT = "/datasets"
TORCH_HOME = "/opt/torch-home"
