"""End to end over real HTTP: uvicorn, real worker processes, the real sandbox."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from service.db.base import utcnow
from tests.service.conftest import submit, wait_graded

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def graded(server, users):
    """alice hands in two notebooks, bob one; all graded before the tests read them."""
    alice, bob = server.client(users.alice), server.client(users.bob)
    ids = {
        "alice-summed": submit(alice, "summed_gradient.ipynb").json()["id"],
        "bob-correct": submit(bob, "correct_basic.ipynb").json()["id"],
        "alice-loops": submit(alice, "loops_gradient.ipynb").json()["id"],
    }
    for key, sid in ids.items():
        client = bob if key.startswith("bob") else alice
        wait_graded(client, sid)
    return ids


def test_submission_is_accepted_then_graded_with_per_question_scores(server, users, graded):
    body = server.client(users.alice).get(f"/submissions/{graded['alice-summed']}").json()
    assert body["status"] == "graded" and body["score"] == 20.0
    points = {q["id"]: q["points"] for q in body["report"]["questions"] if q["id"] < "2"}
    assert points == {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.4": 0.0, "1.5": 4.0}
    assert body["report"]["probes"] == []  # raw probe data is for staff only


def test_accept_returns_202_with_a_status_url_and_queue_position(server, users):
    client = server.client(users.bob)
    response = submit(client, "correct_module.py")
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status_url"] == f"/api/v1/submissions/{accepted['id']}"
    assert response.headers["location"] == accepted["status_url"]
    first = client.get(accepted["status_url"].removeprefix("/api/v1")).json()
    assert first["status"] in ("queued", "running", "graded")
    if first["status"] == "queued":
        assert first["queue_position"] >= 1
    assert wait_graded(client, accepted["id"])["score"] == 28.0


def test_an_idempotency_key_returns_the_same_submission(server, users):
    client = server.client(users.alice)
    first = submit(client, "correct_basic.ipynb", **{"Idempotency-Key": "retry-123"}).json()
    second = submit(client, "correct_basic.ipynb", **{"Idempotency-Key": "retry-123"}).json()
    assert first["id"] == second["id"]
    mine = client.get("/me/submissions", params={"limit": 200}).json()["items"]
    assert sum(1 for s in mine if s["id"] == first["id"]) == 1
    wait_graded(client, first["id"])


def test_one_idempotency_key_sent_many_times_at_once_is_one_submission(server, users):
    """Retries racing each other: every copy is answered with the one upload, none with
    a 500 from the database's uniqueness refusal."""
    client = server.client(users.bob)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: submit(
            client, "correct_basic.ipynb", **{"Idempotency-Key": "burst-789"}), range(8)))
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    wait_graded(client, answers[0].json()["id"])


def test_an_idempotency_key_reused_with_another_file_is_refused(server, users):
    client = server.client(users.alice)
    first = submit(client, "correct_basic.ipynb", **{"Idempotency-Key": "retry-456"})
    status = client.get(first.json()["status_url"].removeprefix("/api/v1")).json()
    assert status["created_at"].endswith("Z")  # timestamps say they are UTC
    other = submit(client, "summed_gradient.ipynb", **{"Idempotency-Key": "retry-456"})
    assert other.status_code == 422, other.text
    assert "different file" in other.json()["detail"]
    wait_graded(client, first.json()["id"])


def test_offsets_beyond_any_table_are_a_422_not_a_500(server, users):
    for path in ("/me/submissions", "/submissions"):
        client = server.client(users.prof if path == "/submissions" else users.alice)
        response = client.get(path, params={"offset": 2**63})
        assert response.status_code == 422, (path, response.text)


def test_executed_notebook_is_downloadable(server, users, graded):
    response = server.client(users.bob).get(f"/submissions/{graded['bob-correct']}/notebook")
    assert response.status_code == 200 and b'"nan\\n"' in response.content


def test_assignment_listing_and_details(server, users):
    client = server.client(users.alice)
    assert {a["id"] for a in client.get("/assignments").json()} == {
        "ee411-hw3", "heidelberg-ex08", "nyu-hw5", "tum-ps10", "vu-dl-a2"}
    detail = client.get("/assignments/ee411-hw3").json()
    assert detail["autograded_points"] == 47 and detail["manual_points"] == 28
    assert [q["id"] for q in detail["questions"]][:5] == ["1.1", "1.2", "1.3", "1.4", "1.5"]


