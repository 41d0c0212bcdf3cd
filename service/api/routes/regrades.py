"""Regrade batches: preview the score changes (old -> new), then publish them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from service.api.deps import DB, Instructor, State, unit_of_work
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import GradingRun, RegradeBatch, RunStatus
from service.lti.passback import queue_if_released
from service.schemas import ERROR_RESPONSES, RegradeBatchOut, ScoreChange

router = APIRouter(tags=["regrades"], responses=ERROR_RESPONSES)


def describe_batch(db: DB, batch: RegradeBatch) -> RegradeBatchOut:
    runs = db.scalars(select(GradingRun).where(GradingRun.batch_id == batch.id)).all()
    changes = []
    for run in runs:
        if run.status != RunStatus.GRADED:
            continue
        previous = db.scalars(select(GradingRun).where(
            GradingRun.submission_id == run.submission_id, GradingRun.published.is_(True),
            GradingRun.status == RunStatus.GRADED, GradingRun.created_at < run.created_at,
            GradingRun.id != run.id).order_by(GradingRun.created_at.desc()).limit(1)).first()
        changes.append(ScoreChange(submission_id=run.submission_id,
                                   student=run.submission.user.name,
                                   filename=run.submission.filename,
                                   submitted_at=run.submission.created_at,
                                   old=previous.score if previous else None, new=run.score))
    pending = sum(1 for r in runs if r.status in (RunStatus.QUEUED, RunStatus.RUNNING))
    return RegradeBatchOut(id=batch.id, assignment_id=batch.assignment_id,
                           question=batch.question_id, rescore_only=batch.rescore_only,
                           published=batch.published_at is not None, runs=len(runs),
                           pending=pending, changes=changes)


def _batch(db: DB, batch_id: str) -> RegradeBatch:
    batch = db.get(RegradeBatch, batch_id)
    if batch is None:
        raise HTTPException(404, "There is no such regrade.")
    return batch


@router.get("/regrades/{batch_id}", response_model=RegradeBatchOut)
@unit_of_work
def get_batch(batch_id: str, user: Instructor, db: DB) -> RegradeBatchOut:
    return describe_batch(db, _batch(db, batch_id))


@router.post("/regrades/{batch_id}/publish", response_model=RegradeBatchOut)
@unit_of_work
def publish(batch_id: str, user: Instructor, db: DB, state: State) -> RegradeBatchOut:
    batch = _batch(db, batch_id)
    out = describe_batch(db, batch)
    if out.pending:
        raise HTTPException(409, f"{out.pending} runs of this regrade are still grading; "
                                 "publish once they are done.")
    for run in db.scalars(select(GradingRun).where(GradingRun.batch_id == batch.id)):
        if run.status == RunStatus.GRADED:
            run.published = True
    batch.published_at = utcnow()
    repo.audit(db, actor=user, action="publish_regrade", target=batch.id)
    db.flush()
    loaded = state.catalog.get(batch.assignment_id)
    if loaded is not None:
        queue_if_released(db, loaded)  # the LMS's grade columns follow the regrade
    return describe_batch(db, batch)
