"""Per-job cgroups and the sweep of what a killed grader leaves behind."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from graders.sandbox import cgroups
from graders.sandbox.cgroups import JobCgroup, cgroup_version, sweep_stale

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or cgroup_version() is None,
                                reason="creating cgroups needs root and a cgroup hierarchy")


@pytest.fixture(autouse=True)
def private_parent(monkeypatch):
    """These tests' job cgroups under a parent of their own: the sweeps they make would
    otherwise also see (and could remove) another pytest worker's gradings' groups."""
    name = f"ml-autograder-test-{os.getpid()}"
    monkeypatch.setattr(cgroups, "PARENT", name)
    yield
    for parent in (cgroups.ROOT / name, cgroups.ROOT / "memory" / name,
                   cgroups.ROOT / "pids" / name):
        if parent.is_dir():
            parent.rmdir()


def test_limits_are_written_and_a_process_can_join():
    group = JobCgroup.create(f"job-test-{os.getpid()}", memory_bytes=256 << 20,
                             max_processes=16)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        group.join(sleeper.pid)
        assert sleeper.pid in group.pids()
        assert group.stats().oom_kills == 0
    finally:
        group.remove()  # kills what is left inside
        sleeper.wait(timeout=10)
    assert sleeper.returncode == -9
    assert not any(d.exists() for d in group.dirs)


def test_sweep_removes_empty_stale_groups_and_keeps_live_ones(tmp_path):
    stale = JobCgroup.create(f"job-stale-{os.getpid()}", memory_bytes=1 << 30,
                             max_processes=16)
    live = JobCgroup.create(f"job-live-{os.getpid()}", memory_bytes=1 << 30, max_processes=16)
    sleeper = subprocess.Popen(["sleep", "30"])
    live.join(sleeper.pid)
    stage = tmp_path / ".ml-autograder-stage-job-old"
    (stage / "env").mkdir(parents=True)
    old = time.time() - 3600
    os.utime(stage, (old, old))
    try:
        sweep_stale(max_age_s=0, stage_root=tmp_path)
        assert not any(d.exists() for d in stale.dirs)
        assert all(d.exists() for d in live.dirs)
        assert not stage.exists()
    finally:
        live.remove()
        sleeper.wait(timeout=10)
        stale.remove()


def test_job_folders_of_a_grader_that_is_gone_are_swept_whatever_their_age(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    dead = tmp_path / f"job-{dead_pid}-abc123"
    live = tmp_path / f"job-{os.getpid()}-def456"
    other = tmp_path / "job-legacy"
    for folder in (dead, live, other):
        (folder / "probe").mkdir(parents=True)
    assert sweep_stale(jobs_root=tmp_path) >= 1
    assert not dead.exists() and live.exists() and other.exists()


def test_a_sandbox_left_running_by_a_grader_that_is_gone_is_killed_by_the_sweep():
    # bwrap arms its init's parent-death signal only after the namespace is set up: a
    # worker killed in that window leaves init and kernel running, in the job's cgroup
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    orphaned = JobCgroup.create(f"job-{int(gone.stdout)}-orphan-1", memory_bytes=1 << 30,
                                max_processes=16)
    ours = JobCgroup.create(f"job-{os.getpid()}-ours-1", memory_bytes=1 << 30,
                            max_processes=16)
    left, running = subprocess.Popen(["sleep", "30"]), subprocess.Popen(["sleep", "30"])
    orphaned.join(left.pid)
    ours.join(running.pid)
    try:
        assert sweep_stale() >= 1
        assert left.wait(timeout=10) == -9
        assert not any(d.exists() for d in orphaned.dirs)
        assert running.poll() is None and all(d.exists() for d in ours.dirs)
    finally:
        ours.remove()
        orphaned.remove()
        running.wait(timeout=10)
        left.wait(timeout=10)
