"""Heidelberg ML exercise sheet 08: reverse-mode autodiff, PyTorch on MNIST, VGG-16 on
CIFAR-10. Handed in by groups, as one zip (the notebook, any scanned or typeset notes).

Points as on the sheet: exercise 1 10 (the computational graph, 3, is graded by hand; the
forward trace 4 and the reverse trace 3 are value answers: every intermediate of the
lecture's table is looked for among the values the group's trace gives, whatever the
group calls it), exercise 2 10, exercise 3 10 plus 3 for the technical bonus (iv).
Exercise 1 handed in on paper or as a PDF is not in the notebook: those groups get
"no answer found" and their TA grades it from the PDF (a manual override).

Trained networks are scored against the reference notebook's accuracy on grader-held
test images whose labels never enter the sandbox. The sheet asks for 10 epochs on a GPU;
the reference trains that on a GPU and a short schedule on a CPU-only grader, and the
bands are wide for the VGG (a deep network without batch norm learns slowly at lr 1e-4).
"""

from graders.spec import (
    AccuracyBand,
    AnswerForm,
    ArchitectureCheck,
    Assignment,
    CallsCheck,
    Conv2d,
    Drawing,
    HiddenSet,
    Linear,
    LoaderCheck,
    ModelAccuracyCheck,
    ModelLocator,
    OptimizerCheck,
    OptimizerSetting,
    PlotCheck,
    Question,
    Tolerance,
    ValueCheck,
)

# rounded to a few digits, as a trace table is written
TRACE_TOLERANCE = Tolerance(rtol=5e-3, atol=5e-3)


def _trace(label: str, reference: str, points: float, *names: str,
           by_hand: bool = False, steps: tuple[str, ...] = ()) -> ValueCheck:
    return ValueCheck(points=points, label=label, reference=reference, names=names,
                      form=AnswerForm.NUMBER, tolerance=TRACE_TOLERANCE, among=True,
                      by_hand=by_hand, steps=steps)


FORWARD = 0.5  # y, the trace's result, weighs 1.5
FORWARD_TRACE = (
    _trace("v1 = x1 / x2", "v1", FORWARD, "v1", "v_1"),
    _trace("v2 = sin(v1)", "v2", FORWARD, "v2", "v_2"),
    _trace("v3 = exp(x2)", "v3", FORWARD, "v3", "v_3"),
    _trace("v4 = v1 - v3", "v4", FORWARD, "v4", "v_4"),
    _trace("v5 = v2 + v4", "v5", FORWARD, "v5", "v_5"),
    _trace("y = v6 = v5 * v4", "y", 1.5, "v6", "v_6", "y_value"),
)
# the reverse trace is worked out: dy/dx printed by torch's autograd is not one, nor is
# a derivative shown without the adjoints that lead to it (v4_bar = 2.844, v3_bar =
# -2.844: no forward value is either)
ADJOINTS = ("v4_bar", "v3_bar")
REVERSE_TRACE = (
    _trace("dy/dx1", "dy_dx1", 1.5, "dy_dx1", "x1_bar", "grad_x1", "dx1", by_hand=True,
           steps=ADJOINTS),
    _trace("dy/dx2", "dy_dx2", 1.5, "dy_dx2", "x2_bar", "grad_x2", "dx2", by_hand=True,
           steps=ADJOINTS),
)

MLP = ModelLocator(names=("model", "net", "mlp"), output_dim=10)
VGG = ModelLocator(names=("vgg", "vgg16", "model", "net"), classes=("VGG", "VGG16"),
                   output_dim=10)
MNIST = HiddenSet("mnist-hidden")
CIFAR = HiddenSet("cifar10-test-hidden")


def _vgg_convs() -> tuple[Conv2d, ...]:
    channels = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
    ins = (3, *channels[:-1])
    return tuple(Conv2d(i, o, 3) for i, o in zip(ins, channels, strict=True))


VGG_LAYERS = (*_vgg_convs(), Linear(512, 512), Linear(512, 512), Linear(512, 10))

