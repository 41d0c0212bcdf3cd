"""Questions and the assignment they make up."""

from __future__ import annotations

from dataclasses import dataclass, field

from graders.spec.models import Check
from graders.spec.ops import PackageOverlay
from graders.spec.values import Visibility


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
    # how a TA finds the answer when headings differ: a distinctive phrase of the
    # handout's prompt (matched fuzzily), and code patterns of the answer (anchors)
    prompt: str | None = None
    anchors: tuple[str, ...] = ()

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
        # the functions the question's checks call or read by name
        return tuple(dict.fromkeys(
            symbol for c in self.checks if (symbol := getattr(c, "symbol", None))))


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
    # what the deployment must provide: top-level names under the datasets directory
    # (torchvision layouts, e.g. "KMNIST", "cifar-10-batches-py")
    datasets: tuple[str, ...] = ()
    # torch hub checkpoints the handout downloads (``resnet34-b627a593.pth``): the
    # deployment's weights directory must hold them
    weights: tuple[str, ...] = ()
    # a course library students hand in edited files of (support/<package>/)
    overlay: PackageOverlay | None = None
    # training that wants a GPU (VGG-16, ResNet fine-tuning): runs go to the gpu queue,
    # where each worker slot owns one device; without a GPU worker they wait, visibly
    needs_gpu: bool = False

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
