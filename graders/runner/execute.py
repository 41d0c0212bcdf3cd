"""Run a notebook in a sandboxed kernel and probe it.

nbclient drives the kernel from here (trusted); the kernel runs inside bubblewrap. After
every cell a silent snapshot records each new object bound to a graded name, so the
definition that answers a question is still found when a later cell rebinds the name.
When a cell kills or hangs the kernel, the kernel is restarted and the notebook re-run
without that cell, so a crash late in the notebook costs nothing defined before it:

    while starts < MAX_KERNEL_STARTS:
        start a kernel
        run the cells not yet skipped      -> a cell stopped the kernel: skip it, restart
        run the probes                     -> a call killed the kernel: skip it, restart
        done
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from graders.protocol import CandidatesMessage, ResultMessage, StartMessage, parse_message
from graders.results import (
    CallStatus,
    Candidate,
    CellRecord,
    CellStatus,
    ProbeRecord,
    SandboxEvent,
    SandboxVerdict,
)
from graders.runner.kernel_code import (
    MODULE_PREFIX,
    disarm_expression,
    probe_code,
    snapshot_expression,
)
from graders.runner.pool import KernelPool, KernelProfile, WarmKernel
from graders.runner.session import KernelSession, death_verdict, error_text
from graders.runner.workdir import prepare
from graders.sandbox.cgroups import cgroup_version, sweep_stale
from graders.sandbox.config import Limits, SandboxConfig, SandboxMode

MAX_KERNEL_STARTS = 5


@dataclass
class Execution:
    """Everything the trusted side learned from running one submission."""

    notebook: NotebookNode
    cells: list[CellRecord]
    events: list[SandboxEvent]
    candidates: list[Candidate]
    records: list[ProbeRecord]
    kernel_starts: int
    sandbox_start_s: float
    kernel_start_s: float
    execute_s: float
    probes_s: float
    peak_memory_bytes: int | None
    warnings: list[str] = field(default_factory=list)
    tampered: bool = False  # the probe did not run as sent: answers cannot be trusted
    warm_kernel: bool = False  # the first kernel came from the warm pool


@dataclass(frozen=True)
class ProbeRequest:
    """Which names to watch and how long the probe cell may take."""

    symbols: tuple[str, ...]
    budget_s: float
    call_limit_s: float
    # each call's own limit by call id (function calls and model requests)
    call_limits: dict[str, float] = field(default_factory=dict)
    # what a warm kernel for this assignment has imported already
    preload: tuple[str, ...] = ("numpy",)


@dataclass
class _Run:
    """What one submission's run has learned so far, across kernel restarts."""

    work: NotebookNode
    limits: Limits
    cell_timeouts: dict[int, float]
    deadline: float
    probe_left: float  # what remains of the probe phase's allowance, across restarts
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    echo: str = field(default_factory=lambda: secrets.token_hex(8))  # the snapshots' answer
    records: dict[int, CellRecord] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)
    events: list[SandboxEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    probe_skip: list[tuple[str, int]] = field(default_factory=list)
    probe_results: dict[tuple[str, int], ProbeRecord] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    kernel_starts: int = 0
    out_of_time: bool = False
    tampered: bool = False
    warm: bool = False
    retired: bool = False  # the last kernel was handed to the pool for teardown
    peak: int | None = None
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("sandbox_start_s", "kernel_start_s", "execute_s", "probes_s"), 0.0))

    @property
    def code_cells(self) -> list[int]:
        return [i for i, c in enumerate(self.work.cells) if c.cell_type == "code"]

    def limit_for(self, index: int) -> int:
        """The cell's own limit (a question's budget, or the default), within the total."""
        limit = self.cell_timeouts.get(index, self.limits.cell_timeout_s)
        return max(1, int(min(limit, self.deadline - time.monotonic())))


def _mode_warnings(config: SandboxConfig) -> list[str]:
    if config.mode is SandboxMode.USER:
        return ["sandbox ran without cgroups (not root): memory and process limits "
                "are rlimits only"]
    if config.mode is SandboxMode.UNSAFE:
        return ["UNSAFE: the submission ran WITHOUT a sandbox"]
    if cgroup_version() is None:
        return ["no usable cgroups on this host: memory and process limits not applied"]
    return []


