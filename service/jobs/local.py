"""The embedded default: N worker processes on this machine, polling the database.

Runs are persisted before anyone is told about them, so a crash of the API, of a worker
or of this supervisor loses nothing: workers requeue expired leases on their own.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from graders import sweep_leftovers
from service.config import Settings

log = logging.getLogger("autograder.dispatcher")
PARENT_ENV = "AUTOGRADER_PARENT_PID"


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
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        # the worker ties its life to ours (see service.worker.die_with_parent)
        env = {**settings_environment(self.settings), PARENT_ENV: str(os.getpid())}
        return subprocess.Popen([sys.executable, "-m", "service.worker"], env=env)

    def start(self) -> None:
        # what workers of an earlier run of this service left (they died with it)
        swept = sweep_leftovers(self.settings.sandbox_config())
        if swept:
            log.info("removed %s job folders and cgroups of graders that are gone", swept)
        self.processes = [self._spawn() for _ in range(self.settings.workers)]
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
                    self.processes[i] = self._spawn()

    def notify(self, run_id: str) -> None:
        return None  # workers poll the database

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
