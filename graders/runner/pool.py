"""Warm kernels: sandboxed kernels started before their submission arrives.

Each pooled kernel has its own job directory, cgroup and bubblewrap sandbox, exactly as
a cold one, and has run nothing but the grader's own warm-up (the profile's imports).
It is handed out once: ``take`` removes it from the pool, and a kernel that ran a
submission is torn down, never returned. The pool refills in the background, within a
memory budget; when it is empty the run starts a kernel cold, as before.

The pool owns one event loop on a thread of its own: jupyter_client's sockets belong to
the loop that made them, so every run that may use a pooled kernel runs on that loop
(``KernelPool.run``), and teardowns are scheduled there after the run has returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nbformat

from graders.runner.session import KernelSession
from graders.runner.workdir import prepare
from graders.sandbox.config import Limits, SandboxConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class KernelProfile:
    """What a kernel is started with: the limits fixed at launch (time limits are not:
    they apply per cell later) and the imports it has warmed."""

    launch: Limits
    preload: tuple[str, ...] = ("numpy",)

    @classmethod
    def of(cls, limits: Limits, preload: tuple[str, ...]) -> KernelProfile:
        launch = dataclasses.replace(limits, cell_timeout_s=0.0, total_timeout_s=0.0,
                                     call_timeout_s=0.0)
        return cls(launch=launch, preload=tuple(sorted(set(preload))))


@dataclass
class WarmKernel:
    session: KernelSession
    job: Path
    profile: KernelProfile
    memory_bytes: int


def warm_up_code(preload: tuple[str, ...]) -> str:
    # import only: no seeding, no files, no probe state; the bootstrap does those when
    # the submission arrives
    lines = ["def __ag_warm():"]
    for name in preload:
        lines += ["    try:", f"        import {name}", "    except Exception:", "        pass"]
    lines.append("__ag_warm(); del __ag_warm")
    return "\n".join(lines) + "\n"


class KernelPool:
    """Single-use warm kernels per profile, refilled in the background."""

    def __init__(self, config: SandboxConfig, *, per_profile: int = 1,
                 memory_budget_bytes: int = 2 * 1024**3, refill: bool = True) -> None:
        self.config = config
        self.refill = refill  # False: a one-shot pool (a single grading started early)
        self.per_profile = per_profile
        self.memory_budget_bytes = memory_budget_bytes
        self._ready: dict[KernelProfile, deque[WarmKernel]] = {}
        self._starting: dict[KernelProfile, int] = {}
        self._estimate: dict[KernelProfile, int] = {}
        self._background: set[asyncio.Task[Any]] = set()  # teardowns
        self._filling: set[asyncio.Task[Any]] = set()  # refills: cancelled by close()
        self._closed = False
        self._backlog = 0  # runs waiting behind this pool's grader (set_backlog)
        self._used: set[KernelProfile] = set()  # profiles a grading has taken from
        self.handed_out = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kernel-pool",
                                        daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- from any thread
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the pool's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def warm(self, profile: KernelProfile) -> None:
        """Start filling a profile's share of the pool (returns at once)."""
        self._loop.call_soon_threadsafe(
            lambda: self._spawn(self._fill(profile), fill=True))

    def prefill(self, profiles: Iterable[KernelProfile]) -> None:
        """Warm the numpy-only profiles now; torch ones wait for the first submission
        that needs one (importing torch for nothing costs seconds of CPU at start)."""
        for profile in profiles:
            if "torch" not in profile.preload:
                self.warm(profile)

    def set_backlog(self, queued: int) -> None:
        """How many runs wait behind the one being graded (returns at once). While any
        wait, each profile a grading has used keeps one kernel more than ``per_profile``
        warm: the next grading then takes one that is ready instead of waiting on the
        refill its predecessor's take began. None waiting, the extra ones are stopped
        and their memory is given back."""
        self._loop.call_soon_threadsafe(self._adapt, max(0, queued))

    def ready(self, profile: KernelProfile) -> int:
        return len(self._ready.get(profile, ()))

    def wait_ready(self, profile: KernelProfile, timeout: float = 120.0) -> bool:
        """Block until the profile has a warm kernel (tests and benchmarks)."""
        async def settled() -> None:
            await self._fill(profile)
            while self.ready(profile) == 0 and self._starting.get(profile, 0) > 0:
                await asyncio.sleep(0.05)  # a refill someone else started

        asyncio.run_coroutine_threadsafe(settled(), self._loop).result(timeout)
        return self.ready(profile) > 0

    def close(self) -> None:
        """Stop every idle kernel and wait for the teardowns in flight."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.run(self._drain())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    # --------------------------------------------------------------- on the pool's loop
    async def take(self, profile: KernelProfile) -> WarmKernel | None:
        """A warm kernel of this profile, removed from the pool for good; None when
        there is none (the caller starts one cold). A kernel of this profile still
        starting is waited for: it is nearer ready than a cold start would be. Refilling
        starts at once."""
        while not self._ready.get(profile) and self._starting.get(profile, 0) > 0:
            await asyncio.sleep(0.01)
        queue = self._ready.get(profile)
        found = None
        while queue:
            candidate = queue.popleft()
            if await candidate.session.is_alive():
                found = candidate
                break
            self.retire(candidate.session, candidate.job)  # died while idle
        self._used.add(profile)
        if self.refill:
            self._spawn(self._fill(profile), fill=True)
        if found is not None:
            self.handed_out += 1
        return found

    def _adapt(self, queued: int) -> None:
        self._backlog = queued
        if self._closed:
            return
        if queued:
            for profile in self._used:
                self._spawn(self._fill(profile), fill=True)
            return
        for queue in self._ready.values():
            while len(queue) > self.per_profile:
                surplus = queue.pop()  # the newest: take() hands out the oldest first
                self.retire(surplus.session, surplus.job)

    def target(self, profile: KernelProfile) -> int:
        """How many kernels of this profile the pool keeps warm now."""
        return self.per_profile + (1 if self._backlog and profile in self._used else 0)

    def retire(self, session: KernelSession | None, job: Path | None) -> None:
        """Tear a used (or dead) kernel down in the background, and remove its job
        folder when the pool made it: nothing waits for either."""
        self._spawn(self._teardown(session, job))

    def _spawn(self, coro: Coroutine[Any, Any, None], *, fill: bool = False) -> None:
        task = self._loop.create_task(coro)
        (self._filling if fill else self._background).add(task)
        task.add_done_callback(self._filling.discard)
        task.add_done_callback(self._background.discard)

    async def _fill(self, profile: KernelProfile) -> None:
        while not self._closed and self._wanted(profile) and self._affordable(profile):
            self._starting[profile] = self._starting.get(profile, 0) + 1
            try:
                warm = await self._start(profile)
            except Exception:  # a failed warm start costs nothing: runs start cold
                log.exception("warm kernel did not start")
                return
            finally:
                self._starting[profile] -= 1
            if self._closed:
                await self._teardown(warm.session, warm.job)
                return
            if warm.memory_bytes:
                self._estimate[profile] = warm.memory_bytes
            self._ready.setdefault(profile, deque()).append(warm)

    def _wanted(self, profile: KernelProfile) -> bool:
        held = len(self._ready.get(profile, ())) + self._starting.get(profile, 0)
        return held < self.target(profile)

    def _guess(self, profile: KernelProfile) -> int:
        """A kernel's memory as last measured for its profile, or a first guess."""
        if profile in self._estimate:
            return self._estimate[profile]
        return (700 if "torch" in profile.preload else 150) * 1024**2

    def _affordable(self, profile: KernelProfile) -> bool:
        held = sum(w.memory_bytes for q in self._ready.values() for w in q)
        starting = sum(self._guess(p) * n for p, n in self._starting.items())
        return held + starting + self._guess(profile) <= self.memory_budget_bytes

    async def _start(self, profile: KernelProfile) -> WarmKernel:
        self.config.jobs_root.mkdir(parents=True, exist_ok=True)
        job = Path(tempfile.mkdtemp(prefix=f"job-{os.getpid()}-", dir=self.config.jobs_root))
        for sub in ("probe", "files"):
            (job / sub).mkdir(mode=0o755)
        prepare(job, self.config)
        session = KernelSession(job, nbformat.v4.new_notebook(), self.config, profile.launch,
                                seed=0, preload=profile.preload)
        try:
            await session.launch(1)
            if not await session.hidden(warm_up_code(profile.preload), timeout=120.0):
                raise RuntimeError("the warm-up imports failed")
        except BaseException:
            await self._teardown(session, job)
            raise
        memory = session.read_stats().peak_memory_bytes or 0
        return WarmKernel(session=session, job=job, profile=profile, memory_bytes=memory)

    async def _teardown(self, session: KernelSession | None, job: Path | None) -> None:
        try:
            if session is not None:
                await session.stop()
        finally:
            if job is not None:
                await asyncio.to_thread(shutil.rmtree, job, True)

    async def _drain(self) -> None:
        for task in list(self._filling):
            task.cancel()  # a half-started kernel is torn down by _start itself
        if self._filling:
            await asyncio.wait(list(self._filling), timeout=60)
        idle = [w for q in self._ready.values() for w in q]
        self._ready.clear()
        await asyncio.gather(*(self._teardown(w.session, w.job) for w in idle),
                             return_exceptions=True)
        pending = list(self._background)
        if pending:
            await asyncio.wait(pending, timeout=60)