def test_manual_score_and_comment_are_applied_and_audited(server, users, graded):
    staff = server.client(users.prof)
    sid = graded["bob-correct"]
    response = staff.patch(f"/submissions/{sid}/questions/1.4",
                           json={"points": 9, "comment": "clear derivation"})
    assert response.status_code == 200
    seen = server.client(users.bob).get(f"/submissions/{sid}").json()
    q14 = next(q for q in seen["report"]["questions"] if q["id"] == "1.4")
    assert q14["points"] == 9 and "Staff comment: clear derivation" in q14["feedback"]
    assert seen["score"] == 37.0
    too_many = staff.patch(f"/submissions/{sid}/questions/1.4", json={"points": 13})
    assert too_many.status_code == 422 and "at most 12" in too_many.json()["detail"]
    from sqlalchemy import select

    from service.db.models import AuditEvent
    from service.db.session import make_engine, make_sessionmaker

    engine = make_engine(server.settings().resolved_database_url)
    with make_sessionmaker(engine).begin() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "manual_grade" in actions


def test_instructor_lists_and_filters_submissions(server, users, graded):
    staff = server.client(users.prof)
    page = staff.get("/submissions", params={"assignment": "ee411-hw3", "student": "alice",
                                             "limit": 1}).json()
    assert page["total"] >= 2 and len(page["items"]) == 1
    latest = staff.get("/submissions", params={"student": "alice", "latest_only": True}).json()
    assert latest["total"] == 1
    assert staff.get("/submissions", params={"status": "graded"}).json()["total"] >= 3


def test_statistics_per_question(server, users, graded):
    staff = server.client(users.prof)
    latest = staff.get("/assignments/ee411-hw3/statistics").json()
    q15 = next(q for q in latest["questions"] if q["id"] == "1.5")
    assert q15["count"] == latest["students"] == 2  # one (the newest) per student
    assert sum(q15["histogram"]) == 2 and q15["max_points"] == 12
    every = staff.get("/assignments/ee411-hw3/statistics",
                      params={"latest_only": False}).json()
    q15 = next(q for q in every["questions"] if q["id"] == "1.5")
    assert q15["count"] == every["submissions"] >= 3
    assert q15["mean"] < 12 and q15["histogram"][9] >= 1
    lines = dict((line, n) for line, n in q15["frequent_feedback"])
    assert any("summed over the batch" in line for line in lines)


def test_gradebook_export_csv_latest_and_best(server, users, graded):
    staff = server.client(users.prof)
    latest = list(csv.DictReader(io.StringIO(
        staff.get("/assignments/ee411-hw3/export", params={"policy": "latest"}).text)))
    best = list(csv.DictReader(io.StringIO(
        staff.get("/assignments/ee411-hw3/export", params={"policy": "best"}).text)))
    assert {r["student"] for r in latest} == {"alice", "bob"}
    alice_best = next(r for r in best if r["student"] == "alice")
    assert float(alice_best["total"]) >= 26.0 and alice_best["late"] == "no"
    assert set(latest[0]) >= {"1.1", "1.5", "score", "total", "late", "late_days"}


def test_the_gradebook_lists_every_student_by_question_non_submitters_included(
        server, users, graded):
    from service.db.models import Role

    server.add_user("carol-never-submits", Role.STUDENT)
    staff = server.client(users.prof)
    book = staff.get("/assignments/ee411-hw3/gradebook").json()
    rows = {r["student"]: r for r in book["rows"]}
    carol = rows["carol-never-submits"]
    assert carol["status"] == "not_submitted" and carol["cells"] == {} and carol["total"] is None
    assert "prof" not in rows  # staff who never handed in are not in the class
    alice = rows["alice"]
    assert alice["status"] == "graded" and alice["cells"]["1.5"]["max_points"] == 12
    from graders import discover

    spec = discover()["ee411-hw3"].spec
    assert [q["id"] for q in book["questions"]] == [q.id for q in spec.questions]
    assert book["max_points"] == spec.autograded_points + spec.manual_points
    # the manual question is pending, not zero, for a hand-in nobody has graded by hand
    assert alice["cells"]["1.4"]["points"] is None and alice["pending"] >= 12
    # the export is the same table, for the students with a graded hand-in
    exported = {r["student"]: r for r in csv.DictReader(io.StringIO(
        staff.get("/assignments/ee411-hw3/export").text))}
    assert "carol-never-submits" not in exported
    assert float(exported["alice"]["total"]) == alice["total"]
    q15 = next(q for q in book["questions"] if q["id"] == "1.5")
    assert q15["graded"] == sum(1 for r in book["rows"] if "1.5" in r["cells"])


