"""Review requests: a student asks once per question of a graded submission, staff
answer (with an override the report shows as theirs) and may reopen; the window closes
them; nobody else's requests are visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.db.models import Role
from tests.service.conftest import submit, wait_graded

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_a_student_asks_for_a_review_staff_answer_with_an_override_and_may_reopen(server):
    staff = server.client(server.add_user("rv-prof", Role.INSTRUCTOR))
    student = server.client(server.add_user("rv-student", Role.STUDENT))
    other = server.client(server.add_user("rv-other", Role.STUDENT))
    sid = submit(student, "summed_gradient.ipynb").json()["id"]
    before = wait_graded(student, sid)
    lost = next(q for q in before["report"]["questions"]
                if q["outcome"] not in ("manual", "ungraded") and q["points"] < q["max_points"])
    url = f"/submissions/{sid}/questions/{lost['id']}/review"

    filed = student.post(url, json={"comment": "I divided by the batch size as asked"})
    assert filed.status_code == 201, filed.text
    assert student.post(url, json={"comment": "again"}).status_code == 409  # once
    assert other.post(url, json={"comment": "me too"}).status_code == 404  # not theirs
    assert staff.post(url, json={"comment": "staff"}).status_code == 403
    queue = staff.get("/assignments/ee411-hw3/reviews", params={"status": "open"}).json()
    assert [r["student"] for r in queue if r["submission_id"] == sid] == ["rv-student"]

    request_id = filed.json()["id"]
    too_many = staff.post(f"/reviews/{request_id}/answer",
                          json={"answer": "x", "override": lost["max_points"] + 1})
    assert too_many.status_code == 422
    answered = staff.post(f"/reviews/{request_id}/answer", json={
        "answer": "Right: the mean was asked, your sum is off by B only",
        "override": lost["max_points"]})
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    seen = student.get(f"/submissions/{sid}/reviews").json()
    assert seen[0]["answer"].startswith("Right") and seen[0]["answered_by"] == "rv-prof"
    after = student.get(f"/submissions/{sid}").json()
    question = next(q for q in after["report"]["questions"] if q["id"] == lost["id"])
    assert question["points"] == lost["max_points"]
    assert any("After your review request" in line for line in question["feedback"])
    assert after["score"] > before["score"]

    assert student.post(url, json={"comment": "one more"}).status_code == 409
    assert staff.post(f"/reviews/{request_id}/reopen").status_code == 200
    assert student.post(url, json={"comment": "one more"}).status_code == 201


def test_requests_close_with_the_assignments_window(server):
    staff = server.client(server.add_user("win-prof", Role.INSTRUCTOR))
    student = server.client(server.add_user("win-student", Role.STUDENT))
    sid = submit(student, "correct_basic.ipynb").json()["id"]
    wait_graded(student, sid)
    closed = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert staff.patch("/assignments/ee411-hw3",
                       json={"review_until": closed}).status_code == 200
    try:
        refused = student.post(f"/submissions/{sid}/questions/1.1/review",
                               json={"comment": "please"})
        assert refused.status_code == 403 and "closed" in refused.json()["detail"]
        assert staff.get("/assignments/ee411-hw3").json()["review_until"] is not None
    finally:
        staff.patch("/assignments/ee411-hw3", json={"review_until": None})
    assert student.post(f"/submissions/{sid}/questions/1.1/review",
                        json={"comment": "please"}).status_code == 201
    assert student.post(f"/submissions/{sid}/questions/9.9/review",
                        json={"comment": "please"}).status_code == 404