async def run_submission(
    nb: NotebookNode,
    *,
    job: Path,
    config: SandboxConfig,
    limits: Limits,
    request: ProbeRequest,
    seed: int,
    cell_timeouts: dict[int, float] | None = None,
    pool: KernelPool | None = None,
) -> Execution:
    """Execute every code cell (continuing past errors), then run the probes.

    ``cell_timeouts`` overrides the per-cell limit for some cells (a question's budget).
    With a ``pool`` (and on its loop), the first kernel is a warm one when the pool has
    one, and the last kernel is torn down after this returns.
    """
    if config.mode is SandboxMode.ROOT:
        # leftovers of a grader that was killed (a SIGKILLed worker)
        sweep_stale(jobs_root=config.jobs_root)
    prepare(job, config)
    run = _Run(work=copy.deepcopy(nb), limits=limits, cell_timeouts=cell_timeouts or {},
               deadline=time.monotonic() + limits.total_timeout_s,
               probe_left=request.budget_s, warnings=_mode_warnings(config))
    waited = time.perf_counter()
    warm = await pool.take(KernelProfile.of(limits, request.preload)) if pool else None
    # a kernel still starting is waited for (the CLI's early one): that wait is its start
    run.timings["kernel_start_s"] += time.perf_counter() - waited
    if warm is not None:
        _move_staged(job, warm.job)
        job, run.warm = warm.job, True
    try:
        await _kernels(run, job, config, limits, seed, request, warm, pool)
    finally:
        if warm is not None and pool is not None and not run.retired:
            pool.retire(None, job)  # the run failed before its last kernel was retired
    return _execution(run)


async def _kernels(run: _Run, job: Path, config: SandboxConfig, limits: Limits, seed: int,
                   request: ProbeRequest, warm: WarmKernel | None,
                   pool: KernelPool | None) -> None:
    """The restart loop: start (or adopt) a kernel, run the cells, run the probes."""
    while run.kernel_starts < MAX_KERNEL_STARTS:
        if run.probe_left <= 0:
            run.warnings.append(
                f"checking the answers used its whole allowance ({request.budget_s:g} s) "
                "across kernel restarts; the answers not checked by then earn nothing")
            return
        run.kernel_starts += 1
        t0 = time.perf_counter()
        if warm is not None and run.kernel_starts == 1:
            session = warm.session
            session.adopt(run.work, limits, seed)
            await session.bootstrap()
        else:
            session = KernelSession(job, run.work, config, limits, seed)
            await session.start(run.kernel_starts)
            run.timings["kernel_start_s"] += session.start_s
            run.timings["sandbox_start_s"] += time.perf_counter() - t0 - session.start_s
        finished = False
        try:
            if not await _run_cells(session, run, request.symbols):
                continue  # a cell stopped the kernel: run again without it
            finished = await _run_probes(session, run, request)
        finally:
            last = finished or run.kernel_starts >= MAX_KERNEL_STARTS
            await _stop(session, run, later=pool if last else None, job=job)
        if finished:
            return
    run.warnings.append("gave up after too many kernel restarts")


def _move_staged(staged: Path, warm: Path) -> None:
    """The plan, inputs and files written for this submission, into the directories the
    warm kernel's sandbox already has mounted (same filesystem: renames)."""
    for sub in ("probe", "files"):
        source = staged / sub
        if not source.is_dir():
            continue
        for entry in source.iterdir():  # modes as prepare() and stage_files() set them
            if sub == "probe" and entry.name.startswith(MODULE_PREFIX):
                continue  # the warm kernel's own (its boundary names its folders)
            entry.rename(warm / sub / entry.name)


async def _run_cells(session: KernelSession, run: _Run, symbols: tuple[str, ...]) -> bool:
    """Every code cell not skipped, each followed by a snapshot. False when one of them
    stopped the kernel (it is then skipped from now on)."""
    client = session.client
    assert client is not None
    by_cell = {id(run.work.cells[i]): i for i in run.code_cells}
    # nbclient asks for each cell's limit just before running it.
    client.timeout_func = lambda cell: run.limit_for(by_cell.get(id(cell), -1))
    started_all = time.perf_counter()
    try:
        for index in run.code_cells:
            if index in run.skip:
                continue
            if run.out_of_time:
                run.records[index] = CellRecord(index=index, status=CellStatus.SKIPPED,
                                                error="not run: total time limit reached")
                continue
            if not await _run_cell(session, run, index, symbols):
                run.skip.add(index)
                return False
        return True
    finally:
        run.timings["execute_s"] += time.perf_counter() - started_all