def test_gradebook_files_for_canvas_and_moodle_carry_each_students_total(server, users,
                                                                         graded):
    staff = server.client(users.prof)
    book = staff.get("/assignments/ee411-hw3/gradebook").json()
    totals = {r["student"]: r["total"] for r in book["rows"] if r["status"] == "graded"}
    assert totals and "carol-never-submits" not in totals

    canvas = list(csv.reader(io.StringIO(staff.get(
        "/assignments/ee411-hw3/export", params={"format": "canvas"}).text)))
    title = staff.get("/assignments/ee411-hw3").json()["title"]
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                         f"{title} (ee411-hw3)"]
    assert canvas[1][0].strip() == "Points Possible" and float(canvas[1][5]) == \
        book["max_points"]
    # matched by login: each row's grade is that student's own total
    assert {row[3]: float(row[5]) for row in canvas[2:]} == totals

    moodle = list(csv.DictReader(io.StringIO(staff.get(
        "/assignments/ee411-hw3/export", params={"format": "moodle"}).text)))
    assert {r["Username"]: float(r[title]) for r in moodle} == totals
    assert all("points graded" in r["Feedback"] for r in moodle)
    assert any("still to be graded by hand" in r["Feedback"] for r in moodle)


def test_gradebook_export_gradescope(server, users, graded):
    rows = server.client(users.prof).get(
        "/assignments/ee411-hw3/export", params={"format": "gradescope"}).json()
    entry = next(r for r in rows if r["student"] == "bob")
    assert {t["number"] for t in entry["results"]["tests"]} >= {"1.1", "1.5"}


def test_rescore_only_regrade_previews_then_publishes(server, users, graded):
    staff = server.client(users.prof)
    before = staff.get("/queue").json()["counts"]
    batch = staff.post("/assignments/ee411-hw3/regrade",
                       json={"rescore_only": True}).json()
    assert batch["pending"] == 0 and batch["runs"] >= 3 and not batch["published"]
    # a preview re-reads stored evidence: it is not counted as graded queue work
    after = staff.get("/queue").json()["counts"]
    assert after["graded"] - before["graded"] < batch["runs"], (before, after)
    assert all(c["old"] == c["new"] for c in batch["changes"])  # same rubric, same scores
    published = staff.post(f"/regrades/{batch['id']}/publish").json()
    assert published["published"]


def test_one_question_regrade_reruns_and_changes_only_that_question(server, users, graded):
    staff = server.client(users.prof)
    batch = staff.post("/assignments/ee411-hw3/regrade", json={"question": "1.5"}).json()
    assert batch["runs"] >= 3
    import time

    for _ in range(240):
        batch = staff.get(f"/regrades/{batch['id']}").json()
        if not batch["pending"]:
            break
        time.sleep(0.5)
    assert batch["pending"] == 0
    assert staff.post(f"/regrades/{batch['id']}/publish").json()["published"]
    body = staff.get(f"/submissions/{graded['alice-summed']}").json()
    assert body["score"] == 20.0 and len(body["runs"]) >= 3


def test_regrade_of_one_submission(server, users, graded):
    staff = server.client(users.prof)
    run = staff.post(f"/submissions/{graded['alice-loops']}/regrade")
    assert run.status_code == 202
    assert wait_graded(staff, graded["alice-loops"])["score"] == 26.0


def test_deadline_reject_and_penalty_policies(server, users):
    staff, alice = server.client(users.prof), server.client(users.alice)
    past = (utcnow() - timedelta(days=1, hours=2)).isoformat() + "Z"
    staff.patch("/assignments/ee411-hw3", json={"deadline": past, "late_policy": "reject"})
    rejected = submit(alice, "correct_basic.ipynb")
    assert rejected.status_code == 403 and "deadline" in rejected.json()["detail"]
    staff.patch("/assignments/ee411-hw3", json={"late_policy": "penalty",
                                                 "penalty_per_day": 0.1})
    late = submit(alice, "correct_basic.ipynb").json()
    assert late["late_days"] == 2
    wait_graded(alice, late["id"])
    rows = list(csv.DictReader(io.StringIO(
        staff.get("/assignments/ee411-hw3/export").text)))
    alice_row = next(r for r in rows if r["student"] == "alice")
    assert alice_row["late"] == "yes" and float(alice_row["total"]) == pytest.approx(28 * 0.8)
    staff.patch("/assignments/ee411-hw3", json={"deadline": None, "late_policy": "accept"})


