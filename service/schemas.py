"""HTTP request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PlainSerializer,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from service.db.enums import LatePolicy, Role, RunStatus


def _utc(value: datetime) -> str:
    """The database stores UTC without a zone; every response says it is UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


# A timestamp in a response: timezone-aware UTC, as RFC 3339 date-time wants.
UtcTime = Annotated[datetime, PlainSerializer(_utc, return_type=str, when_used="json")]


class SubmissionAccepted(BaseModel):
    id: str
    run_id: str
    status: RunStatus
    status_url: str
    late_days: int = 0


class RunSummary(BaseModel):
    id: str
    trigger: str
    status: RunStatus
    reason: str | None
    score: float | None
    attempts: int
    created_at: UtcTime
    finished_at: UtcTime | None
    published: bool


class SubmissionStatus(BaseModel):
    id: str
    assignment_id: str
    student: str
    filename: str
    created_at: UtcTime
    late_days: int
    status: RunStatus
    reason: str | None = None
    queue_position: int | None = None
    score: float | None = None
    report: dict[str, Any] | None = None
    runs: list[RunSummary] | None = None  # staff only
    group: str | None = None  # handed in for a group: every member sees it
    members: list[str] = Field(default_factory=list)


class SubmissionPage(BaseModel):
    items: list[SubmissionStatus]
    total: int
    offset: int
    limit: int


class QuestionInfo(BaseModel):
    id: str
    title: str
    points: float
    manual: bool
    visibility: str


def _deadline_is_text(value: object) -> object:
    # pydantic would read a number as seconds since 1970: nobody means that
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("give the deadline as a date-time string, e.g. "
                         "2030-01-15T23:59:00Z")
    return value


def _deadline_in_utc(value: datetime | None) -> datetime | None:
    """Stored as UTC: a deadline with an offset is converted, one without refused (it
    would be read in an unknown time zone)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give the deadline with its time zone, e.g. "
                         "2030-01-15T23:59:00Z or 2030-01-15T23:59:00+01:00")
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # year 9999 with a negative offset is past what a date holds
        raise ValueError("give a deadline before the year 9999") from None


def _plain_text(value: object) -> object:
    """Text a person wrote: valid Unicode (it is stored and exported as UTF-8) without
    NUL (which PostgreSQL text refuses); shown as text, never as markup."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid text") from None
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    return value