async def _run_cell(session: KernelSession, run: _Run, index: int,
                    symbols: tuple[str, ...]) -> bool:
    """One cell and its snapshot; False when the kernel did not survive them."""
    client = session.client
    assert client is not None
    cell = run.work.cells[index]
    limit = run.limit_for(index)
    total = run.deadline - time.monotonic() <= run.cell_timeouts.get(
        index, run.limits.cell_timeout_s)
    started = time.perf_counter()
    try:
        await _execute(client, cell, index)
    except CellTimeoutError:
        verdict = SandboxVerdict.TOTAL_TIMEOUT if total else SandboxVerdict.CELL_TIMEOUT
        run.events.append(SandboxEvent(verdict=verdict, detail=f"cell {index}"))
        run.records[index] = CellRecord(index=index, status=CellStatus.TIMEOUT,
                                        duration_s=time.perf_counter() - started,
                                        error=f"stopped after {limit} s")
        run.out_of_time = run.out_of_time or total
        return False
    except (DeadKernelError, _Unreadable) as exc:
        await session.stop()
        if isinstance(exc, _Unreadable):
            run.events.append(SandboxEvent(verdict=SandboxVerdict.KERNEL_DIED,
                                           detail=f"cell {index}: {exc}"))
            run.records[index] = CellRecord(
                index=index, status=CellStatus.KERNEL_DIED, error=str(exc),
                duration_s=time.perf_counter() - started)
            return False
        if client.killed_for_output == index:
            event = SandboxEvent(verdict=SandboxVerdict.OUTPUT_LIMIT, detail=f"cell {index}")
            status = CellStatus.OUTPUT_LIMIT
        else:
            death = death_verdict(session)
            detail = "; ".join(d for d in (f"cell {index}", death.detail) if d)
            event, status = death.model_copy(update={"detail": detail}), CellStatus.KERNEL_DIED
        run.events.append(event)
        run.records[index] = CellRecord(index=index, status=status, error=event.message,
                                        duration_s=time.perf_counter() - started)
        return False
    if not await client.restore_iopub(cell, index):
        run.records[index] = CellRecord(index=index, status=CellStatus.KERNEL_DIED,
                                        error="the kernel could not be heard after this cell")
        return False
    if index in client.flooded and not any(
        e.verdict is SandboxVerdict.OUTPUT_LIMIT and e.detail == f"cell {index}"
        for e in run.events
    ):
        run.events.append(SandboxEvent(verdict=SandboxVerdict.OUTPUT_LIMIT,
                                       detail=f"cell {index}"))
    err = error_text(cell)
    run.records[index] = CellRecord(index=index,
                                    status=CellStatus.ERROR if err else CellStatus.OK,
                                    duration_s=time.perf_counter() - started, error=err)
    try:
        answer = await session.expression(snapshot_expression(symbols, index, run.echo))
    except (CellTimeoutError, DeadKernelError):
        # the cell left something behind that stops the kernel answering
        run.records[index] = CellRecord(index=index, status=CellStatus.KERNEL_DIED,
                                        error="the kernel stopped responding after this cell")
        return False
    if answer is None or run.echo not in answer:
        # The cell changed how the kernel answers the grader (its replies, its session,
        # the probe's modules): like a cell that kills the kernel, it is left out and the
        # notebook runs again without it, so the answers before and after it still count.
        run.records[index] = CellRecord(
            index=index, status=CellStatus.KERNEL_DIED,
            error="after this cell the kernel no longer answered the grader truthfully "
                  "(the cell tampered with the grading kernel); the notebook was run "
                  "again without it")
        run.warnings.append(f"cell {index + 1} tampered with the grading kernel; it was "
                            "left out and the notebook run again without it")
        return False
    return True


class _Unreadable(Exception):
    """The kernel answered a cell with something nbclient could not process."""


