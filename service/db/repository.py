"""Data functions. Keyword-only, and none of them commits: the unit of work (a request
or a job) owns the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth import hash_token, new_token
from service.db.base import utcnow
from service.db.models import (
    AssignmentPolicy,
    AuditEvent,
    Blob,
    GradingRun,
    GroupMember,
    ManualGrade,
    Role,
    RunStatus,
    RunTrigger,
    StudentGroup,
    Submission,
    User,
    WorkerHeartbeat,
)

T = TypeVar("T")


# ----------------------------------------------------------------------------- users
def create_user(session: Session, *, name: str, role: Role) -> tuple[User, str]:
    token = new_token()
    user = User(name=name, role=role, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


def user_by_token(session: Session, *, token: str) -> User | None:
    return session.scalar(select(User).where(User.token_hash == hash_token(token)))


def user_by_name(session: Session, *, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


# -------------------------------------------------------------------------- policies
def get_policy(session: Session, *, assignment_id: str) -> AssignmentPolicy:
    return _get_or_add(session, AssignmentPolicy(assignment_id=assignment_id),
                       AssignmentPolicy, assignment_id)


def _get_or_add(session: Session, row: T, model: type[T], key: str) -> T:
    """The row with this primary key, inserted if absent. Concurrent requests may race
    to insert it (the same notebook uploaded twice at once): the loser reads the
    winner's row."""
    found = session.get(model, key)
    if found is None:
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            pass
        found = session.get(model, key)
        assert found is not None
    return found


# ----------------------------------------------------------------------- submissions
def ensure_blob(session: Session, *, sha256: str, size: int) -> None:
    _get_or_add(session, Blob(sha256=sha256, size=size), Blob, sha256)


def find_idempotent(session: Session, *, user_id: str, key: str) -> Submission | None:
    return session.scalar(select(Submission).where(
        Submission.user_id == user_id, Submission.idempotency_key == key))


def count_recent(session: Session, *, user_id: str, assignment_id: str,
                 since: datetime, group_id: str | None = None) -> int:
    """Submissions in the window: the group's when the student hands in with one (the
    rate limit is the group's, not each member's)."""
    owner = Submission.group_id == group_id if group_id else Submission.user_id == user_id
    return session.scalar(select(func.count()).select_from(Submission).where(
        owner, Submission.assignment_id == assignment_id,
        Submission.created_at >= since)) or 0


# ---------------------------------------------------------------------------- groups
class GroupConflictError(ValueError):
    """A student is already in another group for this assignment."""


def group_of(session: Session, *, assignment_id: str, user_id: str) -> StudentGroup | None:
    return session.scalar(select(StudentGroup).join(GroupMember).where(
        GroupMember.assignment_id == assignment_id, GroupMember.user_id == user_id))


def get_group(session: Session, *, assignment_id: str, name: str) -> StudentGroup | None:
    return session.scalar(select(StudentGroup).where(
        StudentGroup.assignment_id == assignment_id, StudentGroup.name == name))


def set_group(session: Session, *, assignment_id: str, name: str,
              members: list[User]) -> StudentGroup:
    """Create the group or replace its members. A student in another group of the same
    assignment is a conflict: they must leave it first (staff move them explicitly)."""
    group = get_group(session, assignment_id=assignment_id, name=name)
    if group is None:
        group = StudentGroup(assignment_id=assignment_id, name=name)
        session.add(group)
        session.flush()
    for user in members:
        other = group_of(session, assignment_id=assignment_id, user_id=user.id)
        if other is not None and other.id != group.id:
            raise GroupConflictError(f"{user.name} is already in group {other.name!r}")
    wanted = {u.id for u in members}
    for member in list(group.members):
        if member.user_id not in wanted:
            group.members.remove(member)
    session.flush()  # the removals first: a member may come back under the same key
    present = {m.user_id for m in group.members}
    for user in members:
        if user.id not in present:
            group.members.append(GroupMember(assignment_id=assignment_id, user_id=user.id))
    session.flush()
    return group


def list_groups(session: Session, *, assignment_id: str) -> list[StudentGroup]:
    return list(session.scalars(select(StudentGroup).where(
        StudentGroup.assignment_id == assignment_id).order_by(StudentGroup.name)).all())


def delete_group(session: Session, *, group: StudentGroup) -> None:
    """The group's past submissions stay, handed in by their submitter alone."""
    session.execute(update(Submission).where(Submission.group_id == group.id)
                    .values(group_id=None))
    session.delete(group)
    session.flush()


def owners(submission: Submission) -> list[User]:
    """Everyone a submission counts for: the group's members now, or its submitter."""
    if submission.group is not None and submission.group.members:
        return sorted((m.user for m in submission.group.members), key=lambda u: u.name)
    return [submission.user]


def can_see(session: Session, *, submission: Submission, user_id: str) -> bool:
    if submission.user_id == user_id:
        return True
    return submission.group_id is not None and session.scalar(
        select(func.count()).select_from(GroupMember).where(
            GroupMember.group_id == submission.group_id,
            GroupMember.user_id == user_id)) == 1


