"""VU Amsterdam Deep Learning, assignment 2: automatic differentiation with ``vugrad``.

Students work in their copy of the course's ``vugrad`` library; this project ships its
own implementation of that library's interface as the support files (``support/vugrad``,
``support/_context.py``), and a hand-in's edited library files (a zip of the fork, of
``ops.py`` and friends, or the single ``ops.py``) lie over it. Ops are looked for in the
notebook first, then in the student's library, under the usual spellings; the feedback
names the one graded. The ops the library already ships (Exp, MatrixMultiply, Expand,
Normalize, Sigmoid) are not graded as code: unchanged, an empty hand-in would pass them;
their derivations (questions 2-4, 8) carry the points, by hand.

Points are ours (the handout gives none): the derivations, explanations and
experiments (questions 1-8's written parts, 10-12) are graded by hand; the ops' code by
forward values (40 %) and gradients (60 %, split over the inputs) against the reference
and finite differences; the ReLU network's validation accuracy on grader-held points of
the synthetic problem (or of MNIST, for a network retrained there), against the
reference notebook's.
"""

from graders.spec import (
    AccuracyBand,
    Assignment,
    HiddenSet,
    ModelAccuracyCheck,
    ModelLocator,
    Normal,
    OpCheck,
    PackageOverlay,
    Question,
    Uniform,
)

VUGRAD = PackageOverlay("vugrad", ("__init__.py", "core.py", "ops.py", "functions.py",
                                   "modules.py", "mnist.py"))


def _op(label: str, reference: str, points: float, names: tuple[str, ...], *inputs,
        **kwargs) -> OpCheck:
    return OpCheck(points=points, label=label, names=names, reference=reference,
                   inputs=inputs, kwargs=tuple(kwargs.items()))


DIV = _op("element-wise division", "div", 3,
          ("Div", "Divide", "Division", "ElementwiseDivide", "ElementwiseDivision",
           "ElementwiseDiv", "ElemDiv", "Quotient", "div", "divide"),
          Normal((3, 4)), Uniform((3, 4), low=0.5, high=2.0))
RELU = _op("ReLU", "relu", 6, ("ReLU", "Relu", "ReLu", "RELU", "relu"), Normal((4, 5)))

ASSIGNMENT = Assignment(
    id="vu-dl-a2",
    title="VU Deep Learning assignment 2: automatic differentiation with vugrad",
    version="1",
    cell_timeout_s=900,
    total_timeout_s=1800,
    reference_notebook="solution_notebook.py",
    overlay=VUGRAD,
    datasets=("MNIST",),  # the library's load_mnist (questions 9 and 10)
    questions=(
        Question(id="1", title="Backward of element-wise division (derivation)", points=3,
                 manual=True),
        Question(id="1-op", title="Element-wise division as an Op: forward, backward for "
                 "both inputs", points=3, checks=(DIV,)),
        # Questions 2-4 and 8 ask for derivations of ops the library already ships (Exp,
        # MatrixMultiply, Expand, Normalize, Sigmoid): their code is the course's, so an
        # empty hand-in would pass it. The points are the derivations', graded by hand.
        Question(id="2", title="Backward of an element-wise function (derivation)", points=5,
                 manual=True),
        Question(id="3", title="Backward of a matrix multiplication (derivation)", points=6,
                 manual=True),
        Question(id="4", title="Backward of broadcasting (derivation)", points=6, manual=True),
        Question(id="5", title="TensorNode's members", points=4, manual=True),
        Question(id="6", title="OpNode and Op in core.py", points=4, manual=True),
        Question(id="7", title="Where backward() calls the ops", points=2, manual=True),
        Question(id="8", title="An op's backward derived and checked (derivation)", points=8,
                 manual=True),
        Question(id="9", title="A ReLU Op: forward and backward", points=6, checks=(RELU,)),
        Question(
            id="9b", title="The network retrained with ReLU: validation accuracy", points=4,
            section=r"question\s*9|relu", budget_s=900,
            checks=(ModelAccuracyCheck(points=4,
                                       locate=ModelLocator(framework="vugrad",
                                                           requires=("relu",),
                                                           excludes=("sigmoid",)),
                                       data=HiddenSet("synth-hidden"),
                                       # "retrain the network": the handout's script
                                       # trains on either; a network retrained on MNIST
                                       # is measured there
                                       alternatives=(HiddenSet("mnist-hidden"),),
                                       band=AccuracyBand(full_within=0.05, zero_within=0.25)),),
        ),
        Question(id="9c", title="Sigmoid against ReLU: the comparison", points=3, manual=True),
        Question(id="10", title="Architecture and training experiments", points=10,
                 manual=True),
        Question(id="11", title="A PyTorch classifier and its hyper-parameters", points=10,
                 manual=True),
        Question(id="12", title="Other optimizers, losses or tricks", points=10, manual=True),
    ),
)
