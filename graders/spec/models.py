"""Checks of trained models, data loaders and what a notebook shows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graders.spec.answers import ValueCheck
from graders.spec.functions import FunctionCheck, GradientCheck, NoLoops, StabilityCheck
from graders.spec.layers import TO_TENSOR, LayerSpec, Transform
from graders.spec.ops import OpCheck


class Drawing(StrEnum):
    """What a plot question asks to see."""

    CURVES = "curves"  # learning curves and other line plots
    PICTURES = "pictures"  # images shown as such: samples, predictions, filters
    ANY = "any"


# ------------------------------------------------------------- trained-model checks
@dataclass(frozen=True)
class ModelLocator:
    """Which model answers a question: in-memory ``nn.Module`` instances (preferring these
    variable or class names), and/or a file the notebook saved (``saved``)."""

    names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    output_dim: int | None = None
    source: str = "memory"  # "memory", "saved" or "any"
    # "torch" (nn.Module) or "vugrad" (the course library's Module, on (n, features) data)
    framework: str = "torch"
    # what the model must compute to be the one the question names ("relu": the ReLU
    # network, not the sigmoid one beside it): a module or a call in forward (torch), an
    # op its forward pass went through (vugrad)
    requires: tuple[str, ...] = ()
    # what it must no longer compute ("sigmoid": the network retrained with ReLU in place
    # of the sigmoid, not ReLU stacked after it)
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HiddenSet:
    """A test set under the grader's hidden directory (``<name>.npz``: images, labels).

    ``classes`` keeps those original labels, renumbered 0..k-1 in the order given (the
    handout's class order); the images go to the sandbox, the labels never do.
    """

    name: str
    classes: tuple[int, ...] | None = None


@dataclass(frozen=True)
class AccuracyBand:
    """Credit against the reference solution's accuracy on the same data, in ``steps``
    equal steps: full within ``full_within`` below it, none from ``zero_within`` below
    it. Every edge sits a further ``margin`` lower: a training run's accuracy moves by a
    point or so between machines and thread counts, and that must never move points."""

    full_within: float = 0.05
    zero_within: float = 0.30
    steps: int = 4
    margin: float = 0.02


@dataclass(frozen=True)
class ModelAccuracyCheck:
    points: float
    locate: ModelLocator
    data: HiddenSet
    band: AccuracyBand = AccuracyBand()
    # used only when the notebook defines no dataset transform to borrow
    fallback_transform: tuple[Transform, ...] = (TO_TENSOR,)
    # other data the handout lets the network be trained on (VU's ReLU network, retrained
    # on the synthetic data or on MNIST): a network that cannot run on ``data`` is measured
    # on the first of these it runs on, against the reference's network trained on that
    # data (calibrated as "<question>:<check>@<name>"). Course-library networks only
    # (``framework="vugrad"``): their inputs are the arrays the library's loaders give
    alternatives: tuple[HiddenSet, ...] = ()

    def __post_init__(self) -> None:
        if self.alternatives and self.locate.framework != "vugrad":
            raise ValueError("alternative hidden sets are for course-library networks "
                             "(framework='vugrad')")
        names = [d.name for d in (self.data, *self.alternatives)]
        if len(set(names)) != len(names):
            raise ValueError(f"a hidden set named twice: {names}")

    @property
    def hidden_sets(self) -> tuple[HiddenSet, ...]:
        return (self.data, *self.alternatives)


@dataclass(frozen=True)
class ArchitectureCheck:
    """Parametric layers in order (None matches anything), the parameter count, and
    non-parametric pieces required as modules or calls in ``forward`` ("relu",
    "max_pool", "dropout", "batch_norm")."""

    points: float
    locate: ModelLocator
    layers: tuple[LayerSpec, ...]
    parameters: int | None = None
    requires: tuple[str, ...] = ()
    # one input as the data gives it (KMNIST through ToTensor: (1, 28, 28)): the model is
    # run on a small batch of that shape, so a network that cannot take the data earns no
    # architecture credit however its layers are named
    input_shape: tuple[int, ...] | None = None
    # the output layer gives logits, as CrossEntropyLoss expects: a network whose outputs
    # are probabilities (a softmax before the loss) has the output layer wrong
    logits: bool = False
    # (module type, attribute, value) every such module must have: ("Dropout", "p", 0.5)
    # for "dropout with p = 0.5"; each one set otherwise costs a quarter
    settings: tuple[tuple[str, str, float], ...] = ()
    # the outputs of the library network's own head (ResNet34's 1000 ImageNet classes),
    # where the question is to replace it: a model whose forward still gives them did not
    placed_head: int | None = None
    # (required piece, layer type): where the piece's modules stand, in the order the
    # forward pass ran them, some must follow such a layer (("dropout", "Linear") for
    # "dropout after the fully connected layers"); one only elsewhere is not the piece
    placed: tuple[tuple[str, str], ...] = ()
    # (required piece, layer type): one of the piece after every such layer, before the
    # next linear or convolutional one (("max_pool", "Conv2d") for "a max-pooling layer
    # after every convolution"), in the order the forward pass called the modules
    each: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LoaderSplit:
    name: str  # "training", "validation", "test": for feedback
    length: int
    train: bool | None = None  # the underlying dataset's train flag, when it matters
    label_counts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class LoaderCheck:
    points: float
    splits: tuple[LoaderSplit, ...]
    batch_size: int | None = None
    # only loaders over this torchvision dataset class ("MNIST", "CIFAR10"): a notebook
    # with two datasets has loaders for each
    dataset: str | None = None


@dataclass(frozen=True)
class SavedModelCheck:
    """A saved model file that loads, and is as good as the model left in memory (on the
    notebook's own test set) within ``tolerance``: the "best model" really is."""

    points: float
    locate: ModelLocator = ModelLocator(source="saved")
    tolerance: float = 0.02
    # grader-held images of the same classes: a "model" that answers the notebook's own
    # test images far better than these recognises those images (a lookup), and is no
    # model to credit
    data: HiddenSet | None = None
    fallback_transform: tuple[Transform, ...] = (TO_TENSOR,)


@dataclass(frozen=True)
class ReportedAccuracyCheck:
    """The accuracy the notebook prints (the last one in ``section``) is what its model
    achieves on the notebook's own test set, within ``tolerance``; with ``per_class``,
    per-class accuracies are printed too."""

    points: float
    locate: ModelLocator
    section: str | None = None
    tolerance: float = 0.02
    per_class: tuple[str, ...] = ()
    data: HiddenSet | None = None  # as SavedModelCheck's
    fallback_transform: tuple[Transform, ...] = (TO_TENSOR,)


@dataclass(frozen=True)
class PlotCheck:
    """At least ``min_images`` drawings of the kind the question asks for (``shows``:
    curves, pictures, or any figure) in the cells under a markdown heading that matches
    ``section`` (anywhere when None). Drawings are counted by what the code draws, not by
    figure: two panels of one figure are two curves."""

    points: float
    section: str | None = None
    min_images: int = 1
    shows: Drawing = Drawing.ANY
    # a figure written with ``plt.savefig`` by a cell that ran counts too (the handout's
    # own code saves its curves to files rather than showing them)
    saved: bool = False
    # curves of a training run (losses, accuracies by epoch): a notebook in which no
    # optimizer ever stepped on gradients drew them from something else (a log typed in)
    of_training: bool = False


@dataclass(frozen=True)
class ParamCountCheck:
    """A notebook function named like ``pattern`` counts parameters correctly on models
    built inside the sandbox from ``models`` (layer name, args...)."""

    points: float
    pattern: str
    models: tuple[tuple[LayerSpec, ...], ...]
    # models the handout never shows, counted too: a function right on the handout's
    # models and wrong on these returns numbers it was given, and earns nothing
    unseen: tuple[tuple[LayerSpec, ...], ...] = ()


@dataclass(frozen=True)
class OptimizerSetting:
    """An optimizer constructed with these keyword arguments (``lr`` may be positional)."""

    name: str  # the torch.optim class, e.g. "SGD"
    kwargs: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, name: str, **kwargs: Any) -> OptimizerSetting:
        return cls(name, tuple(kwargs.items()))


@dataclass(frozen=True)
class OptimizerCheck:
    """Every setting is constructed in the notebook's code, and an optimizer so built
    took steps with gradients while the notebook ran (the kernel counts them)."""

    points: float
    settings: tuple[OptimizerSetting, ...]
    # steps that moved the network's weights before an optimizer counts as trained with:
    # one step taken for show is not training (a handout's epoch is thousands)
    min_steps: int = 1


@dataclass(frozen=True)
class PretrainedCheck:
    """The model started from pretrained weights (one of the checkpoints the grader
    holds): its convolution and linear weights, the replaced head aside, are still
    close to the checkpoint's after fine-tuning (mean cosine similarity)."""

    points: float
    locate: ModelLocator
    min_similarity: float = 0.8


@dataclass(frozen=True)
class CallsCheck:
    """Static check of the notebook's code: each function or method is called somewhere
    (``calls=("train", "eval")`` for ``model.train()`` and ``model.eval()``)."""

    points: float
    calls: tuple[str, ...]
    why: str = ""  # for feedback: "dropout and batch norm behave differently in training"
    # the calls matter only for what the question's earlier checks grade (train() and
    # eval() for dropout and batch norm): where those earned nothing, neither do they
    after_earlier: bool = False


@dataclass(frozen=True)
class TransformCheck:
    """Some dataset's transform pipeline ends with a transform of class ``last``; with
    ``permutes``, with a step that rearranges the pixels by one permutation, the same for
    every image, whatever its class is called (judged by what it does to test images)."""

    points: float
    last: str
    permutes: bool = False


ModelCheck = (ModelAccuracyCheck | ArchitectureCheck | LoaderCheck | SavedModelCheck
              | ReportedAccuracyCheck | PlotCheck | ParamCountCheck | TransformCheck
              | OptimizerCheck | CallsCheck | PretrainedCheck)
Check = (FunctionCheck | GradientCheck | StabilityCheck | NoLoops | ModelCheck | ValueCheck
         | OpCheck)
