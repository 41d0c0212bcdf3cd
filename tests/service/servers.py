"""Private Redis and PostgreSQL servers for the failure drills: the machine's own
services stay untouched while a drill stops and restarts these on their own ports."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port


def wait_port(port: int, *, up: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not come {'up' if up else 'down'} in {timeout} s")


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        # like this machine's Redis: nothing kept on disk, so a restart loses every message
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tempfile.gettempdir()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, up=True)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        wait_port(self.port, up=False)

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL's server binaries are not installed")
    return found[-1]


@dataclass
class PostgresServer:
    """A throwaway cluster run as the postgres user (the server refuses root)."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str, check: bool = True) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=check, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def start(self) -> PostgresServer:
        data = self.root / "pgdata"
        if not data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            data.mkdir()
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres")
                shutil.chown(data, "postgres")
            self._as_postgres(_pg_bin("initdb"), "-D", str(data), "-A", "trust",
                              "-U", "postgres", "--no-sync")
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(data), "-w", "-l",
                          str(self.root / "server.log"), "-o",
                          f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                          "-c fsync=off -c max_connections=200", "start")
        wait_port(self.port, up=True)
        return self

    def stop(self, mode: str = "fast") -> None:
        # not checked: stopping a cluster a drill left stopped is fine
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.root / "pgdata"), "-w", "-m",
                          mode, "stop", check=False)
        wait_port(self.port, up=False)

    def restart(self, down_s: float = 2.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
