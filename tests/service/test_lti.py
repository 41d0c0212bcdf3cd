"""LTI 1.3 against a real platform (lti1p3platform, served over HTTP by
tests/service/lti_platform.py): staff link an LMS item to an assignment by deep linking,
learners and instructors launch into the dashboard with the LMS's role and no token of
their own, scores go back to the item's line item on release (each under its own
learner), the roster comes from the LMS, and forged, expired, misaddressed and replayed
launches are refused."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from service.db.base import utcnow
from service.db.migrate import migrate
from service.db.models import LtiLink, LtiMember, LtiPlatform, LtiScore, Role
from service.db.session import make_engine, make_sessionmaker
from service.lti.keys import load_or_create
from service.lti.launch import course_role
from service.lti.passback import CANVAS_SUBMISSION, MAX_ATTEMPTS, PassbackSender, Status
from tests.service.conftest import LiveServer, own_page, sign_in, submit, wait_graded
from tests.service.lti_platform import INSTRUCTOR, LEARNER, TA, parse_form
from tests.service.lti_platform import LtiPlatform as Lms

pytestmark = pytest.mark.sandbox

COURSE = "ml-101"
ASSIGNMENT = "ee411-hw3"


@dataclass
class Setup:
    server: LiveServer
    lms: Lms
    admin: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    server = LiveServer(tmp_path_factory.mktemp("lti"), workers=1,
                        extra_env={"AUTOGRADER_LTI_PASSBACK_INTERVAL_S": "0.2",
                                   "AUTOGRADER_LTI_REFRESH_S": "1"}).start()
    lms = Lms(server.url).start()
    try:
        admin = server.add_user("root", Role.ADMIN)
        for user, name, roles in (("t-1", "Prof Turing", [INSTRUCTOR]),
                                  ("s-ada", "Ada", [LEARNER]), ("s-bob", "Bob", [LEARNER]),
                                  ("ta-1", "Grace", [TA])):
            lms.add_member(COURSE, user, name=name, email=f"{user}@uni.example",
                           roles=roles)
        lms.add_member("own-sandbox", "s-ada", name="Ada", email="s-ada@uni.example",
                       roles=[INSTRUCTOR])  # a learner here, an instructor of her own course
        # the instructors of this course are staff here; no other course's are
        created = server.client(admin).post("/lti/platforms", json={
            **lms.registration(), "staff_contexts": [COURSE]})
        assert created.status_code == 201, created.text
        yield Setup(server, lms, admin)
    finally:
        lms.stop()
        server.stop()


def launch(lms: Lms, browser: httpx.Client, user: str, context_id: str = COURSE,
           **kwargs: object) -> httpx.Response:
    """What a browser does when the user clicks the LMS's item: the tool's login, the
    LMS's authorisation, the form it posts back to the tool's launch."""
    login = browser.get(lms.login_url(user, context_id, **kwargs))  # type: ignore[arg-type]
    assert login.status_code == 302, login.text
    assert login.headers["location"].startswith(lms.auth_login_url)
    authorized = browser.get(login.headers["location"])
    assert authorized.status_code == 200, authorized.text
    action, fields = parse_form(authorized.text)
    return browser.post(action, data=fields)


def session_of(page: httpx.Response) -> tuple[str, str]:
    """The landing page's session token and the dashboard page it opens."""
    token = re.search(r'name="autograder-session" content="([^"]+)"', page.text)
    path = re.search(r'name="autograder-landing" content="([^"]+)"', page.text)
    assert token and path, page.text
    return token.group(1), path.group(1)