class ExtensionIn(BaseModel):
    """A student's own deadline (in UTC, or with its offset) and why; ``waive_late_policy``
    accepts their uploads after it too, without a late penalty (an accommodation)."""

    deadline: datetime
    reason: str = Field(min_length=1, max_length=500)
    waive_late_policy: bool = False

    _deadline_text = field_validator("deadline", mode="before")(_deadline_is_text)
    _deadline_utc = field_validator("deadline")(_deadline_in_utc)

    _reason = field_validator("reason", mode="before")(_plain_text)

    @field_validator("waive_late_policy", mode="before")
    @classmethod
    def _boolean(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value


class ExtensionOut(BaseModel):
    assignment_id: str
    student: str
    deadline: UtcTime
    waive_late_policy: bool
    reason: str
    granted_by: str
    granted_at: UtcTime


class AssignmentInfo(BaseModel):
    id: str
    title: str
    version: str
    autograded_points: float
    manual_points: float
    deadline: UtcTime | None = None
    late_policy: LatePolicy = LatePolicy.ACCEPT
    penalty_per_day: float = 0.0
    max_per_hour: int | None = None
    max_upload_bytes: int = 0
    cell_timeout_s: float = 0
    total_timeout_s: float = 0
    hidden_released: bool = False
    review_until: UtcTime | None = None  # review requests are taken until then
    blind_grading: bool = False  # grading by question shows pseudonyms
    leaderboard: bool = False  # students see the class's best accuracies, pseudonymous
    # the questions on it (None: every question graded on hidden-set accuracy)
    leaderboard_questions: list[str] | None = None
    questions: list[QuestionInfo] = Field(default_factory=list)
    # the caller's own extension, if staff granted one (students see only their own)
    my_extension: ExtensionOut | None = None


def _json_number(value: object) -> object:
    """JSON numbers only: pydantic's lax mode would read ``"5"`` and ``true`` as numbers,
    which the schema says are not; ``5.0`` stays an integer, as in JSON Schema."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a number, not a string or a boolean")
    return value


class PolicyUpdate(BaseModel):
    """Only the fields sent change; ``deadline`` and ``max_per_hour`` may be cleared
    with null, the others cannot be null."""

    deadline: datetime | None = None
    # SkipJsonSchema: optional (absent = unchanged) but never null, in the schema too
    late_policy: LatePolicy | SkipJsonSchema[None] = None
    penalty_per_day: Annotated[float, Field(ge=0, le=1)] | SkipJsonSchema[None] = None
    max_per_hour: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    max_upload_bytes: (Annotated[int, Field(ge=1024, le=512 * 1024 * 1024)]
                       | SkipJsonSchema[None]) = None
    review_until: datetime | None = None
    blind_grading: bool | SkipJsonSchema[None] = None
    leaderboard: bool | SkipJsonSchema[None] = None
    # null: every accuracy question; a list: only these (ids of autograded questions)
    leaderboard_questions: Annotated[list[Annotated[str, Field(max_length=50)]],
                                     Field(max_length=200)] | None = None

    @field_validator("late_policy", "penalty_per_day", "max_upload_bytes", "blind_grading",
                     "leaderboard", mode="before")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value

    _numbers = field_validator("penalty_per_day", "max_per_hour", "max_upload_bytes",
                               mode="before")(_json_number)

    @field_validator("blind_grading", "leaderboard", mode="before")
    @classmethod
    def _boolean(cls, value: object) -> object:
        if value is not None and not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    _deadline_text = field_validator("deadline", "review_until", mode="before")(
        _deadline_is_text)
    _deadline_utc = field_validator("deadline", "review_until")(_deadline_in_utc)


class ManualGradeIn(BaseModel):
    points: Annotated[float, Field(ge=0)] | None = None

    _numbers = field_validator("points", mode="before")(_json_number)
    comment: str | None = Field(default=None, max_length=10_000)


class RegradeRequest(BaseModel):
    question: str | None = None
    rescore_only: StrictBool = False


class ScoreChange(BaseModel):
    submission_id: str
    student: str
    filename: str = ""
    submitted_at: datetime | None = None  # a student's submissions told apart
    old: float | None
    new: float | None


class RegradeBatchOut(BaseModel):
    id: str
    assignment_id: str
    question: str | None
    rescore_only: bool
    published: bool
    runs: int
    pending: int
    changes: list[ScoreChange]
    errors: list[str] = Field(default_factory=list)


class QuestionStats(BaseModel):
    id: str
    title: str
    max_points: float
    count: int
    mean: float | None
    median: float | None
    histogram: list[int]  # ten equal bins over [0, max_points]
    frequent_feedback: list[tuple[str, int]]


class AssignmentStats(BaseModel):
    assignment_id: str
    submissions: int
    students: int
    questions: list[QuestionStats]


class GroupIn(BaseModel):
    members: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20)


class GroupOut(BaseModel):
    assignment_id: str
    name: str
    members: list[str]


def account_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an account (it is shown in pages and exports)."""
    if not 1 <= len(name) <= 200:
        return "a name must have 1 to 200 characters"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "a name must be valid text"
    if not name.isprintable():
        return "a name must not contain control characters"
    return None


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = account_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class UserCreated(BaseModel):
    id: str
    name: str
    role: Role
    token: str


class Me(BaseModel):
    """Who the token belongs to: the dashboard picks the home page by role."""

    id: str
    name: str
    role: Role


class QueuedRun(BaseModel):
    run_id: str
    submission_id: str
    assignment_id: str
    student: str
    trigger: str
    status: RunStatus
    position: int | None = None
    worker: str | None = None
    attempts: int = 0
    reason: str | None = None
    created_at: UtcTime
    started_at: UtcTime | None = None
    finished_at: UtcTime | None = None


class QueueStatus(BaseModel):
    """What the graders are doing now, for staff: counts by status, the runs waiting and
    running, and the latest failures with their reason."""

    counts: dict[str, int]
    workers_healthy: bool
    queues: dict[str, dict[str, int]]  # cpu/gpu: workers alive, queued, running, failed
    assignments: dict[str, dict[str, str]]
    queued: list[QueuedRun]
    running: list[QueuedRun]
    failed: list[QueuedRun]


class ErrorBody(BaseModel):
    """Every error the API sends: one sentence a student or staff member can act on."""

    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in (
        (400, "the request cannot be served as sent"),
        (401, "no valid API token"),
        (403, "not allowed for this account, or past the deadline"),
        (404, "no such resource visible to this account"),
        (409, "conflicts with the current state"),
        (413, "the upload is larger than the assignment allows"),
        (415, "not a notebook, Python file or zip"),
        (422, "a field or the upload is not valid (the message names it)"),
        (429, "too many submissions in the last hour"),
        (503, "the assignment cannot be graded here right now"),
    )
}


class ReviewIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)

    _comment = field_validator("comment", mode="before")(_plain_text)


class ReviewAnswer(BaseModel):
    """Staff's answer; ``override`` sets the question's points (a manual grade the report
    and exports show as staff's)."""

    answer: str = Field(min_length=1, max_length=2000)
    override: Annotated[float, Field(ge=0)] | None = None

    _answer = field_validator("answer", mode="before")(_plain_text)
    _override = field_validator("override", mode="before")(_json_number)


class ReviewOut(BaseModel):
    id: str
    submission_id: str
    assignment_id: str
    question_id: str
    student: str
    comment: str
    status: Literal["open", "answered", "reopened"]
    created_at: UtcTime
    answer: str | None = None
    override: float | None = None
    answered_by: str | None = None
    answered_at: UtcTime | None = None


class LeaderboardEntry(BaseModel):
    rank: int
    name: str  # a pseudonym, or "you"
    accuracy: float
    you: bool = False


class LeaderboardQuestion(BaseModel):
    question_id: str
    title: str
    entries: list[LeaderboardEntry]
    shown: bool = True  # on the students' board (staff also see the ones opted out)


class Leaderboard(BaseModel):
    assignment_id: str
    enabled: bool
    questions: list[LeaderboardQuestion]


class SimilarHandIn(BaseModel):
    submission_id: str
    who: str  # the student, or "group <name>"
    filename: str
    similarity: float  # the share of this hand-in's compared code found in the other


class SimilarityPair(BaseModel):
    rank: int
    a: SimilarHandIn
    b: SimilarHandIn
    overlap: int  # normalised characters of code the two share


class SimilarityRunOut(BaseModel):
    id: str
    assignment_id: str
    status: Literal["queued", "running", "done", "failed"]
    requested_by: str
    created_at: UtcTime
    finished_at: UtcTime | None = None
    submissions: int  # hand-ins compared (each student's or group's latest)
    compared: int  # pairs that shared code and were compared in full
    error: str | None = None
    pairs: list[SimilarityPair] = []


class SimilarSide(SimilarHandIn):
    code: str
    # 1-based, inclusive line ranges of ``code`` that the other hand-in also has
    lines: list[tuple[int, int]]


class SimilarityPairDetail(BaseModel):
    run_id: str
    rank: int
    overlap: int
    a: SimilarSide
    b: SimilarSide


class AssignmentVersionOut(BaseModel):
    """A version of an assignment: the bundled folder (``number`` 0) or an upload."""

    assignment_id: str
    number: int
    status: Literal["validating", "live", "rejected", "available"]
    spec_version: str | None = None
    title: str | None = None
    # why it may not go live, each a sentence staff can act on
    problems: list[str] = []
    reference_points: float | None = None  # the reference notebook, graded in the sandbox
    blank_points: float | None = None  # a notebook with no answers (must be 0)
    autograded_points: float | None = None
    uploaded_by: str | None = None
    created_at: UtcTime | None = None
    validated_at: UtcTime | None = None
    live_since: UtcTime | None = None
