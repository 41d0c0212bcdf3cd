"""Failure drills for the distributed deployment, against real servers: a private Redis
and a private PostgreSQL (started here, so that they can be killed and restarted), the
API with the Celery dispatcher and database storage, and two Celery workers, each in its
own working directory with its own data folder: nothing is shared but the database, the
broker and the read-only datasets."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from service.db.models import GradingRun, Role, RunStatus
from service.db.session import make_engine, make_sessionmaker
from tests.conftest import ROOT, make_notebook
from tests.service.conftest import LiveServer, submit, wait_graded
from tests.service.servers import PostgresServer, RedisServer

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
LEASE_S = 10


@dataclass
class Worker:
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    queue_args: tuple[str, ...] = ("--queue", "cpu", "--concurrency", "1")

    def start(self) -> Worker:
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.home / "worker.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", *self.queue_args],
            cwd=self.home, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def pids(self) -> set[int]:
        assert self.process is not None
        out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True,
                             text=True).stdout
        return {int(p) for p in out.split()}

    def log_entries(self) -> list[dict[str, object]]:
        entries = []
        for line in (self.home / "worker.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    entries.append(json.loads(line))
        return entries

    def graded_runs(self) -> list[str]:
        return [str(e["run_id"]) for e in self.log_entries()
                if str(e.get("message", "")).startswith("grading run")]


@dataclass
class Cluster:
    redis: RedisServer
    postgres: PostgresServer
    api: LiveServer
    workers: list[Worker]
    token: str

    def client(self) -> httpx.Client:
        return self.api.client(self.token)

    def runs(self) -> list[GradingRun]:
        engine = make_engine(self.postgres.url)
        with make_sessionmaker(engine)() as session:
            found = list(session.scalars(select(GradingRun)).all())
        engine.dispose()
        return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("drills")
    with contextlib.ExitStack() as cleanup:  # whatever started is stopped, even on failure
        # the postgres user must reach its cluster: not under pytest's private folders
        pg_root = Path(tempfile.mkdtemp(prefix="ag-drill-pg-"))
        pg_root.chmod(0o755)
        cleanup.callback(shutil.rmtree, pg_root, ignore_errors=True)
        redis = RedisServer().start()
        cleanup.callback(redis.stop)
        postgres = PostgresServer(pg_root / "cluster").start()
        cleanup.callback(postgres.stop)
        # the bundled EE-411 and a one-question assignment that needs a GPU
        references = root / "reference"
        shutil.copytree(ROOT / "reference" / "ee411_hw3", references / "ee411_hw3")
        shutil.copytree(ROOT / "tests" / "fixtures" / "assignments" / "gpu_probe",
                        references / "gpu_probe")
        shared = {
            "AUTOGRADER_DISPATCHER": "celery", "AUTOGRADER_BROKER_URL": redis.url,
            "AUTOGRADER_DATABASE_URL": postgres.url, "AUTOGRADER_STORAGE": "database",
            "AUTOGRADER_LEASE_S": str(LEASE_S), "AUTOGRADER_RESEND_AFTER_S": "3",
            "AUTOGRADER_WORKER_ALIVE_S": "6", "AUTOGRADER_MAX_ATTEMPTS": "5",
            "AUTOGRADER_POOL_SIZE": "0", "AUTOGRADER_LOG_FORMAT": "json",
            "AUTOGRADER_CELL_TIMEOUT_S": "30", "AUTOGRADER_CALL_TIMEOUT_S": "5",
            "AUTOGRADER_REFERENCE_DIR": str(references),
        }
        api = LiveServer(root / "api", workers=0, extra_env=shared)
        api.data_dir.mkdir()
        api.start()
        cleanup.callback(api.stop)
        workers = []
        for name in ("worker-a", "worker-b"):
            home = root / name
            env = {**os.environ, **shared, "AUTOGRADER_DATA_DIR": str(home / "data"),
                   "AUTOGRADER_JOBS_DIR": str(home / "jobs")}
            workers.append(Worker(home, env).start())
            cleanup.callback(workers[-1].stop)
        token = api.add_user("drill", Role.STUDENT)
        cluster = Cluster(redis, postgres, api, workers, token)
        cluster.shared_env = shared  # type: ignore[attr-defined]
        yield cluster


def graded_once(cluster: Cluster, submission_ids: list[str]) -> dict[str, GradingRun]:
    runs = [r for r in cluster.runs() if r.submission_id in set(submission_ids)]
    by_submission = Counter(r.submission_id for r in runs)
    assert all(by_submission[s] == 1 for s in submission_ids), by_submission
    assert all(r.status == RunStatus.GRADED and r.score is not None for r in runs), [
        (r.status, r.reason) for r in runs]
    return {r.submission_id: r for r in runs}


def wait_running(cluster: Cluster, submission_id: str, timeout: float = 120) -> GradingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in cluster.runs():
            if run.submission_id == submission_id and run.status == RunStatus.RUNNING \
                    and run.started_at is not None:
                return run
        time.sleep(0.2)
    raise AssertionError(f"{submission_id} never started")


def holder_of(cluster: Cluster, run: GradingRun) -> Worker:
    """The worker whose process holds the run's lease (lease owners are host:pid)."""
    pid = int(str(run.lease_owner).rsplit(":", 1)[-1])
    return next(w for w in cluster.workers if pid in w.pids())


