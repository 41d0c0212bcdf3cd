"""Tables. Submissions are stored once by content hash (``Blob``); every grading run is
its own row, so history is kept and a regrade never overwrites."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db.base import Base, new_id, utcnow
from service.db.enums import (
    LatePolicy,
    Role,
    RunStatus,
    RunTrigger,
    SimilarityStatus,
    VersionStatus,
)

__all__ = ["LatePolicy", "Role", "RunStatus", "RunTrigger", "SimilarityStatus",
           "VersionStatus"]


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[Role] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AssignmentPolicy(Base):
    """Per-assignment settings staff change at run time (the spec itself is code)."""

    __tablename__ = "assignment_policies"
    assignment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    late_policy: Mapped[LatePolicy] = mapped_column(String(20), default=LatePolicy.ACCEPT)
    penalty_per_day: Mapped[float] = mapped_column(Float, default=0.0)
    max_per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_upload_bytes: Mapped[int] = mapped_column(Integer, default=20 * 1024 * 1024)
    hidden_released: Mapped[bool] = mapped_column(Boolean, default=False)
    # students may ask for a review of a graded question until then (None: no window)
    review_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # grading by question shows pseudonyms instead of names until staff reveal them
    blind_grading: Mapped[bool] = mapped_column(Boolean, default=False)
    # students see the class's best hidden-set accuracies under pseudonyms (opt-in)
    leaderboard: Mapped[bool] = mapped_column(Boolean, default=False)
    # the questions it shows, opted in one by one (None: every accuracy question)
    leaderboard_questions: Mapped[list | None] = mapped_column(JSON, nullable=True)


class Extension(Base):
    """A student's own deadline for one assignment (an extension or an accommodation),
    and whether the late policy is waived for them; who granted it and why. Every grant
    and withdrawal is also an audit event."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id", name="uq_extension"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    deadline: Mapped[datetime] = mapped_column(DateTime)
    waive_late_policy: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granter: Mapped[User] = relationship(foreign_keys=[granted_by])