async def _execute(client: Any, cell: NotebookNode, index: int) -> None:
    """nbclient's execution of one cell. Messages are checked as they arrive
    (``guarded_deserialize``); anything that still breaks nbclient is the notebook's
    doing, and is handled as a cell that stopped the kernel, never as our failure."""
    try:
        await client.async_execute_cell(cell, index)
    except (CellTimeoutError, DeadKernelError):
        raise
    except Exception as exc:
        raise _Unreadable("the kernel answered with something the grader could not read "
                          f"({type(exc).__name__}); the notebook was run again without "
                          "this cell") from exc


async def _run_probes(session: KernelSession, run: _Run, request: ProbeRequest) -> bool:
    """The probe cell, in the same kernel. True when it finished; False when a call
    killed or hung the kernel (that call is recorded and skipped on the next start)."""
    client = session.client
    assert client is not None
    started = time.perf_counter()
    paused = session.pause_strays()
    if paused:
        names = ", ".join(sorted(set(paused)))
        run.warnings.append(f"the notebook left {len(paused)} process(es) running ({names}); "
                            "they were paused while its answers were checked")
    await _disarm(session, run)
    client.probe_messages = []
    probe_cell = nbformat.v4.new_code_cell(probe_code(run.nonce, run.probe_skip,
                                                      session.paths))
    client.timeout_func = None
    client.timeout = max(1, int(run.probe_left))
    run.work.cells.append(probe_cell)
    watchdog = asyncio.ensure_future(client.watch_calls(request.call_limits,
                                                        request.call_limit_s))
    died: CallStatus | None = None
    try:
        await client.async_execute_cell(probe_cell, len(run.work.cells) - 1,
                                        store_history=False)
    except CellTimeoutError:
        died = CallStatus.TIMEOUT
    except DeadKernelError:
        died = CallStatus.TIMEOUT if client.killed_for_call else CallStatus.CRASHED
    finally:
        watchdog.cancel()
        run.work.cells.pop()
        run.timings["probes_s"] += time.perf_counter() - started
        run.probe_left -= time.perf_counter() - started
    in_flight = _collect(client.probe_messages, run)
    if died is None:
        err = error_text(probe_cell)
        if not any(m.get("nonce") == run.nonce for m in client.probe_messages
                   if isinstance(m, dict)):
            # our probe code did not run as sent: something rewrote or replaced it
            run.tampered = True
            run.warnings.append("the grader's probe did not run unmodified: the notebook "
                                "tampered with the grading kernel"
                                + (f" ({err})" if err else ""))
        elif err and not run.probe_results:
            run.warnings.append(f"probe could not run: {err}")
        return True
    if in_flight is None:
        return True
    call_id, symbol, candidate = in_flight
    limit = request.call_limits.get(call_id, request.call_limit_s)
    if died is CallStatus.TIMEOUT and run.probe_left <= 0:
        message = (f"was stopped: checking the answers used its whole allowance "
                   f"({request.budget_s:g} s)")
    else:
        message = (f"did not return within {limit:g} s and was stopped"
                   if died is CallStatus.TIMEOUT else "the kernel died during this call")
    run.probe_results[(call_id, candidate)] = ProbeRecord(
        call_id=call_id, symbol=symbol, candidate=candidate, status=died, error=message)
    run.probe_skip.append((call_id, candidate))
    run.events.append(SandboxEvent(
        verdict=SandboxVerdict.CALL_TIMEOUT if died is CallStatus.TIMEOUT
        else SandboxVerdict.KERNEL_DIED, detail=f"while probing {call_id}"))
    return False


async def _disarm(session: KernelSession, run: _Run) -> None:
    """Undo the notebook's changes to the kernel's machinery before our code runs, and
    record them for staff (they cannot be confused with a missing answer)."""
    try:
        answer = await session.expression(disarm_expression(run.nonce))
    except (CellTimeoutError, DeadKernelError):
        answer = None
    if answer is None or run.nonce not in answer:
        run.tampered = True
        run.warnings.append("the grading kernel did not answer the grader's handshake: the "
                            "notebook tampered with it")
        return
    changed = answer.strip("'\"").split(":", 1)[1]
    if changed and not any("changed the grading kernel" in w for w in run.warnings):
        run.warnings.append(f"the notebook changed the grading kernel ({changed}); undone "
                            "before grading")