@pytest.fixture(scope="module")
def linked(setup: Setup) -> str:
    """The instructor adds the item by deep linking: the LMS stores a resource link
    whose custom parameter names the assignment, with a line item for its scores."""
    with httpx.Client(timeout=30) as browser:
        picker = launch(setup.lms, browser, "t-1", message_type="LtiDeepLinkingRequest")
        assert picker.status_code == 200, picker.text
        assert "Choose an assignment" in picker.text
        action, fields = next((a, f) for a, f in _forms(picker.text)
                              if f.get("assignment") == ASSIGNMENT)
        answer = browser.post(setup.server.url + action, data=fields)
        assert answer.status_code == 200, answer.text
        back_to, signed = parse_form(answer.text)
        returned = browser.post(back_to, data=signed)
        assert returned.status_code == 200, returned.text
    [item] = setup.lms.deep_link_items
    assert item["custom"] == {"assignment": ASSIGNMENT}
    assert item["lineItem"]["resourceId"] == ASSIGNMENT
    [link] = setup.lms.resource_links(COURSE)  # the LMS's new item, opening the assignment
    return str(link["id"])


def _forms(page: str) -> list[tuple[str, dict[str, str]]]:
    return [parse_form(chunk + "</form>") for chunk in page.split("</form>")
            if "<form" in chunk]


def test_an_lms_role_maps_to_a_course_role_and_nothing_else_does():
    assert course_role([INSTRUCTOR]) is Role.INSTRUCTOR
    assert course_role([TA]) is Role.INSTRUCTOR
    assert course_role([LEARNER]) is Role.STUDENT
    # a sub-role is a kind of its principal role: a learner who instructs is a learner
    assert course_role(["http://purl.imsglobal.org/vocab/lis/v2/membership/Learner"
                        "#Instructor"]) is Role.STUDENT
    # an institution's staff who is a learner in this course is a student here
    assert course_role(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
                        LEARNER]) is Role.STUDENT
    assert course_role(["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"]) is None


def test_a_claim_that_is_not_an_object_reads_as_empty():
    from service.lti.launch import CLAIM, assignment_of, claim

    odd = {CLAIM + "context": "ml-101", CLAIM + "custom": ["assignment"]}
    assert claim(odd, "context") == {} and claim(odd, "resource_link") == {}
    assert assignment_of(odd, {ASSIGNMENT}) is None
    assert assignment_of({CLAIM + "custom": {"assignment": {"id": 1}}}, {ASSIGNMENT}) is None
    assert assignment_of({CLAIM + "custom": {"assignment": ASSIGNMENT}}, {ASSIGNMENT}) == \
        ASSIGNMENT


