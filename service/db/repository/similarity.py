"""Similarity runs: at most one live run per assignment; a run whose job stopped writing
its heartbeat counts as failed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import SimilarityRun, SimilarityStatus, User

# the job writes its heartbeat at least every few seconds; this long without one and
# it is gone (killed with the service, out of memory)
STALE_AFTER = timedelta(minutes=2)
LIVE = (SimilarityStatus.QUEUED, SimilarityStatus.RUNNING)


class SimilarityBusyError(Exception):
    """A comparison of the assignment is already under way."""


def settle_stale(session: Session, run: SimilarityRun) -> SimilarityRun:
    if run.status in LIVE and utcnow() - run.updated_at > STALE_AFTER:
        run.status = SimilarityStatus.FAILED
        run.error = "The comparison stopped without finishing (the service restarted or " \
                    "the job was killed); start it again."
        run.finished_at = utcnow()
    return run


def latest_similarity(session: Session, *, assignment_id: str) -> SimilarityRun | None:
    found = session.scalar(select(SimilarityRun)
                           .where(SimilarityRun.assignment_id == assignment_id)
                           .order_by(SimilarityRun.created_at.desc()).limit(1))
    return settle_stale(session, found) if found is not None else None


def similarity_run(session: Session, *, run_id: str) -> SimilarityRun | None:
    found = session.get(SimilarityRun, run_id)
    return settle_stale(session, found) if found is not None else None


def start_similarity(session: Session, *, assignment_id: str, user: User) -> SimilarityRun:
    latest = latest_similarity(session, assignment_id=assignment_id)
    if latest is not None and latest.status in LIVE:
        raise SimilarityBusyError(f"a comparison started at {latest.created_at:%H:%M:%S} "
                                  "UTC is still running")
    run = SimilarityRun(assignment_id=assignment_id, requested_by=user.id,
                        status=SimilarityStatus.QUEUED, pairs=[])
    session.add(run)
    session.flush()
    return run
