"""What a check kind is: everything the trusted side does for one kind of check.

A kind names its spec class (the vocabulary ``reference/*/spec.py`` uses), how the
report labels it, what it asks the kernel to gather (a model request) or whether its
function is called on planned inputs, how a spec using it is validated at load, and its
scorer: a pure function from (check, evidence, references) to a credit with feedback.
The grading pipeline asks the registry (``graders.checks``) and never the spec class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from graders.results import Candidate, ProbeRecord
from graders.scoring.function import CheckScore, Fault, ReferenceCache
from graders.spec import HiddenSet, Question

if TYPE_CHECKING:
    from graders.inputs import PlannedCall
    from graders.scoring.models import ModelContext

C = TypeVar("C")
# the request's body, and the hidden set(s) whose images it needs written beside it
Request = tuple[dict[str, Any], HiddenSet | tuple[HiddenSet, ...] | None]


@dataclass(frozen=True)
class Evidence:
    """What one check's scorer may read for one candidate definition: the evidence the
    kernel reported, the planned inputs, the reference; nothing it could change."""

    question: Question
    index: int
    candidate: int | None
    candidates: Mapping[tuple[str, int], Candidate]
    calls: Sequence[PlannedCall]  # this check's planned calls
    records: Mapping[tuple[str, int], ProbeRecord]
    cache: ReferenceCache
    models: ModelContext | None
    request: str | None  # the id of the kernel request that answers this check
    # every earlier value check of this question was fully correct: credit for style and
    # stability is only given on top of correct results
    correct_so_far: bool = True
    # the fractions the question's earlier checks earned, in order
    earlier: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.question.id}:{self.index}"

    @property
    def record(self) -> ProbeRecord | None:
        return self.records.get((self.request, 0)) if self.request else None

    def context(self) -> ModelContext:
        from graders.errors import SpecError

        if self.models is None:
            raise SpecError("this check needs the notebook's model context")
        return self.models.for_question(self.question)


@dataclass(frozen=True)
class Planning:
    """What request bodies are built from, the same at grading and at re-scoring."""

    solution: Any
    value_names: tuple[str, ...]
    op_trials: tuple[dict[str, Any], ...]


def _no_request(check: Any, planning: Planning) -> Request | None:
    return None


def _valid(check: Any, solution: Any) -> str | None:
    return None


def _no_hidden(check: Any) -> tuple[HiddenSet, ...]:
    return ()


@dataclass(frozen=True)
class Control(Generic[C]):
    """One piece of work the kind must grade as it deserves (PrairieLearn's element
    ``test``): a check, the evidence such work leaves, and the credit it must get.

    Every kind gives at least a correct control (``credit == 1``), an incorrect one
    (work that must not earn the credit: ``credit == 0``, or the partial credit it is
    due) and an invalid one (missing, crashed, unreadable: ``fault`` says which)."""

    name: str  # what the work is, in the words of a test failure: "sigmoid net, ReLU asked"
    check: C
    evidence: Evidence
    credit: float  # the fraction the scorer must give it, exactly
    fault: Fault | None = None  # the fault it must report (an invalid answer)


def _no_controls() -> Sequence[Control[Any]]:
    return ()


@dataclass(frozen=True)
class CheckKind(Generic[C]):
    spec: type[C]
    name: str  # the check's kind in the report ("function", "architecture", ...)
    label: Callable[[C], str]
    score: Callable[[C, Evidence], CheckScore]
    request: Callable[[C, Planning], Request | None] = _no_request
    # a problem with the spec against the reference solution, found at load
    validate: Callable[[C, Any], str | None] = _valid
    # the grader-held test sets its scoring reads labels from (none: no calibration)
    hidden_sets: Callable[[C], tuple[HiddenSet, ...]] = _no_hidden
    calls: bool = False  # its function is called on inputs the host planned
    correctness: bool = False  # its credit decides whether later style credit is earned
    needs_data: bool = False  # ungraded (not failed) without the course's data
    grades_models: bool = False  # the kernel needs torch warm for it
    # work that must and must not earn the credit (a registry test fails on a kind
    # without a correct, an incorrect and an invalid control)
    controls: Callable[[], Sequence[Control[C]]] = _no_controls
    # the kernel half: the module under ``graders/kernel`` that gathers this kind's
    # evidence next to student code ("" when the host reads it from the notebook alone)
    kernel: str = ""
