"""Grading runs as a queue: enqueue, claim with a lease, renew, finish, requeue; and
workers' heartbeats."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import (
    GradingRun,
    RunStatus,
    RunTrigger,
    WorkerHeartbeat,
)


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


# a rescore re-reads stored evidence and runs nothing: never queue work
_GRADING = GradingRun.trigger != RunTrigger.RESCORE


def queue_depth(session: Session) -> dict[str, int]:
    """Runs by status: gradings only (a rescore re-reads stored evidence, runs nothing and
    never waits in the queue, so it is not counted as queue work)."""
    rows = session.execute(select(GradingRun.status, func.count())
                           .where(_GRADING).group_by(GradingRun.status))
    return {status: count for status, count in rows}


def queued_gradings(session: Session) -> int:
    """Gradings waiting for a worker (a worker's warm pool grows while any do)."""
    return session.scalar(select(func.count()).select_from(GradingRun).where(
        GradingRun.status == RunStatus.QUEUED, _GRADING)) or 0


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