def test_a_deadline_with_an_offset_is_converted_to_utc_and_one_without_is_refused(
        server, users):
    staff = server.client(users.prof)
    try:
        response = staff.patch("/assignments/ee411-hw3",
                               json={"deadline": "2030-01-01T00:00:00+05:00"})
        assert response.status_code == 200, response.text
        assert response.json()["deadline"] == "2029-12-31T19:00:00Z"
        # across a DST change: Europe/Zurich is +01:00 in winter, +02:00 in summer
        summer = staff.patch("/assignments/ee411-hw3",
                             json={"deadline": "2030-07-01T12:00:00+02:00"}).json()
        assert summer["deadline"].startswith("2030-07-01T10:00:00")
        naive = staff.patch("/assignments/ee411-hw3", json={"deadline": "2030-01-01T00:00:00"})
        assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    finally:
        staff.patch("/assignments/ee411-hw3", json={"deadline": None})


@pytest.mark.parametrize("field", ["late_policy", "penalty_per_day", "max_upload_bytes"])
def test_null_for_a_field_that_cannot_be_null_is_a_422_naming_it(server, users, field):
    response = server.client(users.prof).patch("/assignments/ee411-hw3", json={field: None})
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_rate_limit_per_student_per_hour(server, users):
    staff = server.client(users.prof)
    staff.patch("/assignments/ee411-hw3", json={"max_per_hour": 1})
    try:
        response = submit(server.client(users.bob), "correct_basic.ipynb")
        assert response.status_code == 429 and "limit is 1" in response.json()["detail"]
    finally:
        staff.patch("/assignments/ee411-hw3", json={"max_per_hour": 1000})


def test_health_readiness_and_metrics(server, users, graded):
    import httpx

    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["database"] == "ok"
    text = httpx.get(f"{server.url}/metrics").text
    assert "autograder_queue_depth" in text and "autograder_grading_seconds_count" in text
    assert 'autograder_runs{status="graded"}' in text


def test_openapi_docs_are_served(server):
    import httpx

    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200
    assert httpx.get(f"{server.url}/redoc").text == docs.text
    # self-contained: nothing from another host (no internet at grading time), no script
    assert "/api/v1/assignments/{assignment_id}/submissions" in docs.text
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", docs.text), docs.text[:500]
    assert "<script" not in docs.text
    assert "script-src 'self'" in docs.headers["content-security-policy"]
    assert "/api/v1/assignments/{assignment_id}/submissions" in httpx.get(
        f"{server.url}/openapi.json").json()["paths"]


