"""Whether each assignment can be graded on this deployment, and the start-up work that
makes it so: calibrations run in the background, never inside a student's job.

An assignment is ``ready``, ``calibrating`` (its submissions wait in the queue), or
``not_ready`` with a reason for staff (missing datasets or hidden sets, a reference that
failed to calibrate). Submissions to a not-ready assignment are refused with a 503.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from graders import (
    GraderError,
    LoadedAssignment,
    cached_accuracies,
    calibration_warnings,
    grader_data_problems,
    needs_calibration,
    run_calibration,
    sandbox_problem,
)
from service.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("autograder.readiness")


class Readiness(StrEnum):
    READY = "ready"
    CALIBRATING = "calibrating"
    NOT_READY = "not_ready"


class AssignmentReadiness:
    def __init__(self, settings: Settings, catalog: Mapping[str, LoadedAssignment]) -> None:
        self.settings, self.catalog = settings, catalog
        self._lock = threading.Lock()
        self._state: dict[str, tuple[Readiness, str]] = {}
        # questions a calibration leaves ungraded (a reference at chance on this data)
        self._ungraded: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        # Nothing can be graded without a sandbox: every assignment says why, once.
        problem = sandbox_problem(settings.sandbox_config())
        self.sandbox = f"the sandbox cannot start: {problem.rstrip('.')}" if problem else None
        if self.sandbox:
            log.error("%s; no submission will be accepted until it can", self.sandbox)
        # the loaded version each state is for: a version published later gets its own
        self._judged: dict[str, LoadedAssignment] = {}
        for assignment_id, loaded in catalog.items():
            self._state[assignment_id] = (Readiness.NOT_READY, self.sandbox) \
                if self.sandbox else self._initial(loaded)
            self._judged[assignment_id] = loaded

    def _adopt(self) -> None:
        """Judge the versions published since: their validation calibrated them, so one
        whose calibration is not cached here is measured by its first grading."""
        for assignment_id, loaded in self.catalog.items():
            if self._judged.get(assignment_id) is loaded:
                continue
            state = (Readiness.NOT_READY, self.sandbox) if self.sandbox else \
                self._initial(loaded, at_start=False)
            with self._lock:
                self._state[assignment_id] = state
                self._judged[assignment_id] = loaded

    def _initial(self, loaded: LoadedAssignment, *,
                 at_start: bool = True) -> tuple[Readiness, str]:
        problems = grader_data_problems(loaded, datasets_dir=self.settings.datasets_dir,
                                        hidden_dir=self.settings.hidden_dir,
                                        weights_dir=self.settings.weights_dir)
        if problems:
            return Readiness.NOT_READY, "missing grader data: " + "; ".join(problems)
        cached = cached_accuracies(loaded, config=self.settings.sandbox_config(),
                                   hidden_dir=self.settings.hidden_dir) \
            if needs_calibration(loaded) else {}
        if at_start and self.settings.calibrate_at_start and needs_calibration(loaded) \
                and not cached:
            return Readiness.CALIBRATING, "measuring the reference notebook's accuracy"
        self._note_ungraded(loaded, cached)
        # without start-up calibration the first grading measures it: ready, not waiting
        return Readiness.READY, ""

    def status(self, assignment_id: str) -> tuple[Readiness, str]:
        self._adopt()
        with self._lock:
            return self._state.get(assignment_id, (Readiness.NOT_READY, "not installed"))

    def snapshot(self) -> dict[str, dict[str, str]]:
        self._adopt()
        with self._lock:
            return {k: {"status": s.value, **({"reason": r} if r else {}),
                        **({"ungraded": self._ungraded[k]} if k in self._ungraded else {})}
                    for k, (s, r) in self._state.items()}

    def _note_ungraded(self, loaded: LoadedAssignment, measured: dict[str, float]) -> None:
        if not measured or self.settings.hidden_dir is None:
            return
        lines = calibration_warnings(loaded, measured, self.settings.hidden_dir)
        if lines:
            with self._lock:
                self._ungraded[loaded.id] = "; ".join(lines)

    def start(self) -> None:
        """Run the missing calibrations, one after another, in a background thread."""
        pending = [a for a, (s, _) in self._state.items() if s is Readiness.CALIBRATING]
        if not pending or not self.settings.calibrate_at_start:
            return
        self._thread = threading.Thread(target=self._calibrate, args=(pending,), daemon=True,
                                        name="calibration")
        self._thread.start()

    def _calibrate(self, pending: list[str]) -> None:
        for assignment_id in pending:
            try:
                measured, _ = run_calibration(
                    self.catalog[assignment_id], config=self.settings.sandbox_config(),
                    limits=self.settings.limits(), hidden_dir=self.settings.hidden_dir)
                self._note_ungraded(self.catalog[assignment_id], measured)
                result = (Readiness.READY, "")
            except GraderError as exc:
                log.error("calibration of %s failed: %s", assignment_id, exc)
                result = (Readiness.NOT_READY, f"calibration failed: {exc}")
            with self._lock:
                self._state[assignment_id] = result


def queue_overview(session: Session, settings: Settings,
                   catalog: Mapping[str, LoadedAssignment]) -> dict[str, dict[str, int]]:
    """Per queue (cpu, gpu): live workers, and runs queued, running and failed."""
    from sqlalchemy import func, select

    from service.db import repository as repo
    from service.db.models import GradingRun, Submission
    from service.jobs.base import QUEUES, queue_kind

    overview = {q: {"workers": 0, "queued": 0, "running": 0, "failed": 0} for q in QUEUES}
    for queue, count in repo.live_workers(session, within_s=settings.worker_alive_s).items():
        if queue in overview:
            overview[queue]["workers"] = count
    rows = session.execute(select(Submission.assignment_id, GradingRun.status, func.count())
                           .join(Submission).group_by(Submission.assignment_id,
                                                      GradingRun.status))
    for assignment_id, status, count in rows:
        if status in ("queued", "running", "failed"):
            overview[queue_kind(catalog.get(assignment_id))][status] += count
    return overview


def gpu_warnings(overview: dict[str, dict[str, int]],
                 catalog: Mapping[str, LoadedAssignment]) -> dict[str, str]:
    """For each assignment that needs a GPU while no worker serves the gpu queue: why
    its submissions are not moving (they wait; nothing is lost)."""
    if overview["gpu"]["workers"]:
        return {}
    return {a: "no GPU worker is alive: its submissions wait in the gpu queue until one "
               "starts (autograder worker --queue gpu --gpus 0)"
            for a, loaded in catalog.items() if loaded.spec.needs_gpu}