class ReviewRequest(Base):
    """A student's request that staff look at one question of a graded submission again,
    and the staff's answer (with an override of the points, recorded as a manual grade).
    One per submission and question; staff may reopen it for a second round."""

    __tablename__ = "review_requests"
    __table_args__ = (UniqueConstraint("submission_id", "question_id", name="uq_review"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    question_id: Mapped[str] = mapped_column(String(50))
    student_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    override: Mapped[float | None] = mapped_column(Float, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    student: Mapped[User] = relationship(foreign_keys=[student_id])
    answerer: Mapped[User | None] = relationship(foreign_keys=[answered_by])


class SimilarityRun(Base):
    """One comparison of an assignment's latest hand-ins with each other, run in the
    background; ``pairs`` holds the most similar pairs with their matching regions."""

    __tablename__ = "similarity_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[SimilarityStatus] = mapped_column(String(20),
                                                     default=SimilarityStatus.QUEUED)
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # the job writes it while it works: a run whose heartbeat stops has died
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    compared: Mapped[int] = mapped_column(Integer, default=0)  # pairs compared in full
    pairs: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    requester: Mapped[User] = relationship()


class AssignmentVersion(Base):
    """An assignment folder staff uploaded (its zip is a blob), the sandboxed validation
    it went through, and whether it is the version that grades now. Every version is
    kept; at most one per assignment is live (none: the bundled folder, if any, is)."""

    __tablename__ = "assignment_versions"
    __table_args__ = (UniqueConstraint("assignment_id", "number", name="uq_version_number"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per assignment
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    status: Mapped[VersionStatus] = mapped_column(String(20),
                                                  default=VersionStatus.VALIDATING)
    spec_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    problems: Mapped[list] = mapped_column(JSON, default=list)
    # what validation measured: the reference's and a blank notebook's autograded points
    reference_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    blank_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    autograded_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # heartbeat
    validated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    live_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    uploader: Mapped[User] = relationship()


class StudentGroup(Base):
    """Students who hand in together for one assignment (Heidelberg's sheets): their
    submissions are the group's, seen, graded and exported under every member."""

    __tablename__ = "student_groups"
    __table_args__ = (UniqueConstraint("assignment_id", "name", name="uq_group_name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="GroupMember.user_id")


class GroupMember(Base):
    __tablename__ = "group_members"
    # one group per student and assignment
    __table_args__ = (UniqueConstraint("assignment_id", "user_id", name="uq_group_member"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("student_groups.id", ondelete="CASCADE"),
                                          index=True)
    assignment_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))

    group: Mapped[StudentGroup] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Blob(Base):
    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BlobChunk(Base):
    """The database storage backend: a blob as numbered chunks (see service.storage)."""

    __tablename__ = "blob_chunks"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class WorkerHeartbeat(Base):
    """Each grading worker's last sign of life, per queue it serves."""

    __tablename__ = "worker_heartbeats"
    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    queue: Mapped[str] = mapped_column(String(20), primary_key=True)
    gpu: Mapped[str | None] = mapped_column(String(20), nullable=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_submission_idempotency"),
        Index("ix_submissions_assignment_user", "assignment_id", "user_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    filename: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # the group the submitter belonged to when handing in (None: on their own)
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("student_groups.id", ondelete="SET NULL"), nullable=True, index=True)

    user: Mapped[User] = relationship()
    group: Mapped[StudentGroup | None] = relationship()
    runs: Mapped[list[GradingRun]] = relationship(
        back_populates="submission", order_by="GradingRun.created_at")


class RegradeBatch(Base):
    __tablename__ = "regrade_batches"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(String(100))
    question_id: Mapped[str | None] = mapped_column(String(50), nullable=True)
    rescore_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class GradingRun(Base):
    __tablename__ = "grading_runs"
    __table_args__ = (Index("ix_runs_status_created", "status", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    trigger: Mapped[RunTrigger] = mapped_column(String(20))
    triggered_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("regrade_batches.id"), nullable=True, index=True)
    only_question: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[RunStatus] = mapped_column(String(20), default=RunStatus.QUEUED)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_expiries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    engine_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    spec_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    notebook_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    submission: Mapped[Submission] = relationship(back_populates="runs")


class ManualGrade(Base):
    """Every manual score or comment is a new row: the latest counts, history stays."""

    __tablename__ = "manual_grades"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(50))
    points: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    grader_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RubricItem(Base):
    """A reusable piece of a manual question's grading: points and a comment. Applied to
    many submissions; editing it changes the score of every one it is applied to."""

    __tablename__ = "rubric_items"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    question_id: Mapped[str] = mapped_column(String(50))
    points: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RubricApplication(Base):
    __tablename__ = "rubric_applications"
    item_id: Mapped[str] = mapped_column(ForeignKey("rubric_items.id", ondelete="CASCADE"),
                                         primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), primary_key=True,
                                               index=True)
    applied_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """A sign-in that is not the user's API token: one per LTI launch, ending on its own
    (the token is shown once, to the page the launch lands on)."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship()


class LtiPlatform(Base):
    """An LMS (an LTI 1.3 platform) staff registered: whose launches are trusted and
    where its keys, login and token endpoints are."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platform"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_ids: Mapped[list] = mapped_column(JSON)
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    # the courses whose instructors and TAs are staff here ("*": every course)
    staff_contexts: Mapped[list] = mapped_column(JSON, default=list)
    # origins the LMS frames the tool's pages from, besides its issuer's and login's
    frame_origins: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LtiAccount(Base):
    """Who a platform's user (its ``sub``) is here."""

    __tablename__ = "lti_accounts"
    __table_args__ = (UniqueConstraint("platform_id", "subject", name="uq_lti_account"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)


class LtiLink(Base):
    """One item of a course in the LMS (a resource link) and the assignment it opens,
    with the course's grade and roster services as the last launch stated them."""

    __tablename__ = "lti_links"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id", "resource_link_id",
                                       name="uq_lti_link"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255))
    context_title: Mapped[str] = mapped_column(String(255), default="")
    resource_link_id: Mapped[str] = mapped_column(String(255))
    assignment_id: Mapped[str] = mapped_column(String(100), index=True)
    ags_scopes: Mapped[list] = mapped_column(JSON, default=list)
    lineitems_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    lineitem_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    memberships_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    groups_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    platform: Mapped[LtiPlatform] = relationship()


class LtiMember(Base):
    """A user in an LMS course, as a launch or the course's roster said: whose scores
    go back to the course's line items."""

    __tablename__ = "lti_members"
    __table_args__ = (UniqueConstraint("platform_id", "context_id", "user_id",
                                       name="uq_lti_member"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    context_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(String(255))  # the user's id at the platform
    learner: Mapped[bool] = mapped_column(Boolean, default=True)


class LtiScore(Base):
    """A score waiting to go back to an LMS line item (an outbox row): sent, retried
    with backoff while the platform fails, and shown to staff either way."""

    __tablename__ = "lti_scores"
    __table_args__ = (UniqueConstraint("link_id", "user_id", name="uq_lti_score"),
                      Index("ix_lti_scores_status_due", "status", "next_attempt_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_links.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(255))
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    # AGS's gradingProgress: FullyGraded, or PendingManual while staff still grade by hand
    grading_progress: Mapped[str] = mapped_column(String(20), default="FullyGraded")
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    # when the score was queued: AGS's timestamp, which an LMS requires to increase
    scored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    link: Mapped[LtiLink] = relationship()
    user: Mapped[User] = relationship()


class LtiState(Base):
    """What an LTI login leaves for its launch (its nonce, its state), kept in the
    database so any API process can finish the launch, and each nonce used once."""

    __tablename__ = "lti_state"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
