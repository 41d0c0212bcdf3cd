"""Per-job cgroups: memory and process limits, OOM and fork-limit evidence, cleanup.

Hosts here have cgroup v1 (memory, pids controllers mounted separately); GPU hosts
usually have the unified v2 hierarchy. Both are supported. Creating a cgroup needs root.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "ml-autograder"


@dataclass(frozen=True)
class CgroupStats:
    oom_kills: int = 0
    pids_limit_hits: int = 0
    peak_memory_bytes: int | None = None


def _write(path: Path, value: str | int) -> None:
    path.write_text(str(value))


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
    except (OSError, ValueError):
        pass
    return 0


def cgroup_version() -> int | None:
    """2 for the unified hierarchy, 1 for v1 with memory and pids, None when unusable."""
    if (ROOT / "cgroup.controllers").exists():
        return 2
    if (ROOT / "memory").is_dir() and (ROOT / "pids").is_dir():
        return 1
    return None


class JobCgroup:
    """The cgroup(s) of one sandboxed kernel session."""

    def __init__(self, name: str, version: int) -> None:
        self.name = name
        self.version = version
        if version == 1:
            self.dirs = [ROOT / "memory" / PARENT / name, ROOT / "pids" / PARENT / name]
        else:
            self.dirs = [ROOT / PARENT / name]

    @classmethod
    def create(cls, name: str, *, memory_bytes: int, max_processes: int) -> JobCgroup:
        version = cgroup_version()
        if version is None:
            raise OSError("no usable cgroup hierarchy")
        group = cls(name, version)
        if version == 2:
            parent = ROOT / PARENT
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                _write(ROOT / "cgroup.subtree_control", "+memory +pids")
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        for d in group.dirs:
            d.mkdir(parents=True, exist_ok=True)
        if version == 1:
            mem, pids = group.dirs
            _write(mem / "memory.limit_in_bytes", memory_bytes)
            memsw = mem / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                _write(memsw, memory_bytes)
            _write(pids / "pids.max", max_processes)
        else:
            (d,) = group.dirs
            _write(d / "memory.max", memory_bytes)
            with contextlib.suppress(OSError):
                _write(d / "memory.swap.max", 0)
            _write(d / "pids.max", max_processes)
        return group

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def join(self, pid: int) -> None:
        for f in self.procs_files:
            _write(f, pid)

    def pids(self) -> set[int]:
        return _pids(self.procs_files)

    def stats(self) -> CgroupStats:
        if self.version == 1:
            mem, pids = self.dirs
            return CgroupStats(
                oom_kills=_read_keyed(mem / "memory.oom_control", "oom_kill"),
                pids_limit_hits=_read_keyed(pids / "pids.events", "max"),
                peak_memory_bytes=_read_int(mem / "memory.max_usage_in_bytes"),
            )
        (d,) = self.dirs
        return CgroupStats(
            oom_kills=_read_keyed(d / "memory.events", "oom_kill"),
            pids_limit_hits=_read_keyed(d / "pids.events", "max"),
            peak_memory_bytes=_read_int(d / "memory.peak"),
        )

    def kill_all(self) -> None:
        """SIGKILL everything left (daemons that escaped the kernel's process tree)."""
        _kill_all(self.procs_files)

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _pids(procs_files: list[Path]) -> set[int]:
    found: set[int] = set()
    for f in procs_files:
        with contextlib.suppress(OSError):
            found.update(int(p) for p in f.read_text().split())
    return found


def _kill_all(procs_files: list[Path], *, attempts: int = 50) -> None:
    for _ in range(attempts):
        pids = _pids(procs_files)
        if not pids:
            return
        for pid in pids:
            if pid <= 0:  # 0: a member this pid namespace cannot see (never our group)
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _rmdir_when_empty(group: Path, *, attempts: int = 50) -> None:
    # a killed member leaves the group a moment after the signal, not at once
    for attempt in range(attempts):
        try:
            group.rmdir()
            return
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.02)


def owner_gone(name: str) -> bool:
    """Whether the grader that made a ``job-<pid>-...`` folder or cgroup is provably gone
    (its pid no longer exists). Unknown layouts and live or reused pids count as alive."""
    parts = name.split("-")
    if len(parts) < 3 or parts[0] != "job" or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def sweep_stale(max_age_s: float = 600.0, stage_root: Path = Path("/tmp"),
                jobs_root: Path | None = None) -> int:
    """Remove what a killed grader left behind: empty job cgroups and staging folders
    whose grader is gone or that are older than ``max_age_s``, job cgroups of a grader
    that is gone together with the sandboxes still in them, and job folders under
    ``jobs_root`` whose grader is gone. Live jobs are never touched (their grader's pid
    exists). Returns how many were removed."""
    import shutil

    removed = 0
    now = time.time()
    if jobs_root is not None and jobs_root.is_dir():
        for job in jobs_root.glob("job-*"):
            if job.is_dir() and owner_gone(job.name):
                shutil.rmtree(job, ignore_errors=True)
                removed += 1
    version = cgroup_version()
    parents = []
    if version == 1:
        parents = [ROOT / "memory" / PARENT, ROOT / "pids" / PARENT]
    elif version == 2:
        parents = [ROOT / PARENT]
    for parent in parents:
        if not parent.is_dir():
            continue
        for group in parent.iterdir():
            if not group.is_dir() or not group.name.startswith("job-"):
                continue
            try:
                gone = owner_gone(group.name)
                if (group / "cgroup.procs").read_text().strip():
                    if not gone:
                        continue
                    # A sandbox whose grader died while bwrap was still setting it up:
                    # bwrap's init arms its parent-death signal only after the mounts,
                    # so a worker killed in that window leaves init and kernel running.
                    _kill_all([group / "cgroup.procs"])
                    _rmdir_when_empty(group)  # its members leave a moment after
                elif now - group.stat().st_mtime < max_age_s and not gone:
                    continue
                else:
                    group.rmdir()
                removed += 1
            except OSError:
                continue
    for stage in stage_root.glob(".ml-autograder-stage-job-*"):
        try:
            job_name = stage.name.removeprefix(".ml-autograder-stage-")
            if now - stage.stat().st_mtime >= max_age_s or owner_gone(job_name):
                for sub in stage.iterdir():
                    sub.rmdir()  # empty mount points only: never deletes contents
                stage.rmdir()
                removed += 1
        except OSError:
            continue
    return removed
