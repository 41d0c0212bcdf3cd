"""Liveness, readiness and Prometheus metrics (derived from the database, which every
worker process writes to, so the numbers cover all of them)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select, text

from service.api.deps import DB, State, unit_of_work
from service.db import repository as repo
from service.db.models import GradingRun, RunStatus, Submission
from service.jobs.base import QUEUES, queue_kind
from service.readiness import gpu_warnings, queue_overview

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
    if state.readiness.sandbox:
        raise HTTPException(503, state.readiness.sandbox)
    if not state.dispatcher.healthy():
        raise HTTPException(503, "no grading worker is running")
    # The service is ready; each assignment says whether it can be graded here, and a
    # GPU assignment with no GPU worker alive says so (its runs wait, visibly).
    overview = queue_overview(db, state.settings, state.catalog)
    assignments = state.readiness.snapshot()
    for assignment_id, warning in gpu_warnings(overview, state.catalog).items():
        assignments[assignment_id] = {**assignments.get(assignment_id, {}),
                                      "warning": warning}
    for assignment_id, loaded in state.catalog.items():
        assignments.setdefault(assignment_id, {})["queue"] = queue_kind(loaded)
    return {"status": "ready", "database": "ok", "queue": "ok", "queues": overview,
            "assignments": assignments}


@router.get("/metrics", response_class=PlainTextResponse)
@unit_of_work
def metrics(db: DB, state: State) -> str:
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
    overview = queue_overview(db, state.settings, state.catalog)
    for name, help_text, key in (
            ("autograder_queue_runs_queued", "Runs waiting, per queue.", "queued"),
            ("autograder_queue_runs_running", "Runs being graded, per queue.", "running"),
            ("autograder_queue_runs_failed", "Runs that failed, per queue.", "failed"),
            ("autograder_queue_workers", "Workers alive (heartbeat), per queue.", "workers")):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f'{name}{{queue="{q}"}} {overview[q][key]}' for q in QUEUES]
    expiries = db.scalar(select(func.coalesce(func.sum(GradingRun.lease_expiries), 0))) or 0
    lines += ["# HELP autograder_lease_expiries_total Runs taken back from a worker that "
              "stopped renewing its lease.",
              "# TYPE autograder_lease_expiries_total counter",
              f"autograder_lease_expiries_total {expiries}"]
    rows = db.execute(select(Submission.assignment_id, GradingRun.started_at,
                             GradingRun.finished_at).join(Submission).where(
        GradingRun.status.in_([RunStatus.GRADED, RunStatus.FAILED]),
        GradingRun.started_at.is_not(None), GradingRun.finished_at.is_not(None))).all()
    per_queue: dict[str, list[float]] = {q: [] for q in QUEUES}
    for assignment_id, s, f in rows:
        if s is not None and f is not None:
            per_queue[queue_kind(state.catalog.get(assignment_id))].append(
                (f - s).total_seconds())
    durations = [d for ds in per_queue.values() for d in ds]
    lines += ["# HELP autograder_grading_seconds Time from claim to result.",
              "# TYPE autograder_grading_seconds histogram"]
    lines += _histogram("autograder_grading_seconds", durations, "")
    lines += ["# HELP autograder_queue_grading_seconds Time from claim to result, per queue.",
              "# TYPE autograder_queue_grading_seconds histogram"]
    for q in QUEUES:
        lines += _histogram("autograder_queue_grading_seconds", per_queue[q], f'queue="{q}",')
    scores = db.execute(select(func.count()).select_from(GradingRun).where(
        GradingRun.status == RunStatus.GRADED, GradingRun.score.is_not(None))).scalar() or 0
    lines += ["# HELP autograder_graded_total Runs with a score.",
              "# TYPE autograder_graded_total counter", f"autograder_graded_total {scores}"]
    return "\n".join(lines) + "\n"


def _histogram(name: str, values: list[float], labels: str) -> list[str]:
    lines = [f'{name}_bucket{{{labels}le="{bound}"}} {sum(1 for v in values if v <= bound)}'
             for bound in BUCKETS]
    lines.append(f'{name}_bucket{{{labels}le="+Inf"}} {len(values)}')
    plain = f"{{{labels.rstrip(',')}}}" if labels else ""
    lines.append(f"{name}_sum{plain} {sum(values):.3f}")
    lines.append(f"{name}_count{plain} {len(values)}")
    return lines