def test_the_openapi_document_declares_bearer_auth_and_every_error(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    submit_op = spec["paths"]["/api/v1/assignments/{assignment_id}/submissions"]["post"]
    assert {"401", "403", "404", "413", "415", "422", "429", "503"} <= set(submit_op["responses"])
    error = submit_op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorBody")
    assert spec["components"]["schemas"]["ErrorBody"]["properties"]["detail"]["type"] \
        == "string"
    notebook = spec["paths"]["/api/v1/submissions/{submission_id}/notebook"]["get"]
    assert "application/x-ipynb+json" in notebook["responses"]["200"]["content"]
    export = spec["paths"]["/api/v1/assignments/{assignment_id}/export"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]


def test_staff_enrol_a_class_from_csv_and_reset_and_revoke_its_tokens(server, users):
    staff = server.client(users.prof)
    # a bad line enrols nobody, and says which line
    refused = staff.post("/users/import", json={"csv": "name,role\nzoe,student\nzed,wizard\n"})
    assert refused.status_code == 422 and "line 3" in refused.json()["detail"]
    assert "zoe" not in {u["name"] for u in staff.get("/users").json()}
    # staff enrol students, not staff
    staff_line = staff.post("/users/import", json={"csv": "mallory,instructor\n"})
    assert staff_line.status_code == 422 and "administrators" in staff_line.json()["detail"]
    made = staff.post("/users/import",
                      json={"csv": "name,role\nzoe,student\nzack\nalice,student\n"}).json()
    assert {c["name"] for c in made["created"]} == {"zoe", "zack"}
    assert made["existing"] == ["alice"]
    tokens = {c["name"]: c["token"] for c in made["created"]}
    zoe = server.client(tokens["zoe"])
    assert zoe.get("/me").json()["name"] == "zoe"
    # the roster is staff's: a student is refused
    assert zoe.get("/users").status_code == 403
    zoe_id = next(u["id"] for u in staff.get("/users").json() if u["name"] == "zoe")
    reset = staff.post(f"/users/{zoe_id}/token")
    assert reset.status_code == 200, reset.text
    fresh = reset.json()["token"]
    assert zoe.get("/me").status_code == 401  # the old token stopped working at once
    assert server.client(fresh).get("/me").status_code == 200
    revoked = staff.delete(f"/users/{zoe_id}/token").json()
    assert revoked["active"] is False
    assert server.client(fresh).get("/me").status_code == 401
    # only an administrator changes roles (and cannot demote themselves)
    assert staff.patch(f"/users/{zoe_id}", json={"role": "instructor"}).status_code == 403
    admin = server.client(users.admin)
    assert admin.patch(f"/users/{zoe_id}", json={"role": "instructor"}).json()["role"] \
        == "instructor"
    me = admin.get("/me").json()["id"]
    assert admin.patch(f"/users/{me}", json={"role": "student"}).status_code == 409
    from sqlalchemy import select

    from service.db.models import AuditEvent
    from service.db.session import make_engine, make_sessionmaker

    engine = make_engine(server.settings().resolved_database_url)
    with make_sessionmaker(engine).begin() as session:
        actions = set(session.scalars(select(AuditEvent.action)).all())
    assert {"import_roster", "reset_token", "revoke_token", "change_role"} <= actions


def test_a_rubric_item_edited_later_changes_every_submission_it_was_applied_to(
        server, users, graded):
    staff = server.client(users.prof)
    base = "/assignments/ee411-hw3/questions/1.4"
    view = staff.get(f"{base}/grading").json()
    assert view["manual"] and view["max_points"] == 12
    subs = [s["submission_id"] for s in view["submissions"]]
    assert len(subs) >= 2  # one per student: the submission that counts
    item = staff.post(f"{base}/rubric", json={"points": 8, "comment": "forward pass"}).json()
    extra = staff.post(f"{base}/rubric", json={"points": 6, "comment": "backward"}).json()
    for sid in subs:
        staff.put(f"/submissions/{sid}/rubric/{item['id']}", json={"on": True})
    after = staff.put(f"/submissions/{subs[0]}/rubric/{extra['id']}", json={"on": True}).json()
    points = {s["submission_id"]: s["points"] for s in after["submissions"]}
    assert points[subs[0]] == 12  # 8 + 6, capped at the question's 12
    assert points[subs[1]] == 8 and after["graded"] >= 2
    # the student sees the score and the item's comment
    owner = next(u for u in (users.alice, users.bob)
                 if server.client(u).get(f"/submissions/{subs[1]}").status_code == 200)
    seen = server.client(owner).get(f"/submissions/{subs[1]}").json()
    q14 = next(q for q in seen["report"]["questions"] if q["id"] == "1.4")
    assert q14["points"] == 8 and any("forward pass (+8)" in f for f in q14["feedback"])
    # edited once, re-scored everywhere it is applied
    edited = staff.patch(f"/rubric/{item['id']}", json={"points": 5}).json()
    points = {s["submission_id"]: s["points"] for s in edited["submissions"]}
    assert points[subs[1]] == 5 and points[subs[0]] == 11
    # removing every item leaves the question to be graded again, not zero
    removed = staff.put(f"/submissions/{subs[1]}/rubric/{item['id']}",
                        json={"on": False}).json()
    assert next(s for s in removed["submissions"]
                if s["submission_id"] == subs[1])["points"] is None
    # students cannot grade
    assert server.client(users.alice).put(f"/submissions/{subs[0]}/rubric/{item['id']}",
                                          json={"on": True}).status_code == 403


def test_blind_grading_shows_stable_pseudonyms_in_their_order_until_staff_reveal(
        server, users, graded):
    staff = server.client(users.prof)
    assert staff.patch("/assignments/ee411-hw3", json={"blind_grading": "yes"}
                       ).status_code == 422
    assert staff.patch("/assignments/ee411-hw3", json={"blind_grading": True}
                       ).json()["blind_grading"] is True
    try:
        first = staff.get("/assignments/ee411-hw3/questions/1.4/grading").json()
        again = staff.get("/assignments/ee411-hw3/questions/2.2b/grading").json()
        names = [s["student"] for s in first["submissions"]]
        assert first["blind"] and len(names) >= 2
        assert not {"alice", "bob"} & set(names)
        assert all(n.startswith("Student ") for n in names) and names == sorted(names)
        # the same pseudonym for the same submission in every question
        by_id = {s["submission_id"]: s["student"] for s in first["submissions"]}
        assert all(by_id[s["submission_id"]] == s["student"] for s in again["submissions"])
        # students never see it
        assert server.client(users.alice).get(
            "/assignments/ee411-hw3/questions/1.4/grading").status_code == 403
    finally:
        staff.patch("/assignments/ee411-hw3", json={"blind_grading": False})
    revealed = staff.get("/assignments/ee411-hw3/questions/1.4/grading").json()
    assert not revealed["blind"]
    assert {"alice", "bob"} <= {s["student"] for s in revealed["submissions"]}
