"""One sandboxed kernel: its cgroup, the launcher that becomes bwrap, the kernel manager
and the nbclient client, started and stopped as a unit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from graders.boundary import HOME, IPC_MOUNT
from graders.errors import KernelStartError
from graders.results import SandboxEvent, SandboxVerdict
from graders.runner.client import (
    CappedClient,
    SandboxedKernelManager,
    bounded_unpack,
    children,
)
from graders.runner.kernel_code import Paths, bootstrap_code
from graders.runner.strays import Process, pause_strays
from graders.runner.workdir import job_paths, stage_path
from graders.sandbox.cgroups import CgroupStats, JobCgroup, cgroup_version
from graders.sandbox.config import (
    KERNEL_ARGV,
    LaunchPlan,
    Limits,
    SandboxConfig,
    SandboxMode,
    kernel_environment,
)
from graders.sandbox.launcher import rlimits
from graders.sandbox.zygote import ZYGOTE_PRELOADS, Zygote, shared_zygote


class KernelSession:
    """One sandboxed kernel: cgroup, launcher, kernel manager and client."""

    def __init__(
        self, job: Path, nb: NotebookNode, config: SandboxConfig, limits: Limits, seed: int,
        *, preload: tuple[str, ...] = (),
    ) -> None:
        """``preload``: the modules the kernel imports before its first cell (a warm
        kernel's profile); a zygote that has imported them forks it."""
        self.job, self.nb, self.config, self.limits, self.seed = job, nb, config, limits, seed
        self.preload = preload
        self.cgroup: JobCgroup | None = None
        self.client: CappedClient | None = None
        self.stats = CgroupStats()
        self.start_s = 0.0
        self.returncode: int | None = None
        self.stopped = False
        self.stderr_head = ""
        self.plan: LaunchPlan | None = None
        self.init: Process | None = None  # the sandbox's pid 1 and the kernel, by start time
        self.kernel: Process | None = None
        self.holder: Process | None = None  # a forked kernel's sandbox's own process
        self.forked: Zygote | None = None
        self.exit_file: Path | None = None

    async def start(self, attempt: int) -> CappedClient:
        """Launch the kernel and run the bootstrap: ready for the notebook's cells."""
        await self.launch(attempt)
        return await self.bootstrap()

    async def bootstrap(self) -> CappedClient:
        assert self.client is not None
        await self.hidden(bootstrap_code(self.seed, self.paths))
        return self.client

    @property
    def paths(self) -> Paths | None:
        """The mounts' host folders when there is no sandbox (development only)."""
        return job_paths(self.job, self.config)

    def _datasets(self) -> Path | None:
        datasets = self.config.datasets_dir
        return datasets if datasets is not None and datasets.is_dir() else None

    def adopt(self, nb: NotebookNode, limits: Limits, seed: int) -> None:
        """A warm kernel taken for a submission: from now on it runs this notebook."""
        assert self.client is not None
        self.nb, self.limits, self.seed = nb, limits, seed
        self.client.nb, self.client.limits = nb, limits
        self.client.timeout = int(limits.cell_timeout_s)

    async def is_alive(self) -> bool:
        kc: Any = self.client.kc if self.client else None
        return bool(kc is not None and await kc.is_alive())

    async def launch(self, attempt: int) -> None:
        """Start the sandboxed kernel (no bootstrap yet: a warm kernel waits here)."""
        # a zygote's first start takes seconds (torch's import): off the loop, which may
        # be running other gradings, and counted in this kernel's start
        waited = time.perf_counter()
        self.forked = await asyncio.to_thread(self._zygote)
        zygote_s = time.perf_counter() - waited
        mode = self.config.mode
        ipc = self.job / "ipc"
        shutil.rmtree(ipc, ignore_errors=True)
        ipc.mkdir(mode=0o700)
        host = self.job / "host"
        if mode is SandboxMode.ROOT:
            # bwrap (as the sandbox uid) binds the connection file from here
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
            socket_path=None if mode is SandboxMode.UNSAFE else IPC_MOUNT,
            pin_folder=str(self.job / f"s{attempt}"),
        )
        km.pin_timeout_s = self.limits.startup_timeout_s
        km.launcher_argv = self._launcher_argv(host, attempt)
        if self.forked:
            km.zygote, km.fork_request = self.forked, self._fork_request(host, attempt)
        km.session.unpack = bounded_unpack  # the client's session: kernel messages
        self.client = CappedClient(self.nb, km, self.limits)
        started = time.perf_counter() - zygote_s
        try:
            # The kernel's own stdout/stderr (fd level, not the notebook's output) must not
            # reach our logs: stdout is dropped, the first few KiB of stderr kept for errors.
            await self.client.async_start_new_kernel(
                cwd=str(host), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._drain_stderr()
            await self.client.async_start_new_kernel_client()
            self.client.watch_iopub()
        except Exception as exc:
            await self.stop()
            raise KernelStartError(
                f"the sandboxed kernel did not start: {exc}; stderr: {self.stderr_head[-2000:]}"
            ) from exc
        if km.sandbox_pid is not None:
            # before any cell runs, the sandbox holds its init and the kernel (and a forked
            # kernel's holder), nothing else
            self.init = Process.of(km.sandbox_pid)
            self.kernel = Process.of(km.kernel_pid if km.kernel_pid is not None else
                                     next(iter(children(km.sandbox_pid)), None))
            self.holder = Process.of(km.holder_pid)
        self.start_s = time.perf_counter() - started

    def _zygote(self) -> Zygote | None:
        """The zygote that forks this kernel, where one may: as root, with no GPU (a
        CUDA context does not survive a fork) and when the deployment allows it."""
        if not self.config.fork_kernels or self.config.mode is not SandboxMode.ROOT \
                or self.limits.gpu is not None or self.limits.threads != 1:
            # more than one thread: OpenBLAS starts its threads when numpy is imported,
            # and a process with threads cannot be forked safely
            return None
        return shared_zygote(self.config.python_env, self.limits.threads,
                             tuple(m for m in self.preload if m in ZYGOTE_PRELOADS))

    def _fork_request(self, host: Path, attempt: int) -> dict[str, Any]:
        assert self.plan is not None
        self.exit_file = host / f"kernel-exit-{attempt}"
        self.exit_file.unlink(missing_ok=True)
        return {"procs": self.plan.cgroup_procs, "uid": self.plan.uid, "gid": self.plan.gid,
                "rlimits": rlimits(self.plan),
                # bubblewrap's --chdir sets PWD too
                "env": {**kernel_environment(self.plan), "PWD": HOME},
                "argv": list(KERNEL_ARGV), "home": HOME, "status": str(self.exit_file)}

    def _launcher_argv(self, host: Path, attempt: int) -> list[str]:
        env_python = str(self.config.python_env / "bin" / "python")
        if self.config.mode is SandboxMode.UNSAFE:
            # Development only: the kernel runs unconfined with our uid and environment,
            # in the job's host folder, where the notebook's usual dataset roots lead to
            # the datasets (the sandbox links them from its home)
            datasets = self._datasets()
            if datasets is not None:
                for name in ("data", "datasets", *(p.name for p in datasets.iterdir())):
                    link = host / name
                    if not link.exists() and not link.is_symlink():
                        link.symlink_to(datasets if name in ("data", "datasets")
                                        else datasets / name)
            return [env_python, "-P", "-m", "ipykernel_launcher", "-f", "{connection_file}",
                    "--HistoryManager.hist_file=:memory:"]
        stage = None
        datasets = self.config.datasets_dir
        if datasets is not None and not datasets.is_dir():
            datasets = None  # reported as missing grader data, not a sandbox failure
        if self.config.mode is SandboxMode.ROOT:
            stage = stage_path(self.job)
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
            dataset_entries=tuple(sorted(p.name for p in datasets.iterdir())) if datasets
            else (),
            weights_dir=str(self.config.weights_dir) if self.config.weights_dir else None,
            cgroup_procs=tuple(str(p) for p in self.cgroup.procs_files) if self.cgroup else (),
            memory_bytes=self.limits.memory_bytes,
            max_processes=self.limits.max_processes,
            cpu_seconds=self.limits.cpu_seconds,
            file_size_bytes=self.limits.file_size_bytes,
            open_files=self.limits.open_files,
            tmp_bytes=self.limits.tmp_bytes,
            home_bytes=self.limits.home_bytes,
            gpu=self.limits.gpu,
            threads=self.limits.threads,
            forked=self.forked is not None,
        )
        self.plan = plan
        plan_file = host / f"launch-{attempt}.json"
        plan_file.write_text(plan.to_json())
        plan_file.chmod(0o600)
        return [sys.executable, "-m", "graders.sandbox.launcher", str(plan_file),
                "{connection_file}"]

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

    async def _silent(self, code: str, timeout: float,
                      user_expressions: dict[str, str] | None = None) -> dict[str, Any]:
        """Execute our own request silently and wait for its reply's content."""
        assert self.client is not None and self.client.kc is not None
        kc: Any = self.client.kc  # the async client; its stubs type it as the sync one
        msg_id = kc.execute(code, silent=True, store_history=False,
                            user_expressions=user_expressions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = await kc.get_shell_msg(timeout=0.5)
            except Exception:  # queue.Empty; the kernel may be gone
                if not await kc.is_alive():
                    raise DeadKernelError("Kernel died") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return dict(reply["content"])
        raise CellTimeoutError("the grader's own request timed out")

    async def hidden(self, code: str, timeout: float = 30.0) -> bool:
        """Run our own code silently; False when it failed (the student may have broken it)."""
        return (await self._silent(code, timeout)).get("status") == "ok"

    async def expression(self, expression: str, timeout: float = 30.0) -> str | None:
        """Evaluate one expression as a ``user_expressions`` entry (IPython evaluates it
        directly: no input transformer touches it); its text/plain value, or None."""
        content = await self._silent("", timeout, {"ag": expression})
        value = content.get("user_expressions", {}).get("ag", {})
        if value.get("status") != "ok":
            return None
        text = value.get("data", {}).get("text/plain")
        return str(text)[:2000] if text is not None else None

    def pause_strays(self) -> list[str]:
        """Stop what the notebook left running before its answers are checked
        (``graders.runner.strays``); the names of the processes stopped."""
        return pause_strays(self.init, self.kernel, self.holder)

    def exit_code(self) -> int | None:
        if self.exit_file is not None:
            return self._forked_exit()
        km = self.client.km if self.client else None
        process = getattr(km.provisioner, "process", None) if km and km.provisioner else None
        return process.poll() if process is not None else self.returncode

    def _forked_exit(self) -> int | None:
        """A forked kernel's own status, as bubblewrap reports a kernel it started (128 +
        the signal), whatever became of its sandbox: the zygote writes it as it reaps the
        kernel (before the sandbox can end). None while the kernel runs, or when the
        zygote that forked it was replaced: the holder's status says nothing of it."""
        assert self.exit_file is not None
        try:
            code = int(self.exit_file.read_text())
        except (OSError, ValueError):
            return None
        return 128 - code if code < 0 else code

    def read_stats(self) -> CgroupStats:
        """Peak memory and limit hits so far, read before the teardown (which may happen
        later, off the grading's critical path)."""
        if self.cgroup is not None:
            self.stats = self.cgroup.stats()
        return self.stats

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.returncode = self.exit_code()
        if self.client is not None and self.client.km is not None:
            km = self.client.km
            self.client.close_monitor()
            with contextlib.suppress(Exception):  # already dead: nothing more to stop
                await self.client._async_cleanup_kernel()
            # after the channels are closed: a descriptor closed while a socket could still
            # reconnect through it might be reused for something else
            if isinstance(km, SandboxedKernelManager):
                km.release_sockets()
        if self.cgroup is not None:
            self.stats = _merged(self.stats, self.cgroup.stats())
            self.cgroup.remove()
        shutil.rmtree(stage_path(self.job), ignore_errors=True)


def _merged(before: CgroupStats, after: CgroupStats) -> CgroupStats:
    if after.peak_memory_bytes is None and after.oom_kills == after.pids_limit_hits == 0:
        return before  # the cgroup was already gone
    return after


# IPython compiles each cell as a temporary file named by a hash: "(2299441978.py, line
# 3)" means nothing to a student; the cell is the one the error is reported for
_CELL_FILE = re.compile(r"\(?(?:/tmp/ipykernel_\d+/)?\d{6,}\.py, line (\d+)\)?")


def error_text(cell: NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
            return _CELL_FILE.sub(r"(line \1 of the cell)", text)[:500]
    return None


def death_verdict(session: KernelSession) -> SandboxEvent:
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