def test_learners_and_instructors_launch_into_the_dashboard_and_scores_go_back_on_release(
        setup: Setup, linked: str):
    lms, server = setup.lms, setup.server
    tokens = {}
    for user in ("s-ada", "s-bob", "t-1"):
        with httpx.Client(timeout=30) as browser:
            page = launch(lms, browser, user, resource_link_id=linked)
            assert page.status_code == 200, page.text
            tokens[user], path = session_of(page)
            assert path == ("#/" if user.startswith("s-") else f"#/assignments/{ASSIGNMENT}")
    me = {u: server.client(t).get("/me").json() for u, t in tokens.items()}
    assert me["s-ada"] == {**me["s-ada"], "name": "s-ada@uni.example", "role": "student"}
    assert me["t-1"]["role"] == "instructor"
    # a student's session is a student's: no staff page
    assert server.client(tokens["s-ada"]).get("/lti/platforms").status_code == 403

    ada, bob = server.client(tokens["s-ada"]), server.client(tokens["s-bob"])
    graded = {"s-ada": wait_graded(ada, submit(ada, "correct_basic.ipynb").json()["id"]),
              "s-bob": wait_graded(bob, submit(bob, "summed_gradient.ipynb").json()["id"])}
    assert graded["s-ada"]["score"] != graded["s-bob"]["score"]

    staff = server.client(tokens["t-1"])
    time.sleep(1.0)  # five passback rounds: nothing goes out before the release
    assert lms.results(COURSE) == {ASSIGNMENT: {}}  # the line item deep linking made, empty
    assert all(not link["scores"] for link in staff.get(f"/assignments/{ASSIGNMENT}/lti")
               .json()["links"])
    released_at = utcnow().isoformat(timespec="milliseconds")
    assert staff.post(f"/assignments/{ASSIGNMENT}/release").status_code == 200

    sent = _wait(lambda: lms.results(COURSE).get(ASSIGNMENT, {}), lambda r: len(r) == 2)
    gradebook = staff.get(f"/assignments/{ASSIGNMENT}/gradebook").json()
    book, book_max = {row["student"]: row for row in gradebook["rows"]}, gradebook["max_points"]
    for user in ("s-ada", "s-bob"):
        row = book[f"{user}@uni.example"]
        # each learner's own total, under their own id at the LMS
        assert sent[user]["scoreGiven"] == pytest.approx(row["total"])
        assert sent[user]["userId"] == user
        assert sent[user]["scoreMaximum"] == pytest.approx(book_max)
        # the score's own time (an LMS refuses one not newer than the last), and the hand-in's
        assert sent[user]["timestamp"] >= released_at
        assert sent[user][CANVAS_SUBMISSION]["submitted_at"].startswith(
            row["submitted_at"][:19])
    assert "t-1" not in sent  # staff are not graded
    status = staff.get(f"/assignments/{ASSIGNMENT}/lti").json()
    [link] = status["links"]
    assert {s["student"]: s["status"] for s in link["scores"]} == {
        "s-ada@uni.example": "sent", "s-bob@uni.example": "sent"}

    # after the release, a new hand-in reaches the LMS with no one asking
    better = wait_graded(bob, submit(bob, "correct_basic.ipynb").json()["id"])
    assert better["score"] > graded["s-bob"]["score"]
    again = _wait(lambda: lms.results(COURSE)[ASSIGNMENT]["s-bob"],
                  lambda r: r["scoreGiven"] != sent["s-bob"]["scoreGiven"])
    assert again["scoreGiven"] == pytest.approx(better["score"])
    assert again["timestamp"] > sent["s-bob"]["timestamp"]
    assert lms.results(COURSE)[ASSIGNMENT]["s-ada"] == sent["s-ada"]  # unchanged: not resent


def test_the_roster_comes_from_the_lms(setup: Setup, linked: str):
    lms, server = setup.lms, setup.server
    lms.add_member(COURSE, "s-cy", name="Cy", email="s-cy@uni.example", roles=[LEARNER])
    with httpx.Client(timeout=30) as browser:
        token, _ = session_of(launch(lms, browser, "t-1", resource_link_id=linked))
    staff = server.client(token)
    [link] = staff.get(f"/assignments/{ASSIGNMENT}/lti").json()["links"]
    imported = staff.post(f"/lti/links/{link['id']}/roster")
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"members": 5, "learners": 3, "staff": 2, "skipped": 0,
                               "groups": 0, "group_conflicts": []}
    names = {u["name"] for u in server.client(setup.admin).get("/users").json()}
    assert "s-cy@uni.example" in names  # before their first launch


def test_the_lms_groups_become_the_assignments_groups_only_when_staff_ask(setup: Setup,
                                                                         linked: str):
    lms, server = setup.lms, setup.server
    for user in ("s-dee", "s-eve", "s-fay"):
        lms.add_member(COURSE, user, name=user, email=f"{user}@uni.example", roles=[LEARNER])
    lms.add_group(COURSE, "g-7", name="team-7", members=["s-dee", "s-eve"])
    lms.add_group(COURSE, "g-8", name="team-8", members=["s-eve", "s-fay"])
    with httpx.Client(timeout=30) as browser:
        token, _ = session_of(launch(lms, browser, "t-1", resource_link_id=linked))
    staff = server.client(token)
    link = next(k for k in staff.get(f"/assignments/{ASSIGNMENT}/lti").json()["links"]
                if k["resource_link_id"] == linked)
    assert link["groups_service"]
    # the roster alone makes no group: an LMS's project groups need not be this one's
    assert staff.post(f"/lti/links/{link['id']}/roster").json()["groups"] == 0
    assert staff.get(f"/assignments/{ASSIGNMENT}/groups").json() == []
    imported = staff.post(f"/lti/links/{link['id']}/roster", params={"groups": "true"})
    assert imported.status_code == 200, imported.text
    # s-eve is in both of the LMS's groups: the second is a conflict, left for staff
    assert imported.json()["groups"] == 1
    [conflict] = imported.json()["group_conflicts"]
    assert conflict.startswith("team-8: s-eve@uni.example is already in group 'team-7'")
    assert staff.get(f"/assignments/{ASSIGNMENT}/groups").json() == [
        {"assignment_id": ASSIGNMENT, "name": "team-7",
         "members": ["s-dee@uni.example", "s-eve@uni.example"]}]


