"""The Celery transport with a real Redis broker and real Celery worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from service.db.models import Role, RunStatus
from tests.conftest import ROOT
from tests.service.conftest import LiveServer, submit, wait_graded
from tests.service.test_reliability import runs

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
BROKER = "redis://127.0.0.1:6379/7"


def ensure_redis() -> None:
    """This machine kind runs Redis; start it if it is down."""
    import redis

    client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
    try:
        client.ping()
        return
    except redis.ConnectionError:
        pass
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                    "--port", "6379", "--save", "", "--appendonly", "no", "--dir",
                    "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"], check=False)
    for _ in range(50):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.2)
    pytest.fail("Redis is not running and could not be started")


def test_celery_workers_grade_each_submission_once(tmp_path):
    ensure_redis()
    env = {"AUTOGRADER_DISPATCHER": "celery", "AUTOGRADER_BROKER_URL": BROKER,
           "AUTOGRADER_QUEUE_PREFIX": f"agtest{uuid.uuid4().hex[:8]}"}
    server = LiveServer(tmp_path, workers=0, extra_env=env).start()
    log = open(tmp_path / "celery.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker", "--celery", "--concurrency", "2"],
        cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        token = server.add_user("erin", Role.STUDENT)
        client = server.client(token)
        import httpx

        assert httpx.get(f"{server.url}/readyz").json()["queue"] == "ok"
        names = ["correct_basic.ipynb", "wrong_predict.ipynb", "correct_module.py",
                 "summed_gradient.ipynb"]
        ids = [submit(client, name).json()["id"] for name in names]
        scores = [wait_graded(client, sid, timeout=240)["score"] for sid in ids]
        assert scores == [28.0, 23.0, 28.0, 20.0], (tmp_path / "celery.log").read_text()[-3000:]
        done = runs(server)
        assert len(done) == 4
        assert all(r.status == RunStatus.GRADED and r.attempts == 1 for r in done)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        server.stop()
