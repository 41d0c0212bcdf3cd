"""Every endpoint against every kind of caller: no token, a bad token, the owning
student, another student, an instructor, an administrator."""

from __future__ import annotations

import time

import pytest

from tests.service.conftest import submit, wait_graded

pytestmark = pytest.mark.sandbox

OWNER, OTHER, STAFF, ADMIN, ANON, BAD = "owner", "other", "staff", "admin", "anon", "bad"


@pytest.fixture(scope="module")
def context(server, users):
    owner = server.client(users.alice)
    sid = submit(owner, "correct_basic.ipynb").json()["id"]
    wait_graded(owner, sid)
    batch = server.client(users.prof).post("/assignments/ee411-hw3/regrade",
                                           json={"rescore_only": True}).json()["id"]
    # a finished comparison, for the similarity rows
    prof = server.client(users.prof)
    assert prof.post("/assignments/ee411-hw3/similarity").status_code == 202
    deadline = time.monotonic() + 120
    while prof.get("/assignments/ee411-hw3/similarity").json()["status"] != "done":
        assert time.monotonic() < deadline, "the comparison did not finish"
        time.sleep(0.3)
    similarity = prof.get("/assignments/ee411-hw3/similarity").json()["id"]
    tokens = {OWNER: users.alice, OTHER: users.bob, STAFF: users.prof, ADMIN: users.admin,
              ANON: None, BAD: "agt_not-a-real-token"}
    return {"sid": sid, "batch": batch, "tokens": tokens, "similarity": similarity}


def nb():
    from tests.service.conftest import fixture_file

    return {"file": fixture_file("correct_basic.ipynb")}