@pytest.mark.parametrize("forgery", ["signature", "audience", "expired", "deployment"])
def test_a_forged_or_misaddressed_launch_is_refused(setup: Setup, linked: str,
                                                    forgery: str):
    setup.lms.tamper_next(forgery)
    with httpx.Client(timeout=30) as browser:
        page = launch(setup.lms, browser, "s-ada", resource_link_id=linked)
    assert page.status_code == 401, page.text
    assert "could not be verified" in page.text
    assert "autograder-session" not in page.text


def test_an_instructor_of_another_course_is_not_staff_here(setup: Setup, linked: str):
    """Roles here are not per course: staff come only from the courses the registration
    lists, or a learner could make herself staff in a course of her own."""
    setup.lms.add_resource_link("own-sandbox", "her-item", title="HW3",
                                custom={"assignment": ASSIGNMENT})
    with httpx.Client(timeout=30) as browser:
        page = launch(setup.lms, browser, "s-ada", resource_link_id="her-item",
                      context_id="own-sandbox")
    token, path = session_of(page)
    assert path == "#/"
    me = setup.server.client(token)
    assert me.get("/me").json()["role"] == "student"
    assert me.get(f"/assignments/{ASSIGNMENT}/gradebook").status_code == 403


def test_signing_out_ends_a_launchs_session_and_leaves_an_api_token(setup: Setup,
                                                                     linked: str):
    with httpx.Client(timeout=30) as browser:
        token, _ = session_of(launch(setup.lms, browser, "s-bob", resource_link_id=linked))
    student = setup.server.client(token)
    assert student.get("/me").status_code == 200
    assert student.post("/me/sign-out").status_code == 204
    assert student.get("/me").status_code == 401
    admin = setup.server.client(setup.admin)
    assert admin.post("/me/sign-out").status_code == 204
    assert admin.get("/me").status_code == 200  # an API token is not a session


def test_the_registered_lms_may_frame_the_dashboard_and_no_other_site(setup: Setup):
    for path in ("/", "/lti/jwks"):
        headers = httpx.get(setup.server.url + path).headers
        policy = headers["content-security-policy"]
        assert f"frame-ancestors 'self' {setup.lms.issuer}" in policy
        assert "x-frame-options" not in headers
    # the API is never a page: still not framable by anyone
    api = httpx.get(setup.server.url + "/api/v1/me").headers
    assert "frame-ancestors 'none'" in api["content-security-policy"]


def test_a_replayed_launch_is_refused(setup: Setup, linked: str):
    with httpx.Client(timeout=30) as browser:
        first = launch(setup.lms, browser, "s-bob", resource_link_id=linked)
        assert first.status_code == 200
        # the same signed launch posted again, by the same browser (its state cookie alive)
        again = browser.post(f"{setup.server.url}/lti/launch", data=setup.lms.last_launch_form)
    assert again.status_code == 401, again.text
    assert "Invalid Nonce" in again.text and "autograder-session" not in again.text