ASSIGNMENT = Assignment(
    id="heidelberg-ex08",
    title="Heidelberg ML exercise sheet 08: autodiff, PyTorch, VGG-16 on CIFAR-10",
    version="1",
    cell_timeout_s=3600,
    total_timeout_s=3 * 3600,
    reference_notebook="solution_notebook.py",
    memory_bytes=6 * 1024**3,
    needs_gpu=True,
    datasets=("MNIST", "cifar-10-batches-py"),
    questions=(
        Question(id="1.1", title="The computational graph of y(x)", points=3, manual=True),
        Question(id="1.2", title="Forward trace at x = (1.5, 0.5)", points=4,
                 section=r"forward|reverse mode|automatic differentiation|autodiff",
                 prompt="Give the forward trace at the given x",
                 checks=FORWARD_TRACE),
        Question(id="1.3", title="Reverse trace: dy/dx1 and dy/dx2", points=3,
                 section=r"reverse|backward|adjoint|automatic differentiation|autodiff",
                 prompt="Give the backward/reverse trace", checks=REVERSE_TRACE),
        Question(
            id="2", title="MNIST MLP 784-512-256-10 (ReLU), Adam lr 1e-3, batch 100",
            points=10, section=r"pytorch|mnist|exercise 2", budget_s=3600,
            prompt="Implement a neural network with two hidden layers (the first one with 512 "
                   "units, the second with 256) and ReLU nonlinearities",
            checks=(
                ArchitectureCheck(points=3, locate=MLP,
                                  layers=(Linear(784, 512), Linear(512, 256), Linear(256, 10)),
                                  parameters=535_818, requires=("relu",),
                                  input_shape=(1, 28, 28), logits=True),
                OptimizerCheck(points=2, settings=(OptimizerSetting.of("Adam", lr=1e-3),)),
                LoaderCheck(points=1, splits=(), batch_size=100, dataset="MNIST"),
                ModelAccuracyCheck(points=4, locate=MLP, data=MNIST,
                                   band=AccuracyBand(full_within=0.05, zero_within=0.30)),
            ),
        ),
        Question(
            id="3.1", title="VGG-16 for CIFAR-10: 13 convolutions in five blocks, FC 512-512-10",
            points=4, section=r"vgg|exercise 3|image classification",
            prompt="Implement the VGG-16 we discussed in the lecture",
            checks=(ArchitectureCheck(points=4, locate=VGG, layers=VGG_LAYERS,
                                      requires=("relu", "max_pool"),
                                      input_shape=(3, 32, 32), logits=True),),
        ),
        Question(
            id="3.2", title="Training: Adam lr 1e-4, weight decay 1e-3, batch 256", points=3,
            section=r"vgg|train|exercise 3", budget_s=3 * 3600,
            prompt="Train the network with the Adam optimizer, a learning rate of 10^-4, a "
                   "weight-decay regularization of 10^-3",
            checks=(
                OptimizerCheck(points=2, settings=(
                    OptimizerSetting.of("Adam", lr=1e-4, weight_decay=1e-3),)),
                LoaderCheck(points=1, splits=(), batch_size=256, dataset="CIFAR10"),
            ),
        ),
        Question(
            id="3.3", title="Test accuracy; three right and three wrong images with the "
                            "class probabilities", points=3,
            section=r"accura|probabilit|correctly|wrong|exercise 3",
            prompt="plot three test images the network classified correctly as well as three "
                   "images it failed to classify together with the probabilities",
            checks=(
                ModelAccuracyCheck(points=2, locate=VGG, data=CIFAR,
                                   band=AccuracyBand(full_within=0.10, zero_within=0.40)),
                PlotCheck(points=1, min_images=1, shows=Drawing.PICTURES),
            ),
        ),
        Question(
            id="3.4", title="Bonus: dropout 0.5 after the FC layers, batch norm after the "
                            "convolutions, train()/eval()", points=3,
            # the sheet numbers the parts of exercise 3 i) to iv)
            section=r"dropout|batch.?norm|\biv\)",
            prompt="Implement Dropout (with p = 0.5) after your fully connected layers and "
                   "batch normalization after the convolutional layers",
            checks=(
                ArchitectureCheck(points=2, locate=VGG, layers=VGG_LAYERS,
                                  requires=("batch_norm", "dropout"),
                                  settings=(("Dropout", "p", 0.5),),
                                  placed=(("dropout", "Linear"), ("batch_norm", "Conv2d")),
                                  input_shape=(3, 32, 32), logits=True),
                CallsCheck(points=1, calls=("train", "eval"),
                           why="dropout and batch norm behave differently in training "
                               "and testing", after_earlier=True),
            ),
        ),
    ),
)