def create_submission(
    session: Session, *, assignment_id: str, user: User, sha256: str, filename: str,
    idempotency_key: str | None, late_days: int, group_id: str | None = None,
) -> tuple[Submission, GradingRun]:
    submission = Submission(assignment_id=assignment_id, user_id=user.id, blob_sha256=sha256,
                            filename=filename, idempotency_key=idempotency_key,
                            late_days=late_days, group_id=group_id)
    session.add(submission)
    session.flush()
    run = enqueue_run(session, submission_id=submission.id, trigger=RunTrigger.SUBMIT,
                      triggered_by=user.id)
    return submission, run


def list_submissions(
    session: Session, *, assignment_id: str | None = None, user_id: str | None = None,
    status: RunStatus | None = None, latest_only: bool = False, late: bool | None = None,
    offset: int = 0, limit: int = 50,
) -> tuple[list[Submission], int]:
    query = select(Submission)
    if assignment_id:
        query = query.where(Submission.assignment_id == assignment_id)
    if late is not None:
        query = query.where(Submission.late_days > 0 if late else Submission.late_days == 0)
    if user_id:
        # theirs, and their groups' (handed in by another member)
        groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
        query = query.where(or_(Submission.user_id == user_id,
                                Submission.group_id.in_(groups)))
    if latest_only:
        # the newest per group, or per student handing in alone
        owner = func.coalesce(Submission.group_id, Submission.user_id)
        newest = (select(owner.label("owner"), Submission.assignment_id,
                         func.max(Submission.created_at).label("at"))
                  .group_by(owner, Submission.assignment_id).subquery())
        query = query.join(newest, and_(owner == newest.c.owner,
                                        Submission.assignment_id == newest.c.assignment_id,
                                        Submission.created_at == newest.c.at))
    if status:
        last = (select(GradingRun.submission_id, func.max(GradingRun.created_at).label("at"))
                .group_by(GradingRun.submission_id).subquery())
        query = (query.join(last, last.c.submission_id == Submission.id)
                 .join(GradingRun, and_(GradingRun.submission_id == Submission.id,
                                        GradingRun.created_at == last.c.at))
                 .where(GradingRun.status == status))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Submission.created_at.desc())
                           .offset(offset).limit(limit)).all()
    return list(rows), total


# ------------------------------------------------------------------------------ runs
def enqueue_run(
    session: Session, *, submission_id: str, trigger: RunTrigger, triggered_by: str,
    batch_id: str | None = None, only_question: str | None = None, published: bool = True,
) -> GradingRun:
    run = GradingRun(submission_id=submission_id, trigger=trigger, triggered_by=triggered_by,
                     batch_id=batch_id, only_question=only_question, published=published,
                     status=RunStatus.QUEUED)
    session.add(run)
    session.flush()
    return run


def current_run(session: Session, *, submission_id: str) -> GradingRun | None:
    """The run a student sees: the newest published one, or the newest if none is."""
    runs = session.scalars(select(GradingRun).where(GradingRun.submission_id == submission_id)
                           .order_by(GradingRun.created_at.desc())).all()
    # a failed regrade never hides the grade a submission already has
    published_graded = [r for r in runs if r.published and (
        r.status == RunStatus.GRADED
        or (r.status == RunStatus.FAILED and r.trigger == RunTrigger.SUBMIT))]
    pending = [r for r in runs if r.published and r.status in
               (RunStatus.QUEUED, RunStatus.RUNNING) and r.trigger == RunTrigger.SUBMIT]
    if pending:
        return pending[0]
    if published_graded:
        return published_graded[0]
    return runs[0] if runs else None


def queue_position(session: Session, *, run: GradingRun) -> int | None:
    if run.status != RunStatus.QUEUED:
        return None
    ahead = session.scalar(select(func.count()).select_from(GradingRun).where(
        GradingRun.status == RunStatus.QUEUED, GradingRun.created_at < run.created_at)) or 0
    return ahead + 1


def queue_depth(session: Session) -> dict[str, int]:
    rows = session.execute(select(GradingRun.status, func.count()).group_by(GradingRun.status))
    return {status: count for status, count in rows}


def runs_with_status(session: Session, *, status: RunStatus, limit: int,
                     newest_first: bool = False) -> list[GradingRun]:
    """Runs in one state, oldest first (the queue's order) or newest first (failures)."""
    order = GradingRun.created_at.desc() if newest_first else GradingRun.created_at
    return list(session.scalars(select(GradingRun).where(GradingRun.status == status)
                                .order_by(order).limit(limit)).all())


def heartbeat(session: Session, *, worker_id: str, queues: tuple[str, ...],
              gpu: str | None) -> None:
    now = utcnow()
    for queue in queues:
        session.merge(WorkerHeartbeat(worker_id=worker_id, queue=queue, gpu=gpu, seen_at=now))


