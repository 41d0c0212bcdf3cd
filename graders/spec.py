"""The vocabulary an assignment's ``spec.py`` is written in.

Everything here is declarative and made of frozen dataclasses, so that a spec is plain
data: ``reference/<id>/spec.py`` builds one ``Assignment`` named ``ASSIGNMENT`` and never
runs grading logic itself. Shapes may name dimensions ("B") that each case binds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Dim = int | str
Shape = tuple[Dim, ...]


@dataclass(frozen=True)
class Tolerance:
    """Closeness for floating-point comparisons, as in ``numpy.allclose``."""

    rtol: float = 1e-5
    atol: float = 1e-8


class Visibility(StrEnum):
    PUBLIC = "public"
    HIDDEN = "hidden"


# ---------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Normal:
    """Gaussian values of the given shape."""

    shape: Shape
    mean: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class Uniform:
    """Uniform values in [low, high)."""

    shape: Shape
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class Labels:
    """Integer class labels 0..classes-1 (as float64 when ``as_float``).

    With ``every_class`` each class appears at least once when there is room, so that a
    function ignoring one class cannot pass by the luck of the draw.
    """

    shape: Shape
    classes: int = 2
    as_float: bool = True
    every_class: bool = True


@dataclass(frozen=True)
class Fixed:
    """A literal value: a number or a (nested) list turned into a float64 array."""

    value: Any


@dataclass(frozen=True)
class Mapping:
    """A ``dict`` whose keys the handout fixes (e.g. ``W = {'w_1': ..., 'w_2': ...}``)."""

    fields: tuple[tuple[str, Generator], ...]

    @classmethod
    def of(cls, **fields: Generator) -> Mapping:
        return cls(tuple(fields.items()))


Generator = Normal | Uniform | Labels | Fixed | Mapping


@dataclass(frozen=True)
class Case:
    """One call: its arguments and the sizes bound to named dimensions."""

    args: tuple[Generator, ...]
    dims: tuple[tuple[str, int], ...] = ()
    name: str = ""

    @property
    def dim_map(self) -> dict[str, int]:
        return dict(self.dims)


def cases(args: tuple[Generator, ...], *sizes: dict[str, int]) -> tuple[Case, ...]:
    """Random cases of the same argument shapes at several sizes."""
    return tuple(Case(args=args, dims=tuple(s.items())) for s in sizes)


# --------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Value:
    """A single array or number, named for feedback ("the loss")."""

    name: str = "the result"
    # Accept (B,) where (B, 1) is expected and the other way round.
    flexible_vector: bool = True


@dataclass(frozen=True)
class Ordered:
    """A fixed-order tuple or list of values, e.g. ``predict``'s ``(z_1, z_2, y_hat)``."""

    names: tuple[str, ...]
    flexible_vector: bool = True


@dataclass(frozen=True)
class Keyed:
    """A dict with the keys the handout fixes; optionally a sequence in that key order."""

    keys: tuple[str, ...]
    accept_sequence: bool = True
    flexible_vector: bool = True


Output = Value | Ordered | Keyed


# ------------------------------------------------------------------------- diagnoses
class Mistake(StrEnum):
    """Common mistakes that a spec can diagnose and give partial credit for."""

    SUM_OVER_BATCH = "sum_over_batch"  # summed where the handout asks for an average
    TRANSPOSED = "transposed"  # every 2-D array output transposed
    SIGN_FLIP = "sign_flip"  # the negative of the expected value


@dataclass(frozen=True)
class Diagnosis:
    mistake: Mistake
    credit: float
    feedback: str
    batch_dim: str = "B"


# ---------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class FunctionCheck:
    """Call ``symbol`` on seeded inputs and compare with the reference function."""

    symbol: str
    points: float
    cases: tuple[Case, ...]
    output: Output = Value()
    tolerance: Tolerance = Tolerance()
    diagnoses: tuple[Diagnosis, ...] = ()
    reference: str | None = None  # name in solution.py; defaults to symbol
    require_finite: bool = True
    call_timeout_s: float = 10.0

    @property
    def reference_name(self) -> str:
        return self.reference or self.symbol


@dataclass(frozen=True)
class GradientCheck(FunctionCheck):
    """A function check whose reference is also verified by central finite differences.

    ``loss`` names the reference loss in solution.py, called with the same arguments;
    ``wrt`` is the index of the argument holding the parameters.
    """

    loss: str = ""
    wrt: int = 0
    fd_step: float = 1e-6
    fd_tolerance: Tolerance = Tolerance(rtol=1e-4, atol=1e-7)


