"""Typed grading results and their one JSON form.

Scores are derived from their parts (a report's total is the sum of its questions),
never stored twice. ``REPORT_ADAPTER`` is the only way a report becomes JSON and back.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, computed_field

from graders.spec import Visibility


class Outcome(StrEnum):
    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    ERRORED = "errored"
    TIMED_OUT = "timed_out"
    MISSING = "missing"
    MANUAL = "manual"
    UNGRADED = "ungraded"  # the grader lacks what this question needs: not the student's fault


class ReportStatus(StrEnum):
    GRADED = "graded"
    NOT_GRADABLE = "not_gradable"


class CallStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the student's function raised
    TIMEOUT = "timeout"  # the per-call limit stopped it
    MISSING = "missing"  # the name is not defined
    NOT_CALLABLE = "not_callable"
    CRASHED = "crashed"  # the kernel died during the call
    UNSERIALIZABLE = "unserializable"  # returned something that is not numbers


class CellStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel_died"
    OUTPUT_LIMIT = "output_limit"
    SKIPPED = "skipped"  # not re-run after it killed the kernel once


class SandboxVerdict(StrEnum):
    """Why the sandbox stopped something, in words a student can act on."""

    CELL_TIMEOUT = "cell_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    OUT_OF_MEMORY = "out_of_memory"
    PROCESS_LIMIT = "process_limit"
    OUTPUT_LIMIT = "output_limit"
    KERNEL_DIED = "kernel_died"
    CALL_TIMEOUT = "call_timeout"


VERDICT_MESSAGES: dict[SandboxVerdict, str] = {
    SandboxVerdict.CELL_TIMEOUT: "a cell ran longer than the per-cell time limit and was stopped",
    SandboxVerdict.TOTAL_TIMEOUT: "the notebook ran longer than the total time limit",
    SandboxVerdict.OUT_OF_MEMORY: "the notebook used more memory than allowed and was killed",
    SandboxVerdict.PROCESS_LIMIT: "the notebook tried to start more processes or threads "
    "than allowed",
    SandboxVerdict.OUTPUT_LIMIT: "a cell printed more output than allowed; the rest was dropped",
    SandboxVerdict.KERNEL_DIED: "the Python kernel died (crash, os._exit or a signal)",
    SandboxVerdict.CALL_TIMEOUT: "a graded function did not return within its time limit",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Candidate(_Frozen):
    """One binding of a graded name seen while the notebook ran."""

    symbol: str
    index: int
    cell: int | None = None
    kind: str = "function"
    variant: str = "final"  # "as defined": helpers it uses bound as when it was defined
    signature: str | None = None
    source: str | None = None
    helpers: dict[str, str] = Field(default_factory=dict)


class ProbeRecord(_Frozen):
    """What one probe call returned, exactly as it crossed the sandbox boundary."""

    call_id: str
    symbol: str
    candidate: int
    status: CallStatus
    value: Any = None  # the wire tree (see graders.scoring.values); decoded only when scoring
    error: str | None = None
    duration_s: float = 0.0


class CellRecord(_Frozen):
    index: int
    status: CellStatus
    duration_s: float = 0.0
    error: str | None = None


class CellSummary(_Frozen):
    """What a cell showed, kept so plot and printed-accuracy checks can be re-scored."""

    index: int
    kind: str
    heading: str | None = None
    level: int = 0
    images: int = 0
    text: str = ""
    source: str = ""  # code cells: for static checks that must re-score later
    markdown: str = ""  # markdown cells: to find a question's section by its prompt


class SandboxEvent(_Frozen):
    verdict: SandboxVerdict
    detail: str = ""

    @property
    def message(self) -> str:
        base = VERDICT_MESSAGES[self.verdict]
        return f"{base} ({self.detail})" if self.detail else base


class Timings(_Frozen):
    sandbox_start_s: float = 0.0
    kernel_start_s: float = 0.0
    execute_s: float = 0.0
    probes_s: float = 0.0
    compare_s: float = 0.0
    total_s: float = 0.0


class AppliedLimits(_Frozen):
    """The time limits a run had, and whose they were ("assignment" or "deployment cap")."""

    cell_timeout_s: float
    total_timeout_s: float
    cell_source: str = "assignment"
    total_source: str = "assignment"
    # checking the answers after the cells ran: its own allowance on the same clock
    probe_phase_s: float | None = None
    probe_source: str = "assignment"
    question_s: dict[str, float] = Field(default_factory=dict)  # questions' own budgets


class RunEnvironment(_Frozen):
    """What a run's numbers depend on that the grader cannot pin: read on the host that
    started the sandbox (never reported by the kernel), so results from two workers can
    be told apart when they differ."""

    cpu_model: str = ""
    # the vector extensions that change which kernels BLAS and oneDNN choose
    cpu_flags: list[str] = Field(default_factory=list)
    threads: int = 1
    device: str = "cpu"
    libraries: dict[str, str] = Field(default_factory=dict)


class ExecutionSummary(_Frozen):
    cells: list[CellRecord] = Field(default_factory=list)
    kernel_starts: int = 0
    # the first kernel was pre-started (it had run only the grader's warm-up imports)
    warm_kernel: bool = False
    events: list[SandboxEvent] = Field(default_factory=list)
    timings: Timings = Timings()
    peak_memory_bytes: int | None = None
    sandboxed: bool = True
    warnings: list[str] = Field(default_factory=list)
    limits: AppliedLimits | None = None
    # files placed next to the notebook: name -> "course" (the assignment's support
    # files) or "submission" (the student's own, which win over the course's)
    files: dict[str, str] = Field(default_factory=dict)
    environment: RunEnvironment | None = None
    # the probe did not run as sent (see graders.evidence): kept, so a re-score of the
    # stored evidence cannot give back what the run took away
    tampered: bool = False
    missing_data: list[str] = Field(default_factory=list)  # grader data missing at run time

    @property
    def cell_errors(self) -> list[CellRecord]:
        return [c for c in self.cells if c.status is not CellStatus.OK]


class CheckResult(_Frozen):
    """One check of a question, with its own points and feedback."""

    kind: str  # the check type, e.g. "function", "architecture", "plot"
    name: str  # what it checks, for people: "predict() values", "optimizer settings"
    points: float
    max_points: float
    feedback: list[str] = Field(default_factory=list)
    # the answer key ("expected (46, 62, 20)"): students see it once results are released
    expected: list[str] = Field(default_factory=list)
    # what it measured (a model's accuracy on the hidden images), for calibration and staff
    measured: float | None = None
    # what an untrained copy of the same network reaches there: the control the measured
    # accuracy must beat (the reference's is calibrated with it)
    untrained: float | None = None
    # the same, on the other data a question lets its network be trained on, by the
    # calibration key's suffix ("@mnist-hidden", "@mnist-hidden:untrained")
    measured_elsewhere: dict[str, float] = Field(default_factory=dict)
    # not graded yet, through no fault of the student (its data or calibration is missing):
    # its points are neither earned nor lost, and the question's other checks still count
    pending: bool = False


_PENDING = (Outcome.MANUAL, Outcome.UNGRADED)


class QuestionResult(_Frozen):
    id: str
    title: str
    points: float
    max_points: float
    outcome: Outcome
    feedback: list[str] = Field(default_factory=list)
    visibility: Visibility = Visibility.PUBLIC
    candidate: int | None = None
    # the checks that make up ``points`` (empty for manual questions and old reports)
    checks: list[CheckResult] = Field(default_factory=list)

    @property
    def pending_points(self) -> float:
        """Points of this question not graded yet (by hand, or waiting for the grader's
        data): out of reach of ``points`` until then."""
        if self.outcome in _PENDING:
            return self.max_points
        return sum(c.max_points for c in self.checks if c.pending)


# The shape of the evidence a report holds (graders.evidence.EvidenceRecord): raised when
# it changes, so that an engine never misreads a report written by a newer one.
EVIDENCE_VERSION = 1


class GradeReport(_Frozen):
    assignment_id: str
    assignment_version: str
    engine_version: str
    status: ReportStatus
    reason: str | None = None
    seed: int | None = None
    submission_sha256: str | None = None
    inputs_fingerprint: str | None = None
    questions: list[QuestionResult] = Field(default_factory=list)
    execution: ExecutionSummary = ExecutionSummary()
    candidates: list[Candidate] = Field(default_factory=list)
    probes: list[ProbeRecord] = Field(default_factory=list)
    cells: list[CellSummary] = Field(default_factory=list)
    evidence_version: int = EVIDENCE_VERSION

    @computed_field  # type: ignore[prop-decorator]
    @property
    def score(self) -> float:
        return round(sum(q.points for q in self.questions if q.outcome not in _PENDING), 6)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def max_score(self) -> float:
        """What ``score`` is out of: the points graded so far."""
        return sum(q.max_points - q.pending_points for q in self.questions)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def manual_pending(self) -> float:
        return sum(q.max_points for q in self.questions if q.outcome is Outcome.MANUAL)

    @classmethod
    def not_gradable(
        cls, *, assignment_id: str, assignment_version: str, engine_version: str, reason: str
    ) -> GradeReport:
        return cls(
            assignment_id=assignment_id,
            assignment_version=assignment_version,
            engine_version=engine_version,
            status=ReportStatus.NOT_GRADABLE,
            reason=reason,
        )


REPORT_ADAPTER: TypeAdapter[GradeReport] = TypeAdapter(GradeReport)


def report_to_json(report: GradeReport, *, indent: int | None = None) -> str:
    return REPORT_ADAPTER.dump_json(report, indent=indent).decode()


def report_from_json(data: str | bytes) -> GradeReport:
    obj = json.loads(data)
    # computed totals are written for readers; they are derived again, never trusted
    for key in ("score", "max_score", "manual_pending"):
        obj.pop(key, None)
    return REPORT_ADAPTER.validate_python(obj)


_GRADESCOPE_VISIBILITY = {Visibility.PUBLIC: "visible", Visibility.HIDDEN: "after_published"}


def to_gradescope(report: GradeReport) -> dict[str, Any]:
    """The report in Gradescope's autograder ``results.json`` format."""
    tests = []
    for q in report.questions:
        entry: dict[str, Any] = {
            "name": f"{q.id} {q.title}",
            "number": q.id,
            "max_score": q.max_points,
            "output": "\n".join(q.feedback),
            "visibility": _GRADESCOPE_VISIBILITY[q.visibility],
        }
        if q.outcome is not Outcome.MANUAL:
            entry["score"] = q.points
            entry["status"] = "passed" if q.outcome is Outcome.PASSED else "failed"
        tests.append(entry)
    output = report.reason or "; ".join(e.message for e in report.execution.events)
    return {
        "score": report.score,
        "execution_time": round(report.execution.timings.total_s, 3),
        "output": output,
        "tests": tests,
    }