def live_workers(session: Session, *, within_s: float) -> dict[str, int]:
    """Workers per queue whose heartbeat is younger than ``within_s``."""
    since = utcnow() - timedelta(seconds=within_s)
    rows = session.execute(select(WorkerHeartbeat.queue, func.count())
                           .where(WorkerHeartbeat.seen_at >= since)
                           .group_by(WorkerHeartbeat.queue))
    return {queue: count for queue, count in rows}


def claim_next_run(session: Session, *, worker: str, lease_s: float) -> str | None:
    """Atomically move the oldest queued run to running under this worker's lease."""
    for _ in range(5):  # another worker may take the candidate between select and update
        candidate = session.scalar(select(GradingRun.id).where(
            GradingRun.status == RunStatus.QUEUED).order_by(GradingRun.created_at).limit(1))
        if candidate is None:
            return None
        if claim_run(session, run_id=candidate, worker=worker, lease_s=lease_s):
            return candidate
    return None


def claim_run(session: Session, *, run_id: str, worker: str, lease_s: float) -> bool:
    """Claim one particular run (a Celery task names it), if it is still queued."""
    now = utcnow()
    result = session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id, GradingRun.status == RunStatus.QUEUED)
        .values(status=RunStatus.RUNNING, lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=lease_s),
                attempts=GradingRun.attempts + 1, started_at=now))
    return result.rowcount == 1  # type: ignore[attr-defined]


def _update_if_held(session: Session, run_id: str, worker: str, **values: object) -> bool:
    """Update a running run only while ``worker`` holds its lease: the one guard that
    makes a worker that lost its lease unable to record anything."""
    result = session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id, GradingRun.lease_owner == worker,
               GradingRun.status == RunStatus.RUNNING)
        .values(**values))
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew_lease(session: Session, *, run_id: str, worker: str, lease_s: float) -> bool:
    return _update_if_held(session, run_id, worker,
                           lease_expires_at=utcnow() + timedelta(seconds=lease_s))


def finish_run(
    session: Session, *, run_id: str, worker: str, status: RunStatus, reason: str | None = None,
    report_json: str | None = None, score: float | None = None,
    notebook_sha256: str | None = None, engine_version: str | None = None,
    spec_version: str | None = None,
) -> bool:
    """Record a run's result, only if this worker still holds its lease (exactly once)."""
    return _update_if_held(
        session, run_id, worker, status=status, reason=reason, report_json=report_json,
        score=score, notebook_sha256=notebook_sha256, engine_version=engine_version,
        spec_version=spec_version, finished_at=utcnow(), lease_owner=None,
        lease_expires_at=None)


def release_for_retry(session: Session, *, run_id: str, worker: str, reason: str) -> bool:
    return _update_if_held(session, run_id, worker, status=RunStatus.QUEUED, reason=reason,
                           lease_owner=None, lease_expires_at=None)


def requeue_expired(session: Session, *, max_attempts: int) -> int:
    """Runs whose worker stopped renewing its lease: back to the queue, or failed for
    good once they have used their attempts."""
    now = utcnow()
    expired = or_(GradingRun.lease_expires_at < now, GradingRun.lease_expires_at.is_(None))
    gave_up = session.execute(
        update(GradingRun)
        .where(GradingRun.status == RunStatus.RUNNING, expired,
               GradingRun.attempts >= max_attempts)
        .values(status=RunStatus.FAILED, finished_at=now, lease_owner=None,
                lease_expiries=GradingRun.lease_expiries + 1,
                reason="grading stopped repeatedly (worker lost); staff have been told"))
    again = session.execute(
        update(GradingRun)
        .where(GradingRun.status == RunStatus.RUNNING, expired,
               GradingRun.attempts < max_attempts)
        .values(status=RunStatus.QUEUED, lease_owner=None, lease_expires_at=None,
                lease_expiries=GradingRun.lease_expiries + 1,
                reason="requeued: the worker grading it stopped"))
    return (gave_up.rowcount or 0) + (again.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------- manual, audit
def add_manual_grade(
    session: Session, *, submission_id: str, question_id: str, points: float | None,
    comment: str | None, grader: User,
) -> ManualGrade:
    grade = ManualGrade(submission_id=submission_id, question_id=question_id, points=points,
                        comment=comment, grader_id=grader.id)
    session.add(grade)
    session.flush()
    return grade


def manual_grades(session: Session, *, submission_id: str) -> dict[str, ManualGrade]:
    """The latest manual entry per question."""
    rows = session.scalars(select(ManualGrade).where(ManualGrade.submission_id == submission_id)
                           .order_by(ManualGrade.created_at, ManualGrade.id)).all()
    return {row.question_id: row for row in rows}


def audit(session: Session, *, actor: User, action: str, target: str,
          detail: dict | None = None) -> None:
    session.add(AuditEvent(actor_id=actor.id, action=action, target=target,
                           detail=detail or {}))
