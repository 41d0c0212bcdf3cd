"""What a notebook left running when its answers are checked, found and stopped from the
host (``/proc``), never from anything the kernel says.

Stopped: every process in the sandbox's pid namespace but its init, the kernel, and the
kernel's own workers (its direct children running the kernel's Python: forks,
``multiprocessing`` and joblib pools, DataLoader workers), which a graded function may
call and which would otherwise hang it. Daemons (detached, reparented to the sandbox's
init), other programs and their children are stopped. What stays running can do what a
thread of the notebook can, no more (docs/SECURITY.md).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

MAX_ROUNDS = 20


@dataclass(frozen=True)
class Process:
    """A pid with its start time: the same process, not a later one given its pid."""

    pid: int
    start: str

    @classmethod
    def of(cls, pid: int | None) -> Process | None:
        if pid is None:
            return None
        fields = stat_fields(pid)
        return cls(pid, fields[19]) if fields else None

    def alive(self) -> bool:
        fields = stat_fields(self.pid)
        return fields is not None and fields[19] == self.start and fields[0] != "Z"


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command's name: [state, ppid, ...] (field 3 onwards)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _executable(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/exe")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def pause_strays(init: Process | None, kernel: Process | None,
                 holder: Process | None = None) -> list[str]:
    """SIGSTOP what the notebook left running (see the module's docstring); the names of
    the processes stopped. Nothing when the sandbox is not the one started (its init or
    kernel gone, a pid reused) or its namespace would be the grader's own."""
    if init is None or kernel is None or not (init.alive() and kernel.alive()):
        return []
    try:
        namespace = os.readlink(f"/proc/{init.pid}/ns/pid")
        if namespace == os.readlink("/proc/self/ns/pid"):
            return []
    except OSError:
        return []
    python = _executable(kernel.pid)
    keep = {init.pid, kernel.pid, os.getpid()}
    if holder is not None and holder.alive():
        keep.add(holder.pid)  # a forked kernel's sandbox process, waiting for it to end
    paused: dict[int, str] = {}
    for _ in range(MAX_ROUNDS):  # until a pass finds none: a stopped process cannot fork
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in keep | paused.keys():
                continue
            pid = int(entry.name)
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != namespace:
                    continue
                fields = stat_fields(pid)
                if not fields or (fields[0] == "Z" and len(os.listdir(f"/proc/{pid}/task")) < 2):
                    continue  # exited (a zombie whose threads have all ended)
                if fields[1] == str(kernel.pid) and python and _executable(pid) == python:
                    keep.add(pid)  # the kernel's own worker
                    continue
                name = Path(f"/proc/{pid}/comm").read_text().strip()
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                continue
            paused[pid], found = name, True
        if not found:
            break
    return list(paused.values())
