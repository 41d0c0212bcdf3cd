"""Celery transport, for workers on other machines (Redis as the broker).

The database stays the source of truth: a task only carries a run id, and the worker
claims that run atomically under a lease, exactly as the local pool does, so a task
delivered twice grades once. Tasks are re-sent for runs that sit queued (a lost message,
a broker restarted without its data, a worker that died and let its lease expire),
which makes the broker an accelerator rather than a place where work can be lost.

Runs go to one of two queues by what their assignment needs: ``<prefix>.cpu`` or
``<prefix>.gpu``. A GPU worker runs one Celery process per GPU it is given (solo pool,
one task at a time), with that device alone bound into its sandboxes. The only module
that imports celery.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from functools import cache

from celery import Celery
from sqlalchemy import select

from graders import LoadedAssignment, discover
from service.config import Settings
from service.db import repository as repo
from service.db.models import GradingRun, RunStatus, Submission
from service.jobs.base import queue_kind

log = logging.getLogger("autograder.celery")
TASK = "autograder.grade_run"


def make_celery(settings: Settings) -> Celery:
    app = Celery("ml-autograder", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # a worker that dies mid-task leaves the message to others
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue("cpu"),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a restarted broker is waited for, forever
        worker_hijack_root_logger=settings.log_format != "json",
    )

    @app.task(name=TASK)
    def grade_run(run_id: str) -> str:
        from service.logs import run_context
        from service.worker import retrying, run_grading

        ctx = _context(settings)

        def claim() -> bool:
            with ctx.sessions.begin() as session:
                return repo.claim_run(session, run_id=run_id, worker=ctx.worker_id,
                                      lease_s=settings.lease_s)

        if not retrying(ctx, "claiming a run", claim):
            with run_context(run_id):
                log.info("run %s: not queued (graded already, or another worker has it)",
                         run_id)
            return "not queued"
        run_grading(run_id, ctx)
        return "graded"

    return app


@cache
def _context(settings: Settings):  # type: ignore[no-untyped-def]
    from service.worker import WorkerContext

    kind = os.environ.get("AUTOGRADER_WORKER_QUEUE", "cpu")
    ctx = WorkerContext.create(settings, warm=True, queues=(kind,))
    ctx.announce()
    return ctx


class CeleryDispatcher:
    """Sends one task per queued run, to its assignment's queue; a reaper requeues
    expired leases and re-sends for runs left queued."""

    def __init__(self, settings: Settings,
                 catalog: Mapping[str, LoadedAssignment] | None = None) -> None:
        from service.db.session import make_engine, make_sessionmaker

        self.settings = settings
        self.catalog = catalog if catalog is not None else discover(settings.reference_dir)
        self.app = make_celery(settings)
        self.sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
        self._sent: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._reap, daemon=True, name="celery-reaper")
        self._thread.start()

    def queue_of(self, assignment_id: str) -> str:
        return self.settings.queue(queue_kind(self.catalog.get(assignment_id)))

    def notify(self, run_id: str) -> None:
        with self.sessions() as session:
            assignment_id = session.scalar(
                select(Submission.assignment_id).join(GradingRun).where(GradingRun.id == run_id))
        self._send(run_id, self.queue_of(assignment_id or ""))

    def _send(self, run_id: str, queue: str) -> None:
        self._sent[run_id] = time.monotonic()
        try:
            self.app.send_task(TASK, args=[run_id], queue=queue)
        except Exception as exc:  # broker away: the reaper re-sends once it is back
            log.warning("could not send run %s to %s: %s", run_id, queue, exc)

    def _reap(self) -> None:
        while not self._stop.wait(min(5.0, self.settings.lease_s / 2,
                                      self.settings.resend_after_s / 2)):
            try:
                with self.sessions.begin() as session:
                    repo.requeue_expired(session, max_attempts=self.settings.max_attempts)
                    queued = session.execute(
                        select(GradingRun.id, Submission.assignment_id).join(Submission)
                        .where(GradingRun.status == RunStatus.QUEUED)).all()
                now = time.monotonic()
                for run_id, assignment_id in queued:
                    if now - self._sent.get(run_id, 0.0) > self.settings.resend_after_s:
                        self._send(run_id, self.queue_of(assignment_id))
            except Exception:  # the broker or database is down for a moment
                log.exception("celery reaper")

    def healthy(self) -> bool:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False

    def stop(self) -> None:
        self._stop.set()


def run_worker(settings: Settings, concurrency: int = 1, queue: str = "cpu") -> None:
    """A Celery worker process consuming one of this deployment's queues."""
    os.environ["AUTOGRADER_WORKER_QUEUE"] = queue
    pool = ["--pool=solo"] if queue == "gpu" else ["--pool=prefork",
                                                   f"--concurrency={concurrency}"]
    make_celery(settings).worker_main([
        "worker", "--loglevel=INFO", *pool, f"--queues={settings.queue(queue)}",
        f"--hostname=autograder-{queue}-{time.time_ns()}@%h",
    ])


def gpu_slot_commands(gpus: list[int]) -> list[tuple[list[str], dict[str, str]]]:
    """One solo Celery worker per GPU: the slot's device in AUTOGRADER_GPU, so every
    sandbox it starts binds that device alone and sets CUDA_VISIBLE_DEVICES to it."""
    return [([sys.executable, "-m", "service.cli", "worker", "--celery", "--queue", "gpu",
              "--slot"], {"AUTOGRADER_GPU": str(gpu), "AUTOGRADER_WORKER_QUEUE": "gpu"})
            for gpu in gpus]


def run_gpu_workers(gpus: list[int]) -> None:
    """Supervise one GPU slot per device: a slot that dies is started again (its run's
    lease expires and the run is redelivered); SIGTERM stops them all."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    commands = gpu_slot_commands(gpus)
    slots = [subprocess.Popen(argv, env={**os.environ, **env}) for argv, env in commands]
    while not stop.wait(1.0):
        for i, proc in enumerate(slots):
            if proc.poll() is not None:
                log.warning("GPU slot %s exited (%s); starting it again", gpus[i],
                            proc.returncode)
                argv, env = commands[i]
                slots[i] = subprocess.Popen(argv, env={**os.environ, **env})
    for proc in slots:
        proc.terminate()
    for proc in slots:
        proc.wait(timeout=60)
