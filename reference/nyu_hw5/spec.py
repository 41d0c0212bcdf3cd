"""NYU Introduction to Machine Learning, homework 5.

The handout gives no points; these are ours (50 in all): problems 1 and 3 (derivations
and the weight-decay update, 10 each) are graded by hand; problem 2 (10) is four value
answers (a shape, channel counts, the multiply-adds, the parameters), read from a
variable, the answer cell's last expression or the written answer; problem 4 (20)
fine-tunes ResNet34 on a two-class ImageFolder dataset (ants and bees).

For 2(c) "rough calculations are OK": within 2 %, and counting multiplications and
additions separately (twice the multiply-adds) is accepted too. Problem 4's accuracy is
scored against the reference notebook's on grader-held validation images; "pretrained"
means the network's weights still match the torch hub checkpoint the grader holds
(``resnet34-b627a593.pth``, which ``models.resnet34(pretrained=True)`` and
``weights=ResNet34_Weights.IMAGENET1K_V1`` both load, offline). The handout trains 20
epochs; the reference does that on a GPU and a short schedule on a CPU-only grader.
"""

from graders.spec import (
    AccuracyBand,
    AnswerForm,
    ArchitectureCheck,
    Assignment,
    Conv2d,
    Drawing,
    HiddenSet,
    Linear,
    ModelAccuracyCheck,
    ModelLocator,
    OptimizerCheck,
    OptimizerSetting,
    PlotCheck,
    PretrainedCheck,
    Question,
    Tolerance,
    Transform,
    ValueCheck,
)

EXACT = Tolerance(rtol=0.0, atol=1e-9)


def _resnet34_layers() -> tuple[Conv2d | Linear, ...]:
    """Every convolution of torchvision's ResNet34 in module order, then the new head."""
    layers: list[Conv2d | Linear] = [Conv2d(3, 64, 7)]
    channels = 64
    for blocks, width in zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True):
        for block in range(blocks):
            layers += [Conv2d(channels, width, 3), Conv2d(width, width, 3)]
            if block == 0 and channels != width:
                layers.append(Conv2d(channels, width, 1))  # the downsampling shortcut
            channels = width
    return (*layers, Linear(512, 2))


RESNET = ModelLocator(names=("model", "model_ft", "net", "resnet"), classes=("ResNet",),
                      output_dim=2)
