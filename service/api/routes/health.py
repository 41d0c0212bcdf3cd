"""Liveness, readiness and Prometheus metrics (derived from the database, which every
worker process writes to, so the numbers cover all of them)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select, text

from service.api.deps import DB, State, unit_of_work
from service.db import repository as repo
from service.db.models import GradingRun, RunStatus

router = APIRouter(tags=["health"])
BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
@unit_of_work
def readyz(db: DB, state: State) -> dict[str, object]:
    try:
        db.execute(text("SELECT 1"))
    except Exception as exc:
        raise HTTPException(503, f"database unreachable: {exc}") from None
    if not state.dispatcher.healthy():
        raise HTTPException(503, "no grading worker is running")
    # The service is ready; each assignment says whether it can be graded here.
    return {"status": "ready", "database": "ok", "queue": "ok",
            "assignments": state.readiness.snapshot()}


@router.get("/metrics", response_class=PlainTextResponse)
@unit_of_work
def metrics(db: DB) -> str:
    depth = repo.queue_depth(db)
    lines = [
        "# HELP autograder_runs Grading runs by status.",
        "# TYPE autograder_runs gauge",
    ]
    for status in RunStatus:
        lines.append(f'autograder_runs{{status="{status.value}"}} {depth.get(status, 0)}')
    lines += ["# HELP autograder_queue_depth Runs waiting for a worker.",
              "# TYPE autograder_queue_depth gauge",
              f"autograder_queue_depth {depth.get(RunStatus.QUEUED, 0)}"]
    rows = db.execute(select(GradingRun.started_at, GradingRun.finished_at).where(
        GradingRun.status.in_([RunStatus.GRADED, RunStatus.FAILED]),
        GradingRun.started_at.is_not(None), GradingRun.finished_at.is_not(None))).all()
    durations = [(f - s).total_seconds() for s, f in rows if s is not None and f is not None]
    lines += ["# HELP autograder_grading_seconds Time from claim to result.",
              "# TYPE autograder_grading_seconds histogram"]
    for bound in BUCKETS:
        count = sum(1 for d in durations if d <= bound)
        lines.append(f'autograder_grading_seconds_bucket{{le="{bound}"}} {count}')
    lines.append(f'autograder_grading_seconds_bucket{{le="+Inf"}} {len(durations)}')
    lines.append(f"autograder_grading_seconds_sum {sum(durations):.3f}")
    lines.append(f"autograder_grading_seconds_count {len(durations)}")
    scores = db.execute(select(func.count()).select_from(GradingRun).where(
        GradingRun.status == RunStatus.GRADED, GradingRun.score.is_not(None))).scalar() or 0
    lines += ["# HELP autograder_graded_total Runs with a score.",
              "# TYPE autograder_graded_total counter", f"autograder_graded_total {scores}"]
    return "\n".join(lines) + "\n"