def test_two_workers_without_a_shared_folder_grade_twenty_submissions_once_each(cluster):
    client = cluster.client()
    names = ["correct_basic.ipynb", "summed_gradient.ipynb", "wrong_predict.ipynb",
             "correct_module.py"]
    ids = [submit(client, names[i % 4]).json()["id"] for i in range(20)]
    scores = [wait_graded(client, sid, timeout=400)["score"] for sid in ids]
    assert scores == [[28.0, 20.0, 23.0, 28.0][i % 4] for i in range(20)]
    runs = graded_once(cluster, ids)
    assert all(r.attempts == 1 for r in runs.values())
    per_worker = [set(w.graded_runs()) & {r.id for r in runs.values()} for w in cluster.workers]
    assert per_worker[0] and per_worker[1], "both workers should have graded some"
    assert not per_worker[0] & per_worker[1]  # no run executed twice
    assert per_worker[0] | per_worker[1] == {r.id for r in runs.values()}
    # nothing went through a folder: uploads and notebooks are in the database
    for folder in (cluster.api.data_dir, *(w.home / "data" for w in cluster.workers)):
        assert not (folder / "blobs").exists() or not any((folder / "blobs").rglob("*"))
    notebook = client.get(f"/submissions/{ids[0]}/notebook")
    assert notebook.status_code == 200 and json.loads(notebook.content)["cells"]
    # the API's log names the same run ids as the workers' (structured JSON lines)
    api_log = "".join(p.read_text() for p in cluster.api.data_dir.glob("server-*.log"))
    queued = {json.loads(line)["run_id"] for line in api_log.splitlines()
              if line.startswith("{") and "queued for submission" in line}
    assert {r.id for r in runs.values()} <= queued


def test_a_worker_killed_mid_run_is_redelivered_and_graded_once(cluster):
    client = cluster.client()
    sid = submit(client, "slow_correct.ipynb").json()["id"]
    running = wait_running(cluster, sid)
    holder = holder_of(cluster, running)
    holder.kill()
    body = wait_graded(client, sid, timeout=240)
    assert body["status"] == "graded" and body["score"] == 28.0
    run = graded_once(cluster, [sid])[sid]
    assert run.id == running.id and run.attempts == 2 and run.lease_expiries == 1
    survivor = next(w for w in cluster.workers if w is not holder)
    assert run.id in survivor.graded_runs()
    metrics = httpx.get(f"{cluster.api.url}/metrics").text
    assert "autograder_lease_expiries_total 1" in metrics
    holder.start()


