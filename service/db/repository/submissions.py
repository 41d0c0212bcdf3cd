"""Hand-ins: stored blobs, idempotent uploads, rate counts, visibility, listing."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from service.db.models import (
    Blob,
    GradingRun,
    GroupMember,
    RunStatus,
    RunTrigger,
    Submission,
    User,
)
from service.db.repository.rows import get_or_add
from service.db.repository.runs import enqueue_run


def ensure_blob(session: Session, *, sha256: str, size: int) -> None:
    get_or_add(session, Blob(sha256=sha256, size=size), Blob, sha256)


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