# (method, path, body kind, {caller: expected status}); callers not listed expect 403
ENDPOINTS = [
    ("GET", "/assignments", None, {OWNER: 200, OTHER: 200, STAFF: 200, ADMIN: 200}),
    ("GET", "/assignments/ee411-hw3", None, {OWNER: 200, OTHER: 200, STAFF: 200, ADMIN: 200}),
    ("POST", "/assignments/ee411-hw3/submissions", "file",
     {OWNER: 202, OTHER: 202, STAFF: 202, ADMIN: 202}),
    ("GET", "/submissions/{sid}", None, {OWNER: 200, OTHER: 404, STAFF: 200, ADMIN: 200}),
    ("GET", "/submissions/{sid}/notebook", None,
     {OWNER: 200, OTHER: 404, STAFF: 200, ADMIN: 200}),
    ("GET", "/me/submissions", None, {OWNER: 200, OTHER: 200, STAFF: 200, ADMIN: 200}),
    ("GET", "/submissions", None, {STAFF: 200, ADMIN: 200}),
    ("PATCH", "/submissions/{sid}/questions/1.4", {"points": 1},
     {OTHER: 404, STAFF: 200, ADMIN: 200}),
    ("POST", "/submissions/{sid}/regrade", None, {OTHER: 404, STAFF: 202, ADMIN: 202}),
    ("PATCH", "/assignments/ee411-hw3", {"max_per_hour": 1000}, {STAFF: 200, ADMIN: 200}),
    ("POST", "/assignments/ee411-hw3/release", None, {STAFF: 200, ADMIN: 200}),
    ("GET", "/assignments/ee411-hw3/statistics", None, {STAFF: 200, ADMIN: 200}),
    ("GET", "/assignments/ee411-hw3/export", None, {STAFF: 200, ADMIN: 200}),
    ("GET", "/assignments/ee411-hw3/gradebook", None, {STAFF: 200, ADMIN: 200}),
    ("POST", "/assignments/ee411-hw3/regrade", {"rescore_only": True},
     {STAFF: 202, ADMIN: 202}),
    ("GET", "/regrades/{batch}", None, {STAFF: 200, ADMIN: 200}),
    ("POST", "/regrades/{batch}/publish", None, {STAFF: 200, ADMIN: 200}),
    # staff enrol students; only administrators make staff
    ("POST", "/users", {"name": "u-{caller}", "role": "student"}, {STAFF: 201, ADMIN: 201}),
    ("POST", "/users", {"name": "i-{caller}", "role": "instructor"}, {ADMIN: 201}),
    ("GET", "/users", None, {STAFF: 200, ADMIN: 200}),
    ("POST", "/users/import", {"csv": "csv-{caller},student"}, {STAFF: 201, ADMIN: 201}),
    ("GET", "/assignments/ee411-hw3/groups", None, {STAFF: 200, ADMIN: 200}),
    # one group, its members set again by each staff caller
    ("PUT", "/assignments/ee411-hw3/groups/matrix", {"members": ["bob"]},
     {STAFF: 200, ADMIN: 200}),
    # a student lists only their own extension; staff grant and withdraw them
    ("GET", "/assignments/ee411-hw3/extensions", None,
     {OWNER: 200, OTHER: 200, STAFF: 200, ADMIN: 200}),
    ("PUT", "/assignments/ee411-hw3/extensions/bob",
     {"deadline": "2099-01-01T00:00:00Z", "reason": "granted by {caller}"},
     {STAFF: 200, ADMIN: 200}),
    ("DELETE", "/assignments/ee411-hw3/extensions/nobody-such", None,
     {STAFF: 404, ADMIN: 404}),
    # the student who handed in asks; staff answer from their queue
    ("POST", "/submissions/{sid}/questions/1.2/review", {"comment": "please look"},
     {OWNER: 201, OTHER: 404}),
    ("GET", "/submissions/{sid}/reviews", None,
     {OWNER: 200, OTHER: 404, STAFF: 200, ADMIN: 200}),
    ("GET", "/assignments/ee411-hw3/reviews", None, {STAFF: 200, ADMIN: 200}),
    ("POST", "/reviews/no-such-request/answer", {"answer": "checked"},
     {STAFF: 404, ADMIN: 404}),
    ("POST", "/reviews/no-such-request/reopen", None, {STAFF: 404, ADMIN: 404}),
    # off by default: students find none, staff see the preview
    ("GET", "/assignments/ee411-hw3/leaderboard", None,
     {OWNER: 404, OTHER: 404, STAFF: 200, ADMIN: 200}),
    # staff only; a start while another staff caller's comparison still runs is a 409
    ("POST", "/assignments/ee411-hw3/similarity", None,
     {STAFF: (202, 409), ADMIN: (202, 409)}),
    ("GET", "/assignments/ee411-hw3/similarity", None, {STAFF: 200, ADMIN: 200}),
    # one hand-in in this server's class: no pair
    ("GET", "/similarity/{similarity}/pairs/1", None, {STAFF: 404, ADMIN: 404}),
    # versions are staff's; a notebook is no assignment folder (422 says so)
    ("GET", "/assignments/ee411-hw3/versions", None, {STAFF: 200, ADMIN: 200}),
    # publishing runs staff code in the service: administrators by default
    ("POST", "/assignments/ee411-hw3/versions", "file", {ADMIN: 422}),
    ("POST", "/assignments/ee411-hw3/versions/0/live", None, {ADMIN: 200}),
    ("POST", "/assignments/ee411-hw3/versions/7/live", None, {ADMIN: 404}),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
@pytest.mark.parametrize("caller", [OWNER, OTHER, STAFF, ADMIN, ANON, BAD])
def test_authorization_matrix(server, context, method, path, body, expected, caller):
    url = path.format(sid=context["sid"], batch=context["batch"],
                      similarity=context["similarity"])
    client = server.client(context["tokens"][caller])
    kwargs: dict = {}
    if body == "file":
        kwargs["files"] = nb()
    elif isinstance(body, dict):
        kwargs["json"] = {k: v.format(caller=caller) if isinstance(v, str) else v
                          for k, v in body.items()}
    response = client.request(method, url, **kwargs)
    want = 401 if caller in (ANON, BAD) else expected.get(caller, 403)
    wanted = want if isinstance(want, tuple) else (want,)
    assert response.status_code in wanted, response.text
    if want == 404 and "{sid}" in path:
        # another student's submission is indistinguishable from a missing one
        assert response.json()["detail"] == "There is no such submission."


def test_a_student_never_sees_another_students_work_in_listings(server, context, users):
    other = server.client(users.bob).get("/me/submissions").json()["items"]
    assert all(item["student"] == "bob" for item in other)
    assert context["sid"] not in {item["id"] for item in other}
