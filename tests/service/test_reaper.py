"""Leftovers of a grader killed on this host are swept while the service runs, not only
at its next start."""

from __future__ import annotations

import os
import subprocess
import time

from service.config import Settings
from service.worker import WorkerContext


def a_dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_running_worker_sweeps_the_job_folders_of_a_killed_grader(tmp_path):
    jobs = tmp_path / "jobs"
    dead = jobs / f"job-{a_dead_pid()}-abc"
    live = jobs / f"job-{os.getpid()}-def"
    for folder in (dead, live):
        (folder / "probe").mkdir(parents=True)
        (folder / "probe" / "plan.json").write_text("{}")
    settings = Settings(data_dir=tmp_path / "data", jobs_dir=jobs, reap_interval_s=0.2,
                        worker_alive_s=1.5, pool_size=0)
    ctx = WorkerContext.create(settings, worker_id="reaper-test")
    ctx.announce()
    try:
        deadline = time.monotonic() + 10
        while dead.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        ctx.close()
    assert not dead.exists()
    assert live.exists()  # its grader (this process) is alive