def _collect(messages: list[dict[str, Any]], run: _Run) -> tuple[str, str, int] | None:
    """Validate the probe messages into records and candidates; messages that do not fit
    the protocol (or carry another nonce) are dropped. Returns the call that had started
    but not reported, if any."""
    candidates: list[Candidate] | None = None
    started: dict[tuple[str, int], str] = {}
    answered: set[tuple[str, int]] = set()
    current: tuple[str, int] | None = None  # the call started and not yet answered
    for payload in messages:
        msg = parse_message(payload)
        if msg is None or msg.nonce != run.nonce:
            continue
        # The probe says each thing once per phase, in order: the definitions, then for
        # each call its start and its answer. Anything else with the probe's nonce was
        # sent by the notebook's code (which can find the nonce by walking frames).
        if isinstance(msg, CandidatesMessage):
            if candidates is not None:
                _forged(run, "a second list of definitions")
            candidates = candidates if candidates is not None else list(msg.candidates)
        elif candidates is None:
            _forged(run, "a message before the list of definitions")
        elif isinstance(msg, StartMessage):
            started[(msg.call_id, msg.candidate)] = msg.symbol
            current = (msg.call_id, msg.candidate)
        elif isinstance(msg, ResultMessage):
            key = (msg.call_id, msg.candidate)
            if key in answered:
                _forged(run, f"a second answer to {msg.call_id}")
            elif key != current and msg.status not in _UNSTARTED:
                _forged(run, f"an answer to {msg.call_id} the probe had not asked for")
            answered.add(key)
            current = None if key == current else current
            run.probe_results.setdefault((msg.call_id, msg.candidate), ProbeRecord(
                call_id=msg.call_id, symbol=msg.symbol, candidate=msg.candidate,
                status=msg.status, value=msg.value, error=msg.error,
                duration_s=msg.duration_s))
    if candidates:
        run.candidates = candidates
    pending = [(key, symbol) for key, symbol in started.items() if key not in run.probe_results]
    if not pending:
        return None
    (call_id, candidate), symbol = pending[-1]
    return call_id, symbol, candidate


# what the probe answers without calling anything (the name is missing; an earlier call
# to the same binding hung): a failure, which no forger gains by
_UNSTARTED = (CallStatus.MISSING, CallStatus.TIMEOUT)


def _forged(run: _Run, what: str) -> None:
    run.tampered = True
    if not any(w.startswith("the notebook sent messages") for w in run.warnings):
        run.warnings.append(f"the notebook sent messages in the grader's name ({what}): the "
                            "answers it reported cannot be trusted")


async def _stop(session: KernelSession, run: _Run, *, later: KernelPool | None = None,
                job: Path) -> None:
    """Record what the kernel's cgroup measured, then tear it down: now, or (the run's
    last kernel, with a pool) in the background after the run has returned."""
    if later is not None:
        stats = session.stats if session.stopped else session.read_stats()
        later.retire(session, job if run.warm else None)
        run.retired = True
    else:
        await session.stop()
        stats = session.stats
    if stats.peak_memory_bytes:
        run.peak = max(run.peak or 0, stats.peak_memory_bytes)
    if stats.pids_limit_hits and not any(
            e.verdict is SandboxVerdict.PROCESS_LIMIT for e in run.events):
        run.events.append(SandboxEvent(verdict=SandboxVerdict.PROCESS_LIMIT))


def _execution(run: _Run) -> Execution:
    for index in run.code_cells:
        run.records.setdefault(index, CellRecord(
            index=index, status=CellStatus.SKIPPED,
            error="not run again after it stopped the kernel"))
    return Execution(
        notebook=copy.deepcopy(run.work),
        cells=[run.records[i] for i in run.code_cells],
        events=run.events,
        candidates=run.candidates,
        records=list(run.probe_results.values()),
        kernel_starts=run.kernel_starts,
        peak_memory_bytes=run.peak,
        warnings=run.warnings,
        tampered=run.tampered,
        warm_kernel=run.warm,
        **run.timings,
    )
