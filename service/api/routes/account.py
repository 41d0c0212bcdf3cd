"""The caller's own account and, for staff, what the graders are doing now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPAuthorizationCredentials

from service.api.deps import BEARER, DB, CurrentUser, Instructor, State, unit_of_work
from service.db import repository as repo
from service.db.models import GradingRun, RunStatus
from service.readiness import gpu_warnings, queue_overview
from service.schemas import ERROR_RESPONSES, Me, QueuedRun, QueueStatus

router = APIRouter(tags=["account"], responses=ERROR_RESPONSES)


@router.get("/me", response_model=Me)
def whoami(user: CurrentUser) -> Me:
    return Me(id=user.id, name=user.name, role=user.role)


@router.post("/me/sign-out", status_code=204)
@unit_of_work
def sign_out(user: CurrentUser, db: DB,
             credentials: Annotated[HTTPAuthorizationCredentials | None,
                                    Depends(BEARER)] = None) -> None:
    """End the session this token is (one an LMS launch started); an API token is not a
    session and stays valid (staff revoke it)."""
    if credentials is not None:
        repo.end_session(db, token=credentials.credentials.strip())


def _queued_run(run: GradingRun, position: int | None = None) -> QueuedRun:
    return QueuedRun(
        run_id=run.id, submission_id=run.submission_id,
        assignment_id=run.submission.assignment_id, student=run.submission.user.name,
        trigger=run.trigger, status=run.status, position=position, worker=run.lease_owner,
        attempts=run.attempts, reason=run.reason, created_at=run.created_at,
        started_at=run.started_at, finished_at=run.finished_at)


@router.get("/queue", response_model=QueueStatus)
@unit_of_work
def queue_status(user: Instructor, db: DB, state: State,
                 limit: Annotated[int, Query(ge=1, le=200)] = 20) -> QueueStatus:
    depth = repo.queue_depth(db)
    queued = repo.runs_with_status(db, status=RunStatus.QUEUED, limit=limit)
    running = repo.runs_with_status(db, status=RunStatus.RUNNING, limit=limit)
    failed = repo.runs_with_status(db, status=RunStatus.FAILED, limit=limit,
                                   newest_first=True)
    overview = queue_overview(db, state.settings, state.catalog)
    assignments = state.readiness.snapshot()
    for assignment_id, warning in gpu_warnings(overview, state.catalog).items():
        assignments[assignment_id] = {**assignments.get(assignment_id, {}), "warning": warning}
    return QueueStatus(
        counts={status.value: depth.get(status, 0) for status in RunStatus},
        workers_healthy=state.dispatcher.healthy(),
        queues=overview,
        assignments=assignments,
        queued=[_queued_run(run, i + 1) for i, run in enumerate(queued)],
        running=[_queued_run(run) for run in running],
        failed=[_queued_run(run) for run in failed])
