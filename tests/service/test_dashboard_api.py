"""The API the dashboard pages need, over real HTTP: who am I, the live queue, the late
filter, the release state, and the security headers on every page and response."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from service.db.base import utcnow
from tests.service.conftest import submit, wait_graded

pytestmark = pytest.mark.sandbox


def test_me_names_the_account_and_its_role(server, users):
    assert server.client(users.alice).get("/me").json()["role"] == "student"
    me = server.client(users.prof).get("/me").json()
    assert me["name"] == "prof" and me["role"] == "instructor"
    assert server.client("agt_wrong").get("/me").status_code == 401


def test_the_queue_shows_waiting_running_and_failed_runs_with_reasons(server, users):
    alice, staff = server.client(users.alice), server.client(users.prof)
    assert alice.get("/queue").status_code == 403
    crashed = submit(alice, "hanging_function.ipynb").json()
    seen = staff.get("/queue").json()
    assert seen["workers_healthy"] is True
    assert set(seen["counts"]) == {"queued", "running", "graded", "failed"}
    waiting = [r for r in seen["queued"] + seen["running"] if r["submission_id"] == crashed["id"]]
    assert waiting and waiting[0]["student"] == "alice"
    if waiting[0]["status"] == "queued":
        assert waiting[0]["position"] >= 1
    wait_graded(alice, crashed["id"])
    after = staff.get("/queue").json()
    assert all(r["submission_id"] != crashed["id"] for r in after["queued"] + after["running"])
    assert after["counts"]["graded"] + after["counts"]["failed"] >= 1
    assert "ee411-hw3" in after["assignments"]


def test_submissions_filter_late_and_on_time(server, users):
    staff, bob = server.client(users.prof), server.client(users.bob)
    on_time = submit(bob, "correct_basic.ipynb").json()
    past = (utcnow() - timedelta(hours=5)).isoformat() + "Z"
    staff.patch("/assignments/ee411-hw3", json={"deadline": past, "late_policy": "accept"})
    try:
        late = submit(bob, "correct_basic.ipynb").json()
    finally:
        staff.patch("/assignments/ee411-hw3", json={"deadline": None})
    assert late["late_days"] == 1
    late_ids = {s["id"] for s in staff.get("/submissions", params={
        "student": "bob", "late": "true"}).json()["items"]}
    on_time_ids = {s["id"] for s in staff.get("/submissions", params={
        "student": "bob", "late": "false"}).json()["items"]}
    assert late["id"] in late_ids and late["id"] not in on_time_ids
    assert on_time["id"] in on_time_ids and on_time["id"] not in late_ids
    for sid in (late["id"], on_time["id"]):
        wait_graded(bob, sid)


def test_assignments_say_whether_hidden_results_are_released(server, users):
    staff = server.client(users.prof)
    listed = {a["id"]: a for a in staff.get("/assignments").json()}
    assert all(isinstance(a["hidden_released"], bool) for a in listed.values())
    released = staff.post("/assignments/tum-ps10/release").json()
    assert released["hidden_released"] is True
    assert server.client(users.alice).get("/assignments/tum-ps10").json()["hidden_released"]


def test_pages_and_api_answers_carry_the_security_headers(server):
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{server.url}/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    answer = httpx.get(f"{server.url}/api/v1/me")
    assert answer.status_code == 401
    assert answer.headers["cache-control"] == "no-store"
    assert "content-security-policy" in answer.headers
    assert not page.cookies and not answer.cookies  # nothing for a forged request to ride on


def test_the_dashboard_reads_no_private_endpoint(server):
    """Every API path the pages call is in the public OpenAPI document."""
    import re

    from service.web import STATIC

    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    patterns = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/?]+", p) + "$") for p in paths]
    called = set()
    for source in STATIC.glob("*.js"):
        for literal in re.findall(r"(?:api|download)\(`([^`]+)`|api\(\"([^\"]+)\"",
                                  source.read_text()):
            path = next(x for x in literal if x).split("?")[0]
            called.add(re.sub(r"\$\{[^}]+\}", "x", path))
    assert len(called) >= 10
    for path in called:
        assert any(p.match(f"/api/v1{path}") for p in patterns), path