@pytest.mark.browser
def test_an_administrator_registers_an_lms_from_the_dashboard(setup: Setup, browser: object):
    with own_page(browser, setup.server, "lti-register-platform") as page:
        sign_in(page, setup.admin)
        card = page.wait_for_selector("#lms-platforms #platform-list")
        assert setup.lms.issuer in card.inner_text()
        assert f"{setup.server.url}/lti/login" in page.inner_text("#lms-platforms dl")
        form = "#register-platform"
        for name, value in (("issuer", "https://moodle.uni.example"), ("client_id", "abc"),
                            ("deployment_ids", "1, 2"),
                            ("auth_login_url", "https://moodle.uni.example/mod/lti/auth.php"),
                            ("auth_token_url", "https://moodle.uni.example/mod/lti/token.php"),
                            ("key_set_url", "https://moodle.uni.example/mod/lti/certs.php"),
                            ("staff_contexts", "42")):
            page.fill(f"{form} input[name={name}]", value)
        page.click(f"{form} button[type=submit]")
        page.wait_for_selector("#platform-list li:has-text('moodle.uni.example')")
    listed = setup.server.client(setup.admin).get("/lti/platforms").json()["platforms"]
    moodle = next(p for p in listed if p["issuer"] == "https://moodle.uni.example")
    assert (moodle["deployment_ids"], moodle["staff_contexts"]) == (["1", "2"], ["42"])


@pytest.mark.browser
def test_a_launch_into_the_dashboard_signs_the_browser_in_with_the_lms_role(
        setup: Setup, linked: str, browser: object):
    for user, landing, shown in (("s-ada", "#/", "My submissions"),
                                 ("t-1", f"#/assignments/{ASSIGNMENT}", "Assignments")):
        with own_page(browser, setup.server, f"lti-{user}") as page:
            page.goto(setup.lms.login_url(user, COURSE, resource_link_id=linked))
            page.wait_for_url(f"{setup.server.url}/{landing}")
            page.wait_for_selector("#signout")
            assert f"{user}@uni.example" in page.inner_text("#who")
            assert shown in page.inner_text("#nav")
            if user == "t-1":  # the item, and the scores the release sent to it
                page.wait_for_selector("#lms table.scores")
                assert page.inner_text("#lms").count("sent") >= 2
            # the token is in this tab's sessionStorage, never in its address
            assert "agt_" not in page.url


def test_a_score_the_lms_refuses_is_retried_with_backoff_then_shown_as_failed(
        tmp_path: Path):
    """The outbox alone, against an LMS that does not answer (a closed port)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    closed = "http://127.0.0.1:9"
    with sessions.begin() as db:
        platform = LtiPlatform(issuer="https://lms.example", client_id="c", deployment_ids=["d"],
                               auth_login_url=f"{closed}/auth", auth_token_url=f"{closed}/token",
                               key_set_url=f"{closed}/jwks")
        db.add(platform)
        db.flush()
        from service.db import repository as repo

        user, _ = repo.create_user(db, name="ada", role=Role.STUDENT)
        link = LtiLink(platform_id=platform.id, deployment_id="d", context_id="c1",
                       resource_link_id="r1", assignment_id=ASSIGNMENT, ags_scopes=[
                           "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                       lineitem_url=f"{closed}/lineitems/1")
        db.add(link)
        db.flush()
        db.add(LtiMember(platform_id=platform.id, context_id="c1", user_id=user.id,
                         subject="s-ada", learner=True))
        db.add(LtiScore(link_id=link.id, user_id=user.id, subject="s-ada", score_given=7,
                        score_maximum=10, submitted_at=utcnow()))
    key = load_or_create(tmp_path)
    sender = PassbackSender(sessions, lambda: key, titles=lambda a: a)
    assert sender.send_due() == 1
    with sessions.begin() as db:
        [row] = db.query(LtiScore).all()
        assert (row.status, row.attempts) == (Status.PENDING, 1)
        assert "Connection" in (row.last_error or "")
        wait = row.next_attempt_at - utcnow()
        assert timedelta(seconds=3) < wait <= timedelta(seconds=5)
    assert sender.send_due() == 0  # not due again before its backoff
    with sessions.begin() as db:
        row = db.query(LtiScore).one()
        row.next_attempt_at, row.attempts = utcnow(), MAX_ATTEMPTS - 1
    sender.send_due()
    with sessions.begin() as db:
        row = db.query(LtiScore).one()
        assert (row.status, row.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    engine.dispose()


def _wait(read, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if done(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"not done in {timeout} s: {read()}")
