"""Celery transport, for workers on other machines (Redis as the broker).

The database stays the source of truth: a task only carries a run id, and the worker
claims that run atomically under a lease, exactly as the local pool does, so a task
delivered twice grades once. Tasks are re-sent for runs that sit queued (a lost message,
a worker that died and let its lease expire), which makes the broker an accelerator
rather than a place where work can be lost. The only module that imports celery.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

from celery import Celery

from service.config import Settings
from service.db import repository as repo
from service.db.models import GradingRun, RunStatus

log = logging.getLogger("autograder.celery")
TASK = "autograder.grade_run"
RESEND_AFTER_S = 30.0


def make_celery(settings: Settings) -> Celery:
    app = Celery("ml-autograder", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # a worker that dies mid-task leaves the message to others
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue("cpu"),
        broker_connection_retry_on_startup=True,
    )

    @app.task(name=TASK)
    def grade_run(run_id: str) -> str:
        from service.worker import run_grading

        ctx = _context(settings)
        with ctx.sessions.begin() as session:
            claimed = repo.claim_run(session, run_id=run_id, worker=ctx.worker_id,
                                     lease_s=settings.lease_s)
        if not claimed:
            return "not queued"  # graded already, or another worker has it
        run_grading(run_id, ctx)
        return "graded"

    return app


@cache
def _context(settings: Settings):  # type: ignore[no-untyped-def]
    from service.worker import WorkerContext

    return WorkerContext.create(settings, warm=True)


class CeleryDispatcher:
    """Sends one task per queued run; a reaper re-sends for runs left queued."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = make_celery(settings)
        self._sent: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._reap, daemon=True)
        self._thread.start()

    def notify(self, run_id: str) -> None:
        self._sent[run_id] = time.monotonic()
        self.app.send_task(TASK, args=[run_id], queue=self.settings.queue("cpu"))

    def _reap(self) -> None:
        from sqlalchemy import select

        from service.worker import WorkerContext

        ctx = WorkerContext.create(self.settings, worker_id="celery-reaper")
        while not self._stop.wait(min(5.0, self.settings.lease_s / 2)):
            try:
                with ctx.sessions.begin() as session:
                    repo.requeue_expired(session, max_attempts=self.settings.max_attempts)
                    queued = session.scalars(select(GradingRun.id).where(
                        GradingRun.status == RunStatus.QUEUED)).all()
                now = time.monotonic()
                for run_id in queued:
                    if now - self._sent.get(run_id, 0.0) > RESEND_AFTER_S:
                        self.notify(run_id)
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


def run_worker(settings: Settings, concurrency: int = 1) -> None:
    """A Celery worker process consuming this deployment's cpu queue."""
    make_celery(settings).worker_main([
        "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
        f"--queues={settings.queue('cpu')}", "--pool=prefork",
        f"--hostname=autograder-{time.time_ns()}@%h",
    ])
