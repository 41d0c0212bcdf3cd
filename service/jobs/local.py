"""The embedded default: N worker processes on this machine, polling the database.

Runs are persisted before anyone is told about them, so a crash of the API, of a worker
or of this supervisor loses nothing: workers requeue expired leases on their own. A new
run wakes the idle workers through a pipe each (a byte: "look now"), so an upload to an
idle service waits for no poll; the poll stays, for what the pipe does not say (a
requeued lease, a run another API process queued).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading

from graders import sweep_leftovers
from service.config import Settings

log = logging.getLogger("autograder.dispatcher")
PARENT_ENV = "AUTOGRADER_PARENT_PID"
WAKE_ENV = "AUTOGRADER_WAKE_FD"


def settings_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in settings.model_dump().items():
        if value is not None:
            env[f"AUTOGRADER_{key.upper()}"] = str(value)
    env["AUTOGRADER_DATABASE_URL"] = settings.resolved_database_url
    return env


class LocalDispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[subprocess.Popen[bytes]] = []
        self._wakes: list[int] = []  # the write end of each worker's pipe, by index
        # a descriptor closed while another thread writes to it might be reused by then
        self._wakes_lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        read, write = os.pipe()
        os.set_blocking(write, False)  # a worker that is not reading never holds us up
        # the worker ties its life to ours (see service.worker.die_with_parent)
        env = {**settings_environment(self.settings), PARENT_ENV: str(os.getpid()),
               WAKE_ENV: str(read)}
        try:
            proc = subprocess.Popen([sys.executable, "-m", "service.worker"], env=env,
                                    pass_fds=(read,))
        finally:
            os.close(read)
        with self._wakes_lock:
            if index < len(self._wakes):
                with contextlib.suppress(OSError):
                    os.close(self._wakes[index])
                self._wakes[index] = write
            else:
                self._wakes.append(write)
        return proc

    def start(self) -> None:
        # what workers of an earlier run of this service left (they died with it)
        swept = sweep_leftovers(self.settings.sandbox_config())
        if swept:
            log.info("removed %s job folders and cgroups of graders that are gone", swept)
        self.processes = [self._spawn(i) for i in range(self.settings.workers)]
        self._monitor = threading.Thread(target=self._supervise, daemon=True)
        self._monitor.start()

    def _supervise(self) -> None:
        # A worker that died (killed, crashed) is replaced; its run is requeued by the
        # lease mechanism, not here.
        while not self._stop.wait(1.0):
            for i, proc in enumerate(self.processes):
                if proc.poll() is not None and not self._stop.is_set():
                    log.warning("worker pid %s exited (%s); starting another", proc.pid,
                                proc.returncode)
                    self.processes[i] = self._spawn(i)

    def notify(self, run_id: str) -> None:
        with self._wakes_lock:
            for write in self._wakes:
                # full: the worker is busy, and already told
                with contextlib.suppress(OSError):
                    os.write(write, b"!")

    def healthy(self) -> bool:
        return any(p.poll() is None for p in self.processes)

    def stop(self) -> None:
        self._stop.set()
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with self._wakes_lock:
            for write in self._wakes:
                with contextlib.suppress(OSError):
                    os.close(write)
            self._wakes.clear()
        # every worker is gone now: what any of them left (a sandbox whose set-up a
        # killed worker interrupted outlives it) goes with the service
        try:
            sweep_leftovers(self.settings.sandbox_config())
        except OSError as exc:
            log.warning("could not sweep leftovers: %s", exc)


class NoDispatcher:
    """For an API process whose workers run elsewhere (or tests that start their own)."""

    def start(self) -> None: ...

    def notify(self, run_id: str) -> None: ...

    def stop(self) -> None: ...

    def healthy(self) -> bool:
        return True