def test_redis_restarted_mid_queue_loses_nothing(cluster):
    client = cluster.client()
    ids = [submit(client, "correct_module.py").json()["id"] for _ in range(8)]
    wait_graded(client, ids[0], timeout=240)
    cluster.redis.restart()  # every message still in the broker is gone
    scores = [wait_graded(client, sid, timeout=300)["score"] for sid in ids]
    assert scores == [28.0] * 8
    graded_once(cluster, ids)


def test_postgres_restarted_mid_run_the_worker_retries_its_write(cluster):
    client = cluster.client()
    sid = submit(client, "slow_correct.ipynb").json()["id"]
    running = wait_running(cluster, sid)
    holder = holder_of(cluster, running)
    cluster.postgres.stop()

    def retried() -> bool:  # storing the executed notebook or recording the result
        return any(str(e.get("message", "")).startswith("database unavailable while")
                   and e.get("run_id") == running.id for e in holder.log_entries())

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not retried():
        time.sleep(0.2)
    time.sleep(1.0)  # down a little longer: the retry is retried
    cluster.postgres.start()
    assert retried(), "the worker never had to retry a write"
    body = wait_graded(client, sid, timeout=240)
    assert body["status"] == "graded" and body["score"] == 28.0
    run = graded_once(cluster, [sid])[sid]
    assert run.id == running.id


GPU_NOTEBOOK = make_notebook(
    "import os\nprint('CUDA_VISIBLE_DEVICES=' + os.environ.get('CUDA_VISIBLE_DEVICES', 'unset'))",
    "def double(x):\n    return 2 * x")


def test_gpu_runs_wait_visibly_for_a_gpu_worker_then_run_on_its_slot(cluster, tmp_path):
    client = cluster.client()
    ready = httpx.get(f"{cluster.api.url}/readyz").json()
    assert ready["queues"]["gpu"]["workers"] == 0
    assert ready["assignments"]["gpu-probe"]["queue"] == "gpu"
    assert "no GPU worker" in ready["assignments"]["gpu-probe"]["warning"]
    assert "warning" not in ready["assignments"]["ee411-hw3"]
    sid = client.post("/assignments/gpu-probe/submissions",
                      files={"file": ("gpu.ipynb", GPU_NOTEBOOK)}).json()["id"]
    time.sleep(6)  # two CPU workers are idle: none may take a GPU run
    assert client.get(f"/submissions/{sid}").json()["status"] == "queued"
    staff = cluster.api.add_user("gpu-staff", Role.INSTRUCTOR)
    queue = cluster.api.client(staff).get("/queue").json()
    assert queue["queues"]["gpu"]["queued"] >= 1
    assert "no GPU worker" in queue["assignments"]["gpu-probe"]["warning"]

    env = {**os.environ, **cluster.shared_env,  # type: ignore[attr-defined]
           "AUTOGRADER_DATA_DIR": str(tmp_path / "data"),
           "AUTOGRADER_JOBS_DIR": str(tmp_path / "jobs")}
    gpu_worker = Worker(tmp_path / "gpu-worker", env,
                        queue_args=("--queue", "gpu", "--gpus", "0")).start()
    try:
        body = wait_graded(client, sid, timeout=240)
        assert body["status"] == "graded" and body["score"] == 1.0
        notebook = client.get(f"/submissions/{sid}/notebook").text
        assert "CUDA_VISIBLE_DEVICES=0" in notebook  # the slot's device, in the sandbox
        run = graded_once(cluster, [sid])[sid]
        assert run.id in gpu_worker.graded_runs()
        assert all(run.id not in w.graded_runs() for w in cluster.workers)
        ready = httpx.get(f"{cluster.api.url}/readyz").json()
        assert ready["queues"]["gpu"]["workers"] >= 1
        assert "warning" not in ready["assignments"]["gpu-probe"]
    finally:
        gpu_worker.stop()
