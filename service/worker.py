"""run_grading(run_id): the one function every dispatcher calls; and the worker loop.

A student's crash, timeout or wrong answer is a graded result. Only infrastructure
faults (``GraderError`` and the unexpected) are retried, a bounded number of times; a
run whose worker dies is requeued when its lease expires, and a worker that lost its
lease cannot record a result, so every run is graded exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import nbformat
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from graders import (
    ENGINE_VERSION,
    Grader,
    InfrastructureError,
    KernelPool,
    ReportStatus,
    SandboxExecutor,
    discover,
    kernel_profiles,
    report_from_json,
    report_to_json,
    sandbox_problem,
    sweep_leftovers,
)
from service.catalog import LiveCatalog
from service.config import Settings
from service.db import repository as repo
from service.db.models import GradingRun, RunStatus
from service.db.session import make_engine, make_sessionmaker
from service.jobs.base import queue_kind
from service.logs import configure_logging, run_context
from service.storage import BlobStore, make_store

log = logging.getLogger("autograder.worker")
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    sessions: sessionmaker[Session]
    store: BlobStore
    catalog: LiveCatalog
    worker_id: str
    pool: KernelPool | None = None  # warm kernels, when the settings ask for them
    queues: tuple[str, ...] = ("cpu",)
    _presence: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings, worker_id: str | None = None, *,
               warm: bool = False, queues: tuple[str, ...] = ("cpu",)) -> WorkerContext:
        engine = make_engine(settings.resolved_database_url)
        sessions = make_sessionmaker(engine)
        store = make_store(settings, sessions)
        catalog = LiveCatalog(discover(settings.reference_dir), sessions=sessions,
                              store=store, root=settings.assignments_dir)
        problem = sandbox_problem(settings.sandbox_config()) if warm else None
        if problem:
            # no warm kernels to fail over and over: the service refuses submissions
            # and /readyz names the problem
            log.warning("no warm kernels: %s", problem)
        pool = settings.kernel_pool() if warm and not problem else None
        if pool is not None:
            for assignment in catalog.values():
                if queue_kind(assignment) in queues:
                    pool.prefill(kernel_profiles(assignment, settings.limits()))
        return cls(
            settings=settings,
            sessions=sessions,
            store=store,
            catalog=catalog,
            worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}",
            pool=pool,
            queues=queues,
        )

    def announce(self) -> None:
        """Tell the service, through the database, which queues this worker serves."""
        presence = _Presence(self)
        presence.start()
        self._presence.append(presence)

    def close(self) -> None:
        for presence in self._presence:
            presence.stopped.set()  # type: ignore[attr-defined]
        if self.pool is not None:
            self.pool.close()


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError))


def retrying(ctx: WorkerContext, what: str, write: Callable[[], T]) -> T:
    """A database write retried while the database is unreachable (restarting, failing
    over), for up to ``db_retry_s``: a result already computed is not thrown away."""

    def told(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("database unavailable while %s; retrying in %.1f s: %s", what,
                    state.upcoming_sleep, str(error).splitlines()[0][:200])

    retry = Retrying(retry=retry_if_exception(_transient),
                     stop=stop_after_delay(ctx.settings.db_retry_s),
                     wait=wait_exponential(multiplier=0.5, max=2.0),
                     before_sleep=told, reraise=True)
    return retry(write)


class _Presence(threading.Thread):
    """A heartbeat row per queue, so /readyz can say whether a GPU worker is alive."""

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(daemon=True, name="presence")
        self.ctx = ctx
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(0.5, self.ctx.settings.worker_alive_s / 3)
        gpu = None if self.ctx.settings.gpu is None else str(self.ctx.settings.gpu)
        reaped = -math.inf  # a worker replacing a killed one sweeps what that one left
        while True:
            if time.monotonic() - reaped >= self.ctx.settings.reap_interval_s:
                reaped = time.monotonic()
                _reap(self.ctx)
            try:
                with self.ctx.sessions.begin() as session:
                    repo.heartbeat(session, worker_id=self.ctx.worker_id,
                                   queues=self.ctx.queues, gpu=gpu)
            except Exception as exc:  # the database is away: try again next beat
                log.warning("worker heartbeat failed: %s", str(exc).splitlines()[0][:200])
            if self.stopped.wait(interval):
                break


def _reap(ctx: WorkerContext) -> None:
    """What a killed grader on this host left (job folders, staging folders, empty
    cgroups), removed while the service runs rather than at its next start: another
    worker of the same host may have been SIGKILLed."""
    try:
        removed = sweep_leftovers(ctx.settings.sandbox_config())
    except OSError as exc:
        log.warning("could not sweep leftovers: %s", exc)
        return
    if removed:
        log.info("swept %d leftovers of graders that are gone", removed)


class _Heartbeat(threading.Thread):
    def __init__(self, ctx: WorkerContext, run_id: str) -> None:
        super().__init__(daemon=True)
        self.ctx, self.run_id = ctx, run_id
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(0.2, self.ctx.settings.lease_s / 3)
        while not self.stopped.wait(interval):
            try:
                with self.ctx.sessions.begin() as session:
                    repo.renew_lease(session, run_id=self.run_id, worker=self.ctx.worker_id,
                                     lease_s=self.ctx.settings.lease_s)
            except Exception as exc:  # a database restart: keep grading, renew next beat
                log.warning("lease renewal of %s failed: %s", self.run_id,
                            str(exc).splitlines()[0][:200])


def _merge_question(new_json: str, previous: GradingRun | None, question: str) -> str:
    """A one-question regrade changes that question only."""
    if previous is None or previous.report_json is None:
        return new_json
    new = report_from_json(new_json)
    old = report_from_json(previous.report_json)
    replacement = {q.id: q for q in new.questions}
    questions = [replacement[q.id] if q.id == question and q.id in replacement else q
                 for q in old.questions]
    return report_to_json(old.model_copy(update={"questions": questions}))


def run_grading(run_id: str, ctx: WorkerContext) -> None:
    """Grade one claimed run and record the outcome (the caller holds the lease)."""
    with run_context(run_id):
        started = time.monotonic()
        log.info("grading run %s", run_id, extra={"worker": ctx.worker_id})
        _run_grading(run_id, ctx)
        log.info("run %s done in %.1f s", run_id, time.monotonic() - started,
                 extra={"worker": ctx.worker_id,
                        "duration_s": round(time.monotonic() - started, 3)})


def _run_grading(run_id: str, ctx: WorkerContext) -> None:
    with ctx.sessions.begin() as session:
        run = session.get(GradingRun, run_id)
        assert run is not None
        submission = run.submission
        # read from storage verified against its name: that hash is the one grading uses
        data, sha256 = ctx.store.get(submission.blob_sha256), submission.blob_sha256
        filename, assignment_id = submission.filename, submission.assignment_id
        only_question, attempts = run.only_question, run.attempts
        previous = repo.current_run(session, submission_id=submission.id) \
            if only_question else None
        if previous is not None and previous.id == run_id:
            previous = None
    # the version live now, asked of the database (one query): a catalog looks only every
    # 2 s, and a hand-in right after staff made a correction live was graded by the
    # version before it
    assignment = ctx.catalog.find(assignment_id)
    if assignment is None:
        def fail() -> None:
            with ctx.sessions.begin() as session:
                repo.finish_run(session, run_id=run_id, worker=ctx.worker_id,
                                status=RunStatus.FAILED,
                                reason=f"the assignment {assignment_id!r} is no longer installed")
        retrying(ctx, "recording a failure", fail)
        return
    heartbeat = _Heartbeat(ctx, run_id)
    heartbeat.start()
    try:
        config, limits = ctx.settings.sandbox_config(), ctx.settings.limits()
        # Measured by the service at start-up; a run that arrives first waits for it.
        grader = Grader.calibrated(assignment, config=config, limits=limits,
                                   hidden_dir=ctx.settings.hidden_dir,
                                   executor=SandboxExecutor(config, ctx.pool))
        graded = grader.grade(data, filename, sha256=sha256)
    except Exception as exc:  # infrastructure: retry a bounded number of times
        heartbeat.stopped.set()
        log.exception("grading run %s failed (attempt %s)", run_id, attempts)
        failure = f"grading infrastructure error: {type(exc).__name__}: {exc}"[:2000]
        # configuration faults (a broken spec, missing data) never go away by retrying
        retry = isinstance(exc, InfrastructureError | OSError)

        def record_failure() -> None:
            with ctx.sessions.begin() as session:
                if attempts < ctx.settings.max_attempts and retry:
                    repo.release_for_retry(session, run_id=run_id, worker=ctx.worker_id,
                                           reason=failure)
                else:
                    repo.finish_run(session, run_id=run_id, worker=ctx.worker_id,
                                    status=RunStatus.FAILED, reason=failure)
        retrying(ctx, "recording a failure", record_failure)
        return
    heartbeat.stopped.set()
    notebook_sha = None
    if graded.notebook is not None:
        notebook = nbformat.writes(graded.notebook).encode()
        notebook_sha = retrying(ctx, "storing the executed notebook",
                                lambda: ctx.store.put(notebook))

    def record() -> bool:
        report, report_json = graded.report, report_to_json(graded.report)
        with ctx.sessions.begin() as session:
            if only_question and previous is not None:
                earlier = session.get(GradingRun, previous.id)
                report_json = _merge_question(report_json, earlier, only_question)
                report = report_from_json(report_json)
            status = (RunStatus.GRADED if report.status is ReportStatus.GRADED
                      else RunStatus.FAILED)
            reason = None if status is RunStatus.GRADED else report.reason
            return repo.finish_run(
                session, run_id=run_id, worker=ctx.worker_id, status=status, reason=reason,
                report_json=report_json, score=report.score, notebook_sha256=notebook_sha,
                engine_version=ENGINE_VERSION, spec_version=assignment.spec.version)

    if not retrying(ctx, "recording the result", record):
        log.warning("run %s: lease lost before the result was recorded", run_id)


_signalled: int | None = None  # where a stop signal wakes a worker's wait (main)
# the pipe a local worker is woken through (service.jobs.local), read once
_WAKE_FD = int(os.environ["AUTOGRADER_WAKE_FD"]) \
    if os.environ.get("AUTOGRADER_WAKE_FD", "").isdigit() else None


def wait_for_work(timeout: float, stop: threading.Event) -> None:
    """Until the service says a run was queued (a byte on the wake pipe a local worker
    is given), a stop signal arrives, or ``timeout``: the poll that finds what the pipe
    does not say."""
    if _WAKE_FD is None:
        stop.wait(timeout)
        return
    watched = [_WAKE_FD] + ([_signalled] if _signalled is not None else [])
    ready, _, _ = select.select(watched, [], [], timeout)
    for done in ready:  # every wake so far: one look finds all their runs
        with contextlib.suppress(OSError):
            os.read(done, 4096)


def work_forever(ctx: WorkerContext, *, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    backlog = 0
    while not stop.is_set():
        with ctx.sessions.begin() as session:
            repo.requeue_expired(session, max_attempts=ctx.settings.max_attempts)
            run_id = repo.claim_next_run(session, worker=ctx.worker_id,
                                         lease_s=ctx.settings.lease_s)
            waiting = repo.queued_gradings(session) if run_id and ctx.pool else 0
        if ctx.pool is not None and waiting != backlog:
            backlog = waiting  # the pool keeps a kernel more warm while runs wait
            ctx.pool.set_backlog(waiting)
        if run_id is None:
            wait_for_work(ctx.settings.poll_interval_s, stop)
            continue
        run_grading(run_id, ctx)


def die_with_parent() -> None:
    """A worker started by ``autograder serve`` ends when serve does, even by SIGKILL:
    the kernel sends it SIGKILL then (its run's lease expires and is requeued), so no
    orphan goes on grading next to the workers of a restarted service."""
    import ctypes

    parent = os.environ.get("AUTOGRADER_PARENT_PID")
    if not parent:
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != int(parent):  # it died before the line above
        raise SystemExit("worker: the service that started it is gone")


def main() -> None:
    die_with_parent()
    settings = Settings()
    configure_logging(settings.log_format, "worker")
    # a local worker grades every run, GPU assignments included (on its GPU if it has one)
    ctx = WorkerContext.create(settings, warm=True, queues=("cpu", "gpu"))
    ctx.announce()
    stop = threading.Event()
    # finish the run in hand, then exit; a wait for work ends at once (the signal's
    # number is written to a pipe the wait watches)
    global _signalled
    _signalled, signalled = os.pipe()
    os.set_blocking(signalled, False)
    signal.set_wakeup_fd(signalled)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("worker %s started", ctx.worker_id)
    while not stop.is_set():
        try:
            work_forever(ctx, stop=stop)
        except Exception:  # a database hiccup must not kill the worker
            log.exception("worker loop error; retrying")
            time.sleep(1)
    ctx.close()


if __name__ == "__main__":
    main()
