"""The leaderboard: each accuracy question's best hidden-set accuracy per student, under
pseudonyms students cannot work back to names, on only when staff turn it on. Reports
are stored as a worker stores them (nothing trains here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from graders import GradeReport, Outcome, ReportStatus, report_to_json
from graders.results import CheckResult, QuestionResult
from service.db import repository as repo
from service.db.models import GradingRun, Role, RunStatus, User
from service.db.session import make_engine, make_sessionmaker
from tests.service.conftest import LiveServer

pytestmark = pytest.mark.sandbox  # the server checks its sandbox at start-up


def _report(accuracy: float | None) -> str:
    checks = [] if accuracy is None else [CheckResult(
        kind="model_accuracy", name="accuracy", points=4 * accuracy, max_points=4,
        measured=accuracy)]
    return report_to_json(GradeReport(
        assignment_id="tum-ps10", assignment_version="1", engine_version="test",
        status=ReportStatus.GRADED, questions=[QuestionResult(
            id="2.3", title="training", points=4 * (accuracy or 0), max_points=6,
            outcome=Outcome.PARTIAL, checks=checks)]))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("leaderboard"), workers=0).start()
    tokens = {name: server.add_user(name, Role.STUDENT)
              for name in ("lena", "omar", "pia", "quinn")}
    tokens["staff"] = server.add_user("lb-prof", Role.INSTRUCTOR)
    engine = make_engine(server.settings().resolved_database_url)
    with make_sessionmaker(engine).begin() as session:
        # lena twice (her best counts), omar once, pia only ungraded, quinn nothing
        for name, accuracy in (("lena", 0.61), ("lena", 0.84), ("omar", 0.72), ("pia", None)):
            user = session.scalar(select(User).where(User.name == name))
            sha = hashlib.sha256(f"{name}{accuracy}".encode()).hexdigest()
            repo.ensure_blob(session, sha256=sha, size=1)
            _, run = repo.create_submission(session, assignment_id="tum-ps10", user=user,
                                            sha256=sha, filename="nb.ipynb",
                                            idempotency_key=None, late_days=0)
            stored = session.get(GradingRun, run.id)
            stored.status, stored.report_json = RunStatus.GRADED, _report(accuracy)
    engine.dispose()
    server.tokens = tokens  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_students_see_no_leaderboard_until_staff_open_it(live):
    lena = live.client(live.tokens["lena"])
    assert lena.get("/assignments/tum-ps10/leaderboard").status_code == 404
    staff = live.client(live.tokens["staff"])
    preview = staff.get("/assignments/tum-ps10/leaderboard").json()
    assert preview["enabled"] is False and preview["questions"]


def test_the_best_accuracy_per_student_ranks_under_pseudonyms_with_the_viewer_as_you(live):
    staff = live.client(live.tokens["staff"])
    assert staff.patch("/assignments/tum-ps10", json={"leaderboard": True}).status_code == 200
    try:
        seen = live.client(live.tokens["omar"]).get("/assignments/tum-ps10/leaderboard")
        (question,) = seen.json()["questions"]
        entries = question["entries"]
        assert [e["accuracy"] for e in entries] == [0.84, 0.72]  # lena's best, then omar
        assert entries[1]["name"] == "you" and entries[1]["you"]
        assert entries[0]["name"].startswith("Student ") and not entries[0]["you"]
        # no name, and no plain hash of one (a class list hashed would reveal it)
        text = seen.text
        assert "lena" not in text and "pia" not in text
        plain = hashlib.sha256(b"tum-ps10\0lena").hexdigest()[:6].upper()
        assert plain not in text
        # the same pseudonym for lena whoever looks (quinn, who handed nothing in)
        again = live.client(live.tokens["quinn"]).get("/assignments/tum-ps10/leaderboard")
        assert again.json()["questions"][0]["entries"][0]["name"] == entries[0]["name"]
    finally:
        staff.patch("/assignments/tum-ps10", json={"leaderboard": False})
    assert live.client(live.tokens["omar"]).get(
        "/assignments/tum-ps10/leaderboard").status_code == 404


def test_staff_opt_questions_in_one_by_one_and_students_see_only_those(live):
    staff, omar = live.client(live.tokens["staff"]), live.client(live.tokens["omar"])
    assert staff.patch("/assignments/tum-ps10", json={"leaderboard": True}).status_code == 200
    try:
        assert [q["question_id"] for q in omar.get(
            "/assignments/tum-ps10/leaderboard").json()["questions"]] == ["2.3"]
        only = staff.patch("/assignments/tum-ps10", json={"leaderboard_questions": ["2.4"]})
        assert only.status_code == 200 and only.json()["leaderboard_questions"] == ["2.4"]
        assert omar.get("/assignments/tum-ps10/leaderboard").json()["questions"] == []
        preview = staff.get("/assignments/tum-ps10/leaderboard").json()["questions"]
        assert [(q["question_id"], q["shown"]) for q in preview] == [("2.3", False)]
        for wrong in (["9.9"], ["2.4b"]):  # no such question; one graded by hand
            refused = staff.patch("/assignments/tum-ps10",
                                  json={"leaderboard_questions": wrong})
            assert refused.status_code == 422 and wrong[0] in refused.json()["detail"]
        assert staff.patch("/assignments/tum-ps10",
                           json={"leaderboard_questions": None}).status_code == 200
        assert [q["question_id"] for q in omar.get(
            "/assignments/tum-ps10/leaderboard").json()["questions"]] == ["2.3"]
    finally:
        staff.patch("/assignments/tum-ps10", json={"leaderboard": False,
                                                   "leaderboard_questions": None})


@pytest.mark.browser
def test_staff_hide_a_question_from_the_leaderboard_page_and_a_student_no_longer_sees_it(
        live):
    from playwright.sync_api import sync_playwright

    from tests.service.conftest import chromium_path, sign_in

    staff = live.client(live.tokens["staff"])
    assert staff.patch("/assignments/tum-ps10", json={"leaderboard": True}).status_code == 200
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(),
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_context(base_url=live.url).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            sign_in(page, live.tokens["staff"])
            page.goto("/#/leaderboard/tum-ps10")
            toggle = "section[data-question='2.3'] input[type=checkbox]"
            page.wait_for_selector(toggle)
            assert page.is_checked(toggle)
            page.click(toggle)
            page.wait_for_selector("section[data-question='2.3']:has-text('Hidden from students')")
            assert staff.get("/assignments/tum-ps10").json()["leaderboard_questions"] == []
            page.click("#signout")
            sign_in(page, live.tokens["omar"])
            page.goto("/#/leaderboard/tum-ps10")
            page.wait_for_selector("text=No accuracy has been measured yet.")
            assert page.locator("section[data-question='2.3']").count() == 0
        finally:
            browser.close()
            staff.patch("/assignments/tum-ps10", json={"leaderboard": False,
                                                       "leaderboard_questions": None})
    assert not errors, errors
