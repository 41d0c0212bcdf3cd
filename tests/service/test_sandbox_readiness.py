"""A deployment that cannot start a sandbox says so, in one place, and takes no work:
/readyz is 503 naming bubblewrap, submissions are refused with the reason (never graded
as the student's fault), and the log says it once without a flood of tracebacks."""

from __future__ import annotations

import time

import httpx
import pytest

from service.db.models import Role
from tests.service.conftest import LiveServer, submit

pytestmark = pytest.mark.sandbox


def test_without_bubblewrap_readiness_fails_and_submissions_are_refused_with_the_reason(
        tmp_path):
    server = LiveServer(tmp_path, workers=2, extra_env={
        "AUTOGRADER_BWRAP": str(tmp_path / "no-such-bwrap")}).start()
    try:
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert "bubblewrap (bwrap) is not installed" in ready.json()["detail"]
        token = server.add_user("dana", Role.STUDENT)
        with server.client(token) as client:
            refused = submit(client, "correct_basic.ipynb")
            assert refused.status_code == 503, refused.text
            assert "the sandbox cannot start" in refused.json()["detail"]
            assert client.get("/me/submissions").json()["total"] == 0  # nothing taken
        time.sleep(2)  # the workers have started and looked for a sandbox by now
    finally:
        server.stop()
    log = "".join(p.read_text(errors="replace") for p in tmp_path.glob("server-*.log"))
    assert log.count("the sandbox cannot start") == 1, log[-3000:]
    assert log.count("Traceback") == 0, log[-3000:]
