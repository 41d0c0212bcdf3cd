"""Run a notebook in a sandboxed kernel and probe it. The only module that knows nbclient.

nbclient drives the kernel from here (trusted); the kernel runs inside bubblewrap. After
every cell a silent snapshot records each new object bound to a graded name, so the
definition that answers a question is still found when a later cell rebinds the name.
When a cell kills or hangs the kernel, the kernel is restarted and the notebook re-run
without that cell, so a crash late in the notebook costs nothing defined before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from traitlets import List, Unicode

from graders import probe as probe_module
from graders.cgroups import CgroupStats, JobCgroup, cgroup_version, sweep_stale
from graders.errors import KernelStartError, SandboxError
from graders.results import (
    CallStatus,
    Candidate,
    CellRecord,
    CellStatus,
    ProbeRecord,
    SandboxEvent,
    SandboxVerdict,
)
from graders.sandbox import (
    DATASETS_MOUNT,
    FILES_MOUNT,
    PROBE_MOUNT,
    LaunchPlan,
    Limits,
    SandboxConfig,
    SandboxMode,
    write_etc,
)

PROBE_SOURCE = Path(probe_module.__file__).read_text()
PROBE_TORCH_SOURCE = (Path(probe_module.__file__).parent / "probe_torch.py").read_text()
MAX_KERNEL_STARTS = 5
MAX_PROBE_MESSAGES = 20_000
MAX_PROBE_BYTES = 64 * 1024 * 1024


class SandboxedKernelManager(AsyncKernelManager):
    """Starts our launcher (which becomes bwrap) instead of a bare ipykernel."""

    launcher_argv = List(Unicode())

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [a.replace("{connection_file}", self.connection_file) for a in self.launcher_argv]


class CappedClient(NotebookClient):
    """nbclient with output caps, and probe messages diverted from the notebook."""

    def __init__(self, nb: NotebookNode, km: AsyncKernelManager, limits: Limits) -> None:
        super().__init__(
            nb,
            km=km,
            timeout=int(limits.cell_timeout_s),
            startup_timeout=int(limits.startup_timeout_s),
            allow_errors=True,
            interrupt_on_timeout=False,
            shutdown_kernel="immediate",
            record_timing=False,
            iopub_timeout=4,
        )
        self.limits = limits
        self.cell_bytes: dict[int, int] = {}
        self.total_bytes = 0
        self.flooded: set[int] = set()
        self.killed_for_output: int | None = None
        self.probe_messages: list[dict[str, Any]] = []
        self.probe_bytes = 0
        self.call_started: float | None = None
        self.killed_for_call = False

    async def watch_calls(self, limit_s: float) -> None:
        """Backstop for the in-kernel alarm: a call that ignores it is killed from here."""
        while True:
            await asyncio.sleep(0.2)
            started = self.call_started
            if started is not None and time.monotonic() - started > limit_s:
                self.killed_for_call = True
                self._kill_kernel()
                return

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        msg_type = msg["msg_type"]
        content = msg.get("content", {})
        if msg_type == "display_data" and probe_module.MIME in content.get("data", {}):
            payload = content["data"][probe_module.MIME]
            size = len(json.dumps(payload)) if isinstance(payload, dict) else 0
            self.probe_bytes += size
            if (
                isinstance(payload, dict)
                and len(self.probe_messages) < MAX_PROBE_MESSAGES
                and self.probe_bytes < MAX_PROBE_BYTES
            ):
                self.probe_messages.append(payload)
                kind = payload.get("kind")
                if kind == "start":
                    self.call_started = time.monotonic()
                elif kind == "result":
                    self.call_started = None
            return None
        if msg_type in ("stream", "display_data", "execute_result", "update_display_data"):
            size = _output_size(content)
            used = self.cell_bytes.get(cell_index, 0) + size
            self.cell_bytes[cell_index] = used
            self.total_bytes += size
            if used > self.limits.output_kill_bytes and self.killed_for_output is None:
                self.killed_for_output = cell_index
                self._kill_kernel()
            if (
                used > self.limits.output_cell_bytes
                or self.total_bytes > self.limits.output_total_bytes
            ):
                if cell_index not in self.flooded:
                    self.flooded.add(cell_index)
                    cell.outputs.append(
                        nbformat.v4.new_output(
                            "stream", name="stderr",
                            text="[autograder] output limit reached; further output dropped\n",
                        )
                    )
                return None
        return super().process_message(msg, cell, cell_index)

    def _kill_kernel(self) -> None:
        process = getattr(self.km.provisioner, "process", None) if self.km else None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


def _output_size(content: dict[str, Any]) -> int:
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


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


@dataclass(frozen=True)
class ProbeRequest:
    """Which names to watch and how long the probe cell may take."""

    symbols: tuple[str, ...]
    budget_s: float
    call_limit_s: float
    plan_file: str = f"{PROBE_MOUNT}/plan.json"


class _Session:
    """One sandboxed kernel: cgroup, launcher, kernel manager and client."""

    def __init__(
        self, job: Path, nb: NotebookNode, config: SandboxConfig, limits: Limits, seed: int
    ) -> None:
        self.job, self.nb, self.config, self.limits, self.seed = job, nb, config, limits, seed
        self.cgroup: JobCgroup | None = None
        self.client: CappedClient | None = None
        self.stats = CgroupStats()
        self.start_s = 0.0
        self.returncode: int | None = None
        self.stopped = False
        self.stderr_head = ""

    async def start(self, attempt: int) -> CappedClient:
        mode = self.config.mode
        ipc = self.job / "ipc"
        shutil.rmtree(ipc, ignore_errors=True)
        ipc.mkdir(mode=0o700)
        host = self.job / "host"
        if mode is SandboxMode.ROOT:
            os.chown(ipc, self.config.sandbox_uid, self.config.sandbox_gid)
            if cgroup_version() is not None:
                self.cgroup = JobCgroup.create(
                    f"{self.job.name}-{attempt}",
                    memory_bytes=self.limits.memory_bytes,
                    max_processes=self.limits.max_processes,
                )
        km = SandboxedKernelManager(
            transport="ipc",
            ip=str(ipc / "k"),
            connection_file=str(host / f"connection-{attempt}.json"),
            kernel_name="python3",
        )
        km.launcher_argv = self._launcher_argv(host, attempt)
        self.client = CappedClient(self.nb, km, self.limits)
        started = time.perf_counter()
        try:
            # The kernel's own stdout/stderr (fd level, not the notebook's output) must not
            # reach our logs: stdout is dropped, the first few KiB of stderr kept for errors.
            await self.client.async_start_new_kernel(
                cwd=str(host), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._drain_stderr()
            await self.client.async_start_new_kernel_client()
        except Exception as exc:
            await self.stop()
            raise KernelStartError(
                f"the sandboxed kernel did not start: {exc}; stderr: {self.stderr_head[-2000:]}"
            ) from exc
        self.start_s = time.perf_counter() - started
        await self.hidden(_bootstrap_code(self.seed))
        return self.client

    def _launcher_argv(self, host: Path, attempt: int) -> list[str]:
        env_python = str(self.config.python_env / "bin" / "python")
        if self.config.mode is SandboxMode.UNSAFE:
            # Development only: the kernel runs unconfined with our uid and environment.
            return [env_python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                    "--HistoryManager.hist_file=:memory:"]
        stage = None
        datasets = self.config.datasets_dir
        if self.config.mode is SandboxMode.ROOT:
            stage = Path("/tmp") / f".ml-autograder-stage-{self.job.name}"
            for sub in ("", "env", "ipc", "probe", "etc", "files", "datasets", "weights"):
                (stage / sub).mkdir(mode=0o755, exist_ok=True)
        plan = LaunchPlan(
            mode=self.config.mode,
            bwrap=self.config.bwrap_path(),
            uid=self.config.sandbox_uid,
            gid=self.config.sandbox_gid,
            python_env=str(self.config.python_env),
            ipc_dir=str(self.job / "ipc"),
            probe_dir=str(self.job / "probe"),
            etc_dir=str(self.job / "etc"),
            stage_dir=str(stage) if stage else None,
            files_dir=str(self.job / "files") if (self.job / "files").is_dir() else None,
            datasets_dir=str(datasets) if datasets else None,
            dataset_entries=sorted(p.name for p in datasets.iterdir()) if datasets else [],
            weights_dir=str(self.config.weights_dir) if self.config.weights_dir else None,
            cgroup_procs=[str(p) for p in self.cgroup.procs_files] if self.cgroup else [],
            memory_bytes=self.limits.memory_bytes,
            max_processes=self.limits.max_processes,
            cpu_seconds=self.limits.cpu_seconds,
            file_size_bytes=self.limits.file_size_bytes,
            open_files=self.limits.open_files,
            tmp_bytes=self.limits.tmp_bytes,
            home_bytes=self.limits.home_bytes,
            gpu=self.limits.gpu,
            seed=self.seed,
        )
        plan_file = host / f"launch-{attempt}.json"
        plan_file.write_text(plan.model_dump_json())
        plan_file.chmod(0o600)
        return [sys.executable, "-m", "graders.launcher", str(plan_file), "{connection_file}"]

    def _drain_stderr(self) -> None:
        km = self.client.km if self.client else None
        process = getattr(km.provisioner, "process", None) if km is not None else None
        stream = getattr(process, "stderr", None)
        if stream is None:
            return

        def drain() -> None:
            kept = 0
            for chunk in iter(lambda: stream.read(65536), b""):
                if kept < 8192:
                    self.stderr_head += chunk[: 8192 - kept].decode(errors="replace")
                    kept += len(chunk)
            stream.close()

        threading.Thread(target=drain, daemon=True).start()

    async def hidden(self, code: str, timeout: float = 30.0) -> bool:
        """Run our own code silently; False when it failed (the student may have broken it)."""
        assert self.client is not None and self.client.kc is not None
        kc: Any = self.client.kc  # the async client; its stubs type it as the sync one
        msg_id = kc.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = await kc.get_shell_msg(timeout=0.5)
            except Exception:  # queue.Empty; the kernel may be gone
                if not await kc.is_alive():
                    raise DeadKernelError("Kernel died") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return bool(reply["content"].get("status") == "ok")
        raise CellTimeoutError("hidden code timed out")

    def exit_code(self) -> int | None:
        km = self.client.km if self.client else None
        process = getattr(km.provisioner, "process", None) if km and km.provisioner else None
        return process.poll() if process is not None else self.returncode

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.returncode = self.exit_code()
        if self.client is not None and self.client.km is not None:
            with contextlib.suppress(Exception):  # already dead: nothing more to stop
                await self.client._async_cleanup_kernel()
        if self.cgroup is not None:
            self.stats = self.cgroup.stats()
            self.cgroup.remove()
        stage = Path("/tmp") / f".ml-autograder-stage-{self.job.name}"
        shutil.rmtree(stage, ignore_errors=True)


def _bootstrap_code(seed: int) -> str:
    return (
        "def __ag_boot():\n"
        "    import sys, types, random\n"
        "    mod = types.ModuleType('_autograder_probe')\n"
        f"    exec(compile({PROBE_SOURCE!r}, '<autograder-probe>', 'exec'), mod.__dict__)\n"
        "    sys.modules['_autograder_probe'] = mod\n"
        "    tools = types.ModuleType('_autograder_probe_torch')\n"
        f"    exec(compile({PROBE_TORCH_SOURCE!r}, '<autograder-probe-torch>', 'exec'), "
        "tools.__dict__)\n"
        "    sys.modules['_autograder_probe_torch'] = tools\n"
        f"    tools.install_hooks({seed}, {DATASETS_MOUNT!r})\n"
        "    import os, shutil\n"
        f"    if os.path.isdir({FILES_MOUNT!r}):\n"
        f"        shutil.copytree({FILES_MOUNT!r}, '.', dirs_exist_ok=True)\n"
        f"    random.seed({seed})\n"
        "    try:\n"
        "        import numpy\n"
        f"        numpy.random.seed({seed % 2**32})\n"
        "    except Exception:\n"
        "        pass\n"
        "__ag_boot(); del __ag_boot\n"
    )


def _snapshot_code(symbols: tuple[str, ...], cell: int) -> str:
    return (
        "import sys as __ag_sys\n"
        f"__ag_sys.modules['_autograder_probe'].snapshot(globals(), {list(symbols)!r}, {cell})\n"
        "del __ag_sys\n"
    )


def _probe_code(request: ProbeRequest, nonce: str, skip: list[tuple[str, int]]) -> str:
    # A fresh copy of the probe module each time: the student's code may have replaced
    # the one installed at start-up (it could then only misreport its own answers).
    return (
        "def __ag_probe():\n"
        "    import sys, types\n"
        "    mod = types.ModuleType('_autograder_probe')\n"
        f"    exec(compile({PROBE_SOURCE!r}, '<autograder-probe>', 'exec'), mod.__dict__)\n"
        "    tools = types.ModuleType('_autograder_probe_torch')\n"
        f"    exec(compile({PROBE_TORCH_SOURCE!r}, '<autograder-probe-torch>', 'exec'), "
        "tools.__dict__)\n"
        "    sys.modules['_autograder_probe_torch'] = tools\n"
        f"    mod.run({request.plan_file!r}, globals(), {nonce!r}, {skip!r})\n"
        "__ag_probe(); del __ag_probe\n"
    )


def _error_text(cell: NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:500]
    return None


def _death_verdict(session: _Session) -> SandboxEvent:
    stats = session.stats
    code = session.exit_code()
    if stats.oom_kills:
        return SandboxEvent(verdict=SandboxVerdict.OUT_OF_MEMORY)
    detail = ""
    if code is not None and code != 0:
        detail = f"killed by signal {code - 128}" if code > 128 else f"exit code {code}"
    if stats.pids_limit_hits:
        detail = (detail + "; " if detail else "") + "process limit reached"
    return SandboxEvent(verdict=SandboxVerdict.KERNEL_DIED, detail=detail)


async def run_submission(
    nb: NotebookNode,
    *,
    job: Path,
    config: SandboxConfig,
    limits: Limits,
    request: ProbeRequest,
    seed: int,
    cell_timeouts: dict[int, float] | None = None,
) -> Execution:
    """Execute every code cell (continuing past errors), then run the probes.

    ``cell_timeouts`` overrides the per-cell limit for some cells (a question's budget).
    """
    cell_timeouts = cell_timeouts or {}
    if config.mode is SandboxMode.ROOT:
        sweep_stale()  # leftovers of a grader that was killed (a SIGKILLed worker)
    for sub in ("host", "probe"):
        (job / sub).mkdir(exist_ok=True)
    (job / "host").chmod(0o700)
    write_etc(job / "etc", config.sandbox_uid, config.sandbox_gid)
    job.chmod(0o711)
    (job / "probe").chmod(0o755)
    for f in (job / "probe").iterdir():
        f.chmod(0o644)

    work = copy.deepcopy(nb)
    code_cells = [i for i, c in enumerate(work.cells) if c.cell_type == "code"]
    records: dict[int, CellRecord] = {}
    skip: set[int] = set()
    events: list[SandboxEvent] = []
    warnings: list[str] = []
    peak: int | None = None
    probe_skip: list[tuple[str, int]] = []
    probe_results: dict[tuple[str, int], ProbeRecord] = {}
    candidates: list[Candidate] = []
    kernel_starts = 0
    sandbox_start_s = kernel_start_s = execute_s = probes_s = 0.0
    deadline = time.monotonic() + limits.total_timeout_s
    out_of_time = False
    nonce = secrets.token_hex(8)
    if config.mode is SandboxMode.USER:
        warnings.append("sandbox ran without cgroups (not root): memory and process limits "
                        "are rlimits only")
    if config.mode is SandboxMode.UNSAFE:
        warnings.append("UNSAFE: the submission ran WITHOUT a sandbox")
    if config.mode is SandboxMode.ROOT and cgroup_version() is None:
        warnings.append("no usable cgroups on this host: memory and process limits not applied")

    while kernel_starts < MAX_KERNEL_STARTS:
        kernel_starts += 1
        session = _Session(job, work, config, limits, seed)
        t0 = time.perf_counter()
        client = await session.start(kernel_starts)
        sandbox_start_s += time.perf_counter() - t0 - session.start_s
        kernel_start_s += session.start_s
        fatal = False
        try:
            t_exec = time.perf_counter()
            for index in code_cells:
                if index in skip:
                    continue
                if out_of_time:
                    records[index] = CellRecord(index=index, status=CellStatus.SKIPPED,
                                                error="not run: total time limit reached")
                    continue
                cell = work.cells[index]
                remaining = deadline - time.monotonic()
                limit = cell_timeouts.get(index, limits.cell_timeout_s)
                client.timeout = max(1, int(min(limit, remaining)))
                started = time.perf_counter()
                try:
                    await client.async_execute_cell(cell, index)
                except CellTimeoutError:
                    total = remaining <= limit
                    verdict = SandboxVerdict.TOTAL_TIMEOUT if total else SandboxVerdict.CELL_TIMEOUT
                    events.append(SandboxEvent(verdict=verdict, detail=f"cell {index}"))
                    records[index] = CellRecord(
                        index=index, status=CellStatus.TIMEOUT,
                        duration_s=time.perf_counter() - started,
                        error=f"stopped after {client.timeout} s",
                    )
                    out_of_time = out_of_time or total
                    skip.add(index)
                    fatal = True
                    break
                except DeadKernelError:
                    await session.stop()
                    if client.killed_for_output == index:
                        events.append(SandboxEvent(verdict=SandboxVerdict.OUTPUT_LIMIT,
                                                   detail=f"cell {index}"))
                        status = CellStatus.OUTPUT_LIMIT
                    else:
                        death = _death_verdict(session)
                        detail = "; ".join(d for d in (f"cell {index}", death.detail) if d)
                        events.append(death.model_copy(update={"detail": detail}))
                        status = CellStatus.KERNEL_DIED
                    records[index] = CellRecord(
                        index=index, status=status, duration_s=time.perf_counter() - started,
                        error=events[-1].message,
                    )
                    skip.add(index)
                    fatal = True
                    break
                if index in client.flooded and not any(
                    e.verdict is SandboxVerdict.OUTPUT_LIMIT and e.detail == f"cell {index}"
                    for e in events
                ):
                    events.append(SandboxEvent(verdict=SandboxVerdict.OUTPUT_LIMIT,
                                               detail=f"cell {index}"))
                err = _error_text(cell)
                records[index] = CellRecord(
                    index=index, status=CellStatus.ERROR if err else CellStatus.OK,
                    duration_s=time.perf_counter() - started, error=err,
                )
                try:
                    await session.hidden(_snapshot_code(request.symbols, index))
                except (CellTimeoutError, DeadKernelError):
                    # the cell left something behind that stops the kernel answering
                    records[index] = CellRecord(
                        index=index, status=CellStatus.KERNEL_DIED,
                        error="the kernel stopped responding after this cell",
                    )
                    skip.add(index)
                    fatal = True
                    break
            execute_s += time.perf_counter() - t_exec
            if fatal:
                continue
            # Probes, in the same kernel.
            t_probe = time.perf_counter()
            client.probe_messages = []
            probe_cell = nbformat.v4.new_code_cell(_probe_code(request, nonce, probe_skip))
            client.timeout = max(1, int(request.budget_s))
            work.cells.append(probe_cell)
            watchdog = asyncio.ensure_future(client.watch_calls(request.call_limit_s + 3.0))
            try:
                await client.async_execute_cell(probe_cell, len(work.cells) - 1,
                                                store_history=False)
                died = None
            except CellTimeoutError:
                died = CallStatus.TIMEOUT
            except DeadKernelError:
                died = CallStatus.TIMEOUT if client.killed_for_call else CallStatus.CRASHED
            finally:
                watchdog.cancel()
                work.cells.pop()
            probes_s += time.perf_counter() - t_probe
            candidates = _collect(client.probe_messages, nonce, probe_results) or candidates
            if died is None:
                err = _error_text(probe_cell)
                if err and not probe_results:
                    warnings.append(f"probe could not run: {err}")
                break
            in_flight = _in_flight(client.probe_messages, nonce, probe_results)
            if in_flight is None:
                break
            call_id, symbol, cand = in_flight
            message = (
                f"did not return within {request.call_limit_s:g} s and was stopped"
                if died is CallStatus.TIMEOUT else "the kernel died during this call"
            )
            probe_results[(call_id, cand)] = ProbeRecord(
                call_id=call_id, symbol=symbol, candidate=cand, status=died, error=message,
            )
            probe_skip.append((call_id, cand))
            events.append(SandboxEvent(
                verdict=SandboxVerdict.CALL_TIMEOUT if died is CallStatus.TIMEOUT
                else SandboxVerdict.KERNEL_DIED, detail=f"while probing {call_id}"))
        finally:
            await session.stop()
            if session.stats.peak_memory_bytes:
                peak = max(peak or 0, session.stats.peak_memory_bytes)
            if session.stats.pids_limit_hits and not any(
                e.verdict is SandboxVerdict.PROCESS_LIMIT for e in events
            ):
                events.append(SandboxEvent(verdict=SandboxVerdict.PROCESS_LIMIT))
    else:
        warnings.append("gave up after too many kernel restarts")

    for index in code_cells:
        records.setdefault(index, CellRecord(index=index, status=CellStatus.SKIPPED,
                                             error="not run again after it stopped the kernel"))
    executed = copy.deepcopy(work)
    return Execution(
        notebook=executed,
        cells=[records[i] for i in code_cells],
        events=events,
        candidates=candidates,
        records=list(probe_results.values()),
        kernel_starts=kernel_starts,
        sandbox_start_s=sandbox_start_s,
        kernel_start_s=kernel_start_s,
        execute_s=execute_s,
        probes_s=probes_s,
        peak_memory_bytes=peak,
        warnings=warnings,
    )


def _collect(
    messages: list[dict[str, Any]], nonce: str, results: dict[tuple[str, int], ProbeRecord]
) -> list[Candidate]:
    """Validate probe messages into records; malformed ones are dropped."""
    candidates: list[Candidate] = []
    for msg in messages:
        if msg.get("nonce") != nonce:
            continue
        kind = msg.get("kind")
        try:
            if kind == "candidates" and not candidates:
                candidates = [Candidate.model_validate(c) for c in msg.get("candidates", [])[:64]]
            elif kind == "result":
                record = ProbeRecord(
                    call_id=str(msg["call_id"])[:200],
                    symbol=str(msg["symbol"])[:200],
                    candidate=int(msg["candidate"]),
                    status=CallStatus(msg["status"]),
                    value=msg.get("value"),
                    error=str(msg["error"])[:2000] if msg.get("error") else None,
                    duration_s=float(msg.get("duration_s", 0.0)),
                )
                results.setdefault((record.call_id, record.candidate), record)
        except (KeyError, ValueError, TypeError):
            continue
    return candidates


def _in_flight(
    messages: list[dict[str, Any]], nonce: str, results: dict[tuple[str, int], ProbeRecord]
) -> tuple[str, str, int] | None:
    """The call that had started but not reported when the probe cell was stopped."""
    last = None
    for msg in messages:
        if msg.get("nonce") == nonce and msg.get("kind") == "start":
            try:
                key = (str(msg["call_id"])[:200], int(msg["candidate"]))
                symbol = str(msg["symbol"])[:200]
            except (KeyError, ValueError, TypeError):
                continue
            if key not in results:
                last = (key[0], symbol, key[1])
    return last


def run_submission_sync(nb: NotebookNode, **kwargs: Any) -> Execution:
    """Synchronous wrapper (each call gets its own event loop)."""
    try:
        return asyncio.run(run_submission(nb, **kwargs))
    except OSError as exc:
        raise SandboxError(f"sandbox set-up failed: {exc}") from exc