@dataclass(frozen=True)
class StabilityCheck(FunctionCheck):
    """Extreme inputs: the answer must be finite and match the (stable) reference."""


@dataclass(frozen=True)
class NoLoops:
    """Static check: the function (and notebook helpers it calls) contains no loops.

    Credit is only given once the function's correctness checks in the same question
    earned full marks, so an empty stub cannot collect it.
    """

    symbol: str
    points: float


# ------------------------------------------------------------- trained-model checks
@dataclass(frozen=True)
class ModelLocator:
    """Which model answers a question: in-memory ``nn.Module`` instances (preferring these
    variable or class names), and/or a file the notebook saved (``saved``)."""

    names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    output_dim: int | None = None
    source: str = "memory"  # "memory", "saved" or "any"


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
    """Credit against the reference solution's accuracy on the same data: full within
    ``full_within`` below it, none from ``zero_within`` below it, linear between."""

    full_within: float = 0.05
    zero_within: float = 0.30


@dataclass(frozen=True)
class Linear:
    in_features: int | None = None
    out_features: int | None = None


@dataclass(frozen=True)
class Conv2d:
    in_channels: int | None = None
    out_channels: int | None = None
    kernel_size: int | None = None


LayerSpec = Linear | Conv2d


@dataclass(frozen=True)
class ModelAccuracyCheck:
    points: float
    locate: ModelLocator
    data: HiddenSet
    band: AccuracyBand = AccuracyBand()
    # used only when the notebook defines no dataset transform to borrow
    fallback_transform: tuple[tuple[Any, ...], ...] = (("ToTensor",),)


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


@dataclass(frozen=True)
class SavedModelCheck:
    """A saved model file that loads, and is as good as the model left in memory (on the
    notebook's own test set) within ``tolerance``: the "best model" really is."""

    points: float
    locate: ModelLocator = ModelLocator(source="saved")
    tolerance: float = 0.02


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


@dataclass(frozen=True)
class PlotCheck:
    """At least ``min_images`` image outputs in the cells under a markdown heading that
    matches ``section`` (anywhere when None)."""

    points: float
    section: str | None = None
    min_images: int = 1


@dataclass(frozen=True)
class ParamCountCheck:
    """A notebook function named like ``pattern`` counts parameters correctly on models
    built inside the sandbox from ``models`` (layer name, args...)."""

    points: float
    pattern: str
    models: tuple[tuple[tuple[Any, ...], ...], ...]


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
    """Static check of the notebook's code: every setting is constructed somewhere."""

    points: float
    settings: tuple[OptimizerSetting, ...]


@dataclass(frozen=True)
class TransformCheck:
    """Some dataset's transform pipeline ends with a transform of class ``last``."""

    points: float
    last: str


ModelCheck = (ModelAccuracyCheck | ArchitectureCheck | LoaderCheck | SavedModelCheck
              | ReportedAccuracyCheck | PlotCheck | ParamCountCheck | TransformCheck
              | OptimizerCheck)
Check = FunctionCheck | GradientCheck | StabilityCheck | NoLoops | ModelCheck


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    checks: tuple[Check, ...] = ()
    manual: bool = False
    visibility: Visibility = Visibility.PUBLIC
    # the notebook section (a markdown heading matching this pattern) that answers the
    # question, and that section's own time budget per cell (training, say)
    section: str | None = None
    budget_s: float | None = None

    def __post_init__(self) -> None:
        if self.manual and self.checks:
            raise ValueError(f"question {self.id}: a manual question has no checks")
        if not self.manual:
            total = sum(c.points for c in self.checks)
            if abs(total - self.points) > 1e-9:
                raise ValueError(
                    f"question {self.id}: checks add up to {total}, not {self.points}"
                )

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(
            c.symbol for c in self.checks if isinstance(c, FunctionCheck | NoLoops)))


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    questions: tuple[Question, ...]
    version: str = "1"
    cell_timeout_s: float = 60.0
    total_timeout_s: float = 600.0
    notes: tuple[str, ...] = field(default=())
    # a runnable reference notebook (a .py with # %% cells) beside spec.py: graded to
    # calibrate model accuracies and to prove the spec gives it full marks
    reference_notebook: str | None = None
    memory_bytes: int | None = None  # a larger memory budget for training notebooks

    def __post_init__(self) -> None:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError(f"assignment {self.id}: duplicate question ids")

    @property
    def autograded_points(self) -> float:
        return sum(q.points for q in self.questions if not q.manual)

    @property
    def manual_points(self) -> float:
        return sum(q.points for q in self.questions if q.manual)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for q in self.questions for s in q.symbols))

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)