IMAGENET = (Transform("Resize", 256), Transform("CenterCrop", 224), Transform("ToTensor"),
            Transform("Normalize", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
PROBLEM2 = r"problem\s*2|conv.*layer|convolution"

ASSIGNMENT = Assignment(
    id="nyu-hw5",
    title="NYU Intro to ML homework 5: backpropagation, convolutions, fine-tuning ResNet34",
    version="1",
    cell_timeout_s=3600,
    total_timeout_s=3 * 3600,
    reference_notebook="solution_notebook.py",
    memory_bytes=6 * 1024**3,
    needs_gpu=True,
    datasets=("hymenoptera",),
    weights=("resnet34-b627a593.pth",),
    questions=(
        Question(id="1", title="Backpropagation through a one-hidden-layer sigmoid network; "
                 "forward vs backward cost", points=10, manual=True),
        Question(
            id="2a", title="The shapes of Z and Y", points=3, section=PROBLEM2,
            prompt="What are the shapes of Z and Y?",
            checks=(
                ValueCheck(points=1.5, label="the shape of Z", reference="output_shape",
                           names=("Z_shape", "z_shape", "shape_Z", "output_shape", "out_shape"),
                           form=AnswerForm.SEQUENCE, tolerance=EXACT,
                           labels=("shape", "Z", "(a)")),
                ValueCheck(points=1.5, label="the shape of Y", reference="output_shape",
                           names=("Y_shape", "y_shape", "shape_Y", "output_shape", "out_shape"),
                           form=AnswerForm.SEQUENCE, tolerance=EXACT,
                           labels=("shape", "Y", "(a)")),
            ),
        ),
        Question(
            id="2b", title="The numbers of input and output channels", points=2,
            section=PROBLEM2, prompt="What are the number of input and output channels?",
            checks=(
                ValueCheck(points=1, label="the input channels", reference="in_channels",
                           names=("in_channels", "input_channels", "n_in", "C_in"),
                           form=AnswerForm.COUNT, tolerance=EXACT,
                           labels=("input channels", "input", "in")),
                ValueCheck(points=1, label="the output channels", reference="out_channels",
                           names=("out_channels", "output_channels", "n_out", "C_out"),
                           form=AnswerForm.COUNT, tolerance=EXACT,
                           labels=("output channels", "output", "out")),
            ),
        ),
        Question(
            id="2c", title="Multiply-add operations of a forward pass", points=3,
            section=PROBLEM2,
            prompt="How many multiply- and add- operations are required to perform a "
                   "forward pass through this layer?",
            checks=(ValueCheck(points=3, label="the multiply-adds", reference="multiply_adds",
                               names=("multiply_adds", "mult_adds", "n_ops", "num_ops", "ops",
                                      "operations", "flops", "macs"),
                               form=AnswerForm.COUNT, tolerance=Tolerance(rtol=0.02, atol=0),
                               labels=("multiply", "operations", "(c)"),
                               accept=(10_267_200,)),),
        ),
        Question(
            id="2d", title="Trainable parameters of the layer", points=2, section=PROBLEM2,
            prompt="What are the total number of trainable parameters in this layer?",
            checks=(ValueCheck(points=2, label="the trainable parameters",
                               reference="parameters",
                               names=("n_params", "num_params", "params", "parameters",
                                      "trainable_params", "total_params"),
                               form=AnswerForm.COUNT, tolerance=EXACT,
                               labels=("parameters", "params", "(d)"),
                               # the weights right, the biases left out: half, as a TA
                               # gives it
                               partial=((1_800, 0.5, "the 3 x 3 x 10 x 20 weights, without "
                                                     "the 20 biases (one per filter)"),)),),
        ),
        Question(id="3", title="Weight decay: the regularised loss, its update, the decay "
                 "factor, choosing the learning rate", points=10, manual=True),
        Question(
            id="4.1", title="ResNet34 with its last layer replaced for two classes", points=4,
            section=r"problem\s*4|resnet|fine.?tun",
            # run on a batch of the data's shape: the layers forward runs are the
            # network (a head defined beside a forward that returns the backbone's 1000
            # outputs is no head)
            checks=(ArchitectureCheck(points=4, locate=RESNET, layers=_resnet34_layers(),
                                      parameters=21_285_698, input_shape=(3, 224, 224),
                                      # trained with CrossEntropyLoss: a Softmax in the
                                      # new head gives probabilities, not logits
                                      placed_head=1000, logits=True),),
        ),
        Question(
            id="4.2", title="Pretrained weights loaded", points=3,
            checks=(PretrainedCheck(points=3, locate=RESNET),),
        ),
        Question(
            id="4.3", title="SGD with lr 0.001 and momentum 0.9", points=3,
            checks=(OptimizerCheck(points=3, settings=(
                OptimizerSetting.of("SGD", lr=0.001, momentum=0.9),)),),
        ),
        Question(
            id="4.4", title="Validation accuracy of the fine-tuned network", points=8,
            section=r"problem\s*4|resnet|fine.?tun|train", budget_s=3 * 3600,
            checks=(ModelAccuracyCheck(points=8, locate=RESNET,
                                       data=HiddenSet("hymenoptera-hidden"),
                                       band=AccuracyBand(full_within=0.10, zero_within=0.35),
                                       fallback_transform=IMAGENET),),
        ),
        Question(
            id="4.5", title="Train and validation loss and accuracy curves", points=2,
            section=r"problem\s*4|resnet|fine.?tun|plot|curve",
            checks=(PlotCheck(points=2, min_images=2, saved=True, shows=Drawing.CURVES,
                              of_training=True),),
        ),
    ),
)
