"""The dashboard in real headless Chromium (Debian's package) against a real service:
students hand in and watch their grade arrive; staff filter, open, grade by hand,
release, preview and publish a rescore, and export; hostile notebook output stays inert.
Each test leaves a screenshot under test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOKS, ROOT
from tests.service.conftest import (
    SCREENSHOTS,
    LiveServer,
    Users,
    own_page,
    sign_in,
    submit,
    wait_graded,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

HW3 = NOTEBOOKS / "ee411_hw3"
SLOW = 180_000  # ms: a cold sandbox on a loaded 2-core machine


@pytest.fixture
def page(browser, server: LiveServer, request: pytest.FixtureRequest):
    with own_page(browser, server, request.node.name) as tab:
        yield tab


@pytest.fixture(scope="module")
def graded(server: LiveServer, users: Users) -> dict[str, str]:
    """Hand-ins made over the API, so that staff pages have a class to show."""
    alice, bob = server.client(users.alice), server.client(users.bob)
    ids = {"alice-summed": submit(alice, "summed_gradient.ipynb").json()["id"],
           "bob-correct": submit(bob, "correct_basic.ipynb").json()["id"],
           "bob-hostile": submit(bob, "hostile_html_outputs.ipynb").json()["id"]}
    for key, sid in ids.items():
        assert wait_graded(alice if key.startswith("alice") else bob, sid)["status"] == "graded"
    return ids


def test_the_root_shows_the_sign_in_page_under_a_strict_content_security_policy(page):
    response = page.goto("/")
    assert response is not None and response.ok
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    page.wait_for_selector("#signin")
    assert page.inner_text("h1") == "Sign in"
    icon = page.request.get("/favicon.ico")  # asked for by every browser, every page
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")


def test_a_wrong_token_is_refused_with_a_message_and_nothing_is_kept(page):
    page.goto("/")
    page.fill("#token", "agt_not-a-real-token")
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signin-status .msg-error")
    assert "not valid" in page.inner_text("#signin-status")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_student_uploads_a_notebook_and_watches_it_become_graded(page, server, users):
    sign_in(page, users.alice)
    page.wait_for_selector("#upload")
    page.select_option("#upload-assignment", "ee411-hw3")
    page.set_input_files("#upload-file", str(HW3 / "correct_basic.ipynb"))
    assert "correct_basic.ipynb" in page.inner_text("#chosen-file")
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    page.click("#upload-submit")
    page.wait_for_url("**/#/submission/*")
    first = page.inner_text("#live-status")
    assert "queued" in first or "running" in first, first
    page.wait_for_selector("#live-status .badge-graded", timeout=SLOW)
    assert page.evaluate("window.__sameDocument") is True
    submission_id = page.url.rsplit("/", 1)[-1]
    with server.client(users.alice) as api:
        body = api.get(f"/submissions/{submission_id}").json()
    assert body["score"] > 0
    # out of the whole assignment (manual questions included), with what is still to come
    total = sum(q["max_points"] for q in body["report"]["questions"])
    to_come = total - body["report"]["max_score"]
    assert f"score {body['score']:g} / {total:g} ({to_come:g} of them not graded yet)" in \
        page.inner_text("#live-status")
    questions = page.locator("section.question")
    assert questions.count() >= 4
    assert "passed" in questions.first.inner_text()
    assert page.locator("form.manual").count() == 0  # no staff controls for students
    page.click("text=My submissions")
    page.wait_for_selector("#my-submissions")
    assert "correct_basic.ipynb" in page.inner_text("#my-submissions")


def test_a_file_dropped_on_the_upload_area_is_chosen(page, users):
    sign_in(page, users.bob)
    page.wait_for_selector("#dropzone")
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File(['{}'], 'dropped.ipynb', { type: 'application/json' }));
        document.querySelector('#dropzone').dispatchEvent(
            new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }""")
    assert "dropped.ipynb" in page.inner_text("#chosen-file")
    assert page.is_enabled("#upload-submit")
    page.click("#upload-submit")  # an empty notebook is refused with the API's reason
    page.wait_for_selector("#upload-status .msg-error")
    assert "could not be read" in page.inner_text("#upload-status")


def test_a_keyboard_alone_chooses_a_file_to_hand_in(page, users):
    sign_in(page, users.bob)
    page.wait_for_selector("#dropzone")
    page.focus("#upload-assignment")
    page.keyboard.press("Tab")  # the next stop is the file input (transparent, not hidden)
    assert page.evaluate("document.activeElement.id") == "upload-file"
    assert page.evaluate("getComputedStyle(document.activeElement).display") != "none"
    # what the browser's own picker (Enter or Space on a focused file input) hands over;
    # the picker itself is the browser's, and headless Chromium opens it only sometimes
    page.set_input_files(":focus", str(HW3 / "correct_basic.ipynb"))
    assert "correct_basic.ipynb" in page.inner_text("#chosen-file")
    assert page.is_enabled("#upload-submit")


def test_pages_fit_a_phones_screen(page, users, graded):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, users.prof)
    for route, selector in (("/#/", "#assignments"), ("/#/submissions", "#submissions"),
                            ("/#/gradebook/ee411-hw3", "#gradebook"),
                            ("/#/overview/ee411-hw3", "#bins"), ("/#/users", "#users"),
                            ("/#/grade/ee411-hw3/1.4", "#new-item"),
                            (f"/#/submission/{graded['alice-summed']}", "section.question")):
        page.goto(route)
        page.wait_for_selector(selector)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (route, width)
        # a page change puts focus on its heading (not <body>), for screen readers, once
        # the page has rendered (a selector, not wait_for_function: the page's CSP forbids
        # the eval that wait_for_function needs)
        page.wait_for_selector("h1:focus, h2:focus", timeout=10_000)
    assert page.get_attribute("#live-status", "aria-live") == "polite"


def _no_literal_nothing(page) -> None:
    text = page.inner_text("main")
    assert "null" not in text and "undefined" not in text and "NaN" not in text, text[:2000]


def test_staff_see_the_gradebook_with_a_non_submitter_sort_and_filter_it(
        page, server, users, graded):
    from service.db.models import Role

    server.add_user("dora-no-hand-in", Role.STUDENT)
    sign_in(page, users.prof)
    page.goto("/#/assignments/ee411-hw3")
    page.click("a[href='#/gradebook/ee411-hw3']")
    page.wait_for_selector("#gradebook")
    dora = page.locator("#gradebook tr", has_text="dora-no-hand-in")
    assert "not submitted" in dora.inner_text()
    alice = page.locator("#gradebook tbody tr", has_text="alice")
    assert alice.locator("a[href^='#/submission/']").count() >= 1  # each cell opens it
    assert "to grade" in alice.inner_text()  # 1.4 is graded by hand: pending, not 0
    _no_literal_nothing(page)
    # sort by total, highest first; the non-submitter (no total) sorts last
    page.click("[data-sort=total]")  # a number sorts highest first on its first press
    assert page.get_attribute("th:has([data-sort=total])", "aria-sort") == "descending"
    names = page.locator("#gradebook tbody th").all_inner_texts()
    assert names[-1].startswith("dora-no-hand-in"), names
    # the keyboard reaches the sort buttons: focus stays on the one just pressed
    page.focus("[data-sort=student]")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.dataset.sort") == "student"
    page.select_option("#gradebook-status", "not_submitted")
    rows = page.locator("#gradebook tbody tr")
    assert rows.count() >= 1 and all("not submitted" in t for t in rows.all_inner_texts())
    page.fill("#gradebook-filter", "alice")
    assert page.locator("#gradebook tbody tr").count() == 0  # alice handed in
    page.select_option("#gradebook-status", "")
    assert page.locator("#gradebook tbody tr").count() == 1
    assert "1 of" in page.inner_text("#gradebook-count")


def _settled_bar(page, index: int) -> tuple[float, float, dict[str, float]]:
    """A bar's middle, once the chart has stopped resizing: it resizes (a frame later)
    when the table under it brings a scroll bar, and a click aimed at the earlier layout
    lands on the next bin."""
    where = (f"(() => {{ const b = Chart.getChart('totals-chart').getDatasetMeta(0)"
             f".data[{index}]; return [b.x, (b.y + b.base) / 2]; }})()")
    last = None
    for _ in range(50):
        now = (*page.evaluate(where), page.locator("#totals-chart").bounding_box())
        if now == last:
            return now
        last = now
        page.wait_for_timeout(100)
    raise AssertionError(f"the chart never settled: {last}")


def test_the_class_overview_draws_a_histogram_and_a_bar_lists_its_students(
        page, users, graded):
    sign_in(page, users.prof)
    page.goto("/#/overview/ee411-hw3")
    page.wait_for_selector("#bins")
    # drawn by the packaged chart library, with as many students as have a total
    drawn = page.evaluate("(() => { const c = window.Chart && Chart.getChart('totals-chart');"
                          " return c ? c.data.datasets[0].data : null; })()")
    assert drawn is not None and sum(drawn) >= 2, drawn
    assert page.evaluate("Chart.getChart('totals-chart').options.scales.x.title.text") \
        .startswith("total points")
    # click the tallest bar on the canvas: its students are listed
    tallest = max(range(len(drawn)), key=lambda i: drawn[i])
    page.locator("#totals-chart").scroll_into_view_if_needed()
    x, y, box = _settled_bar(page, tallest)
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#bin-students h3")
    assert page.inner_text("#bin-students h3").startswith(f"{drawn[tallest]} student(s)")
    listed = page.locator("#bin-students li")
    assert listed.count() == drawn[tallest]
    # the same by keyboard, from the table under the chart
    page.focus(f"#bins button[data-bin='{tallest}']")
    page.keyboard.press("Enter")
    assert page.locator("#bin-students li").count() == drawn[tallest]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "class_overview.png"), full_page=True)
    # a count opens the gradebook filtered to those students
    page.click("a[data-count=not_submitted]")
    page.wait_for_selector("#gradebook")
    assert page.input_value("#gradebook-status") == "not_submitted"
    assert page.locator("#question-stats").count() == 0
    _no_literal_nothing(page)


def test_staff_enrol_students_from_a_csv_and_revoke_a_token_on_the_users_page(
        page, server, users):
    sign_in(page, users.prof)
    page.click("nav a[href='#/users']")
    page.wait_for_selector("#users")
    # a bad line enrols nobody: the page says which line
    page.fill("#roster-csv", "name,role\nnia,student\nned,wizard\n")
    page.click("#roster-import button[type=submit]")
    page.wait_for_selector("#users-status .msg-error")
    assert "line 3" in page.inner_text("#users-status")
    assert page.locator("#users tr[data-user=nia]").count() == 0
    # chosen as a file, by keyboard: Tab reaches the file input
    page.set_input_files("#roster-file", files=[{
        "name": "roster.csv", "mimeType": "text/csv",
        "buffer": b"name,role\nnia,student\nned\n"}])
    page.wait_for_selector("#roster-csv:not(:placeholder-shown)")
    page.click("#roster-import button[type=submit]")
    page.wait_for_selector("#token-table")
    tokens = dict(zip(page.locator("#token-table tbody th").all_inner_texts(),
                      page.locator("#token-table code").all_inner_texts(), strict=True))
    assert set(tokens) == {"nia", "ned"} and all(t.startswith("agt_") for t in tokens.values())
    assert server.client(tokens["nia"]).get("/me").json()["name"] == "nia"
    page.wait_for_selector("#users tr[data-user=nia]")
    page.click("[data-revoke=nia]")
    page.wait_for_selector("#users tr[data-user=nia] .bad")
    assert "revoked" in page.inner_text("#users tr[data-user=nia]")
    assert server.client(tokens["nia"]).get("/me").status_code == 401
    # staff may not change roles (administrators do): no role control for them
    assert page.locator("#users select").count() == 0
    _no_literal_nothing(page)


def test_a_students_report_opens_with_a_summary_saying_what_to_fix(page, users, graded):
    sign_in(page, users.alice)
    page.goto(f"/#/submission/{graded['alice-summed']}")
    page.wait_for_selector("#summary tbody tr")
    rows = {r.split("\t")[0].split(" ")[0]: r for r in
            page.locator("#summary tbody tr").all_inner_texts()}
    assert {"1.1", "1.4", "1.5"} <= set(rows)
    assert "summed over the batch" in rows["1.5"]  # the first thing to fix, in one line
    assert "– / 12" in rows["1.4"]  # graded by hand: not counted yet, out of its 12
    assert "5 / 5" in rows["1.1"] and "passed" in rows["1.1"]
    _no_literal_nothing(page)


def _serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} -> "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_no_page_has_a_serious_accessibility_violation(page, users, graded):
    """axe-core on every page, as staff and as a student, at 1280 px and 390 px."""
    # the checker finds what it must: an image without text and an unnamed button
    page.goto("/")
    page.set_content('<html lang="en"><body><main><img src="data:,"><button></button>'
                     "</main></body></html>")
    assert len(_serious_violations(page)) >= 2
    found: dict[str, list[str]] = {}
    page.goto("/")
    page.wait_for_selector("#token")
    found["sign-in"] = _serious_violations(page)
    sign_in(page, users.prof)
    staff_pages = (("/#/", "#assignments"), ("/#/assignments/ee411-hw3", "#statistics"),
                   ("/#/submissions", "#submissions"),
                   (f"/#/submission/{graded['alice-summed']}", "section.question"),
                   ("/#/gradebook/ee411-hw3", "#gradebook"), ("/#/overview/ee411-hw3", "#bins"),
                   ("/#/users", "#users"), ("/#/grade/ee411-hw3/1.4", "#new-item"))
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for route, selector in staff_pages:
            page.goto(route)
            page.wait_for_selector(selector)
            found[f"{route} @{width}"] = _serious_violations(page)
    page.click("#signout")
    sign_in(page, users.bob)
    for route, selector in (("/#/", "#upload"),
                            (f"/#/submission/{graded['bob-correct']}", "section.question")):
        page.goto(route)
        page.wait_for_selector(selector)
        found[f"student {route}"] = _serious_violations(page)
    assert not {k: v for k, v in found.items() if v}, found


def test_staff_grade_a_question_across_three_submissions_by_keyboard_with_a_rubric_item(
        page, server, users, graded):
    from service.db.models import Role

    cleo = server.client(server.add_user("cleo-third", Role.STUDENT))
    sid = submit(cleo, "correct_basic.ipynb").json()["id"]
    assert wait_graded(cleo, sid)["status"] == "graded"
    sign_in(page, users.prof)
    page.goto("/#/assignments/ee411-hw3")
    page.click("#grade-by-question a[href='#/grade/ee411-hw3/2.5b']")
    page.wait_for_selector("#new-item")
    assert "0 of 3 graded" in page.inner_text("#graded-count")
    _type_rubric_item(page, "3", "observes the MLP is unaffected")
    for _ in range(3):  # apply item 1, go to the next submission
        before = page.inner_text("#current h2")
        page.keyboard.press("1")
        page.wait_for_selector("#current-points:has-text('3 / 4')")
        page.keyboard.press("n")
        page.wait_for_selector(f"#current h2:not(:has-text('{before.split(' ·')[0]}'))")
    assert "3 of 3 graded" in page.inner_text("#graded-count")
    # edited once: every submission it is applied to changes
    edit = page.locator("form.item-edit").first
    edit.locator("input[type=number]").fill("2")
    edit.locator("input[type=number]").press("Enter")
    page.wait_for_selector("#rubric-items:has-text('applied to 3')")
    for _ in range(3):
        page.wait_for_selector("#current-points:has-text('2 / 4')")
        page.keyboard.press("n")
    book = server.client(users.prof).get("/assignments/ee411-hw3/gradebook").json()
    graded_rows = [r for r in book["rows"] if r["status"] == "graded"]
    assert len(graded_rows) == 3
    assert all(r["cells"]["2.5b"]["points"] == 2 for r in graded_rows)
    _no_literal_nothing(page)


def _type_rubric_item(page, points: str, comment: str) -> None:
    """A rubric item, typed and sent by keyboard."""
    page.focus("#new-item-points")
    page.keyboard.type(points)
    page.keyboard.press("Tab")
    page.keyboard.type(comment)
    page.keyboard.press("Enter")
    page.wait_for_selector("#rubric-items li")


def test_a_token_that_stops_working_signs_out_with_the_reason(page, users):
    sign_in(page, users.bob)
    page.wait_for_selector("#upload")
    # as if staff had revoked it: the next request is refused
    page.evaluate("sessionStorage.setItem('autograder.token', 'agt_revoked')")
    page.goto("/#/submissions-of-mine")
    page.evaluate("window.location.hash = '#/'")
    page.wait_for_selector("#signin-status .msg-error")
    assert "You were signed out" in page.inner_text("#signin-status")


def test_a_student_cannot_open_staff_pages(page, users):
    sign_in(page, users.bob)
    for route, staff_only in (("/#/submissions", "#submissions"), ("/#/users", "#users"),
                              ("/#/gradebook/ee411-hw3", "#gradebook"),
                              ("/#/overview/ee411-hw3", "#bins")):
        page.goto(route)
        page.wait_for_selector("#upload")  # sent to their own home page instead
        assert page.locator(staff_only).count() == 0, route
    assert page.locator("nav a[href='#/users']").count() == 0


def test_staff_filter_submissions_open_a_report_and_grade_by_hand(page, server, users,
                                                                  graded):
    sign_in(page, users.prof)
    page.wait_for_selector("#assignments")
    page.wait_for_selector("#queue .counts")
    queue = page.inner_text("#queue")
    assert "workers running" in queue
    assert "null" not in queue  # empty tables are left out, not printed as "null"
    page.click("#nav >> text=Submissions")
    page.wait_for_selector("#submissions")
    page.fill("#filters input[name=student]", "alice")
    page.check("#filters input[name=latest_only]")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**student=alice**")
    # the filtered table, not the unfiltered one it replaces
    page.wait_for_selector("#submissions[data-query*='student=alice'] tbody tr")
    rows = page.locator("#submissions tbody tr")
    assert rows.count() >= 1
    assert all("alice" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert "bob" not in page.inner_text("#submissions")

    page.goto(f"/#/submission/{graded['alice-summed']}")
    page.wait_for_selector("section.question")
    card = page.locator("section.question[data-question='1.5']")
    assert "Check" in card.inner_text()  # per-check points and feedback
    text = card.inner_text()
    assert "`" not in text  # `names` in feedback are shown as code, not as backticks
    lines = [li.inner_text() for li in card.locator("li").all()]
    assert len(lines) == len(set(lines)), lines  # each feedback line once
    card.locator("input[name=points]").fill("7.5")
    card.locator("textarea[name=comment]").fill("Partial credit: <b>the sum</b> is off by B")
    card.locator("button[type=submit]").click()
    page.wait_for_selector("section.question[data-question='1.5'] .form-status:has-text('Saved')")
    card = page.locator("section.question[data-question='1.5']")
    assert "7.5 / 12" in card.inner_text()
    assert "Staff comment: Partial credit: <b>the sum</b> is off by B" in card.inner_text()
    assert card.locator("b").count() == 0  # the comment is text, not markup
    with server.client(users.prof) as api:
        body = api.get(f"/submissions/{graded['alice-summed']}").json()
    q = next(q for q in body["report"]["questions"] if q["id"] == "1.5")
    assert q["points"] == 7.5 and any("Partial credit" in f for f in q["feedback"])


def test_staff_see_statistics_release_results_rescore_publish_and_export(page, users,
                                                                         server, graded):
    sign_in(page, users.prof)
    page.goto("/#/assignments/ee411-hw3")
    page.wait_for_selector("#statistics .stat")
    assert page.locator("#statistics .stat").count() >= 4
    assert page.locator("#statistics svg.histogram").first.locator("rect").count() == 10
    assert page.locator("#statistics .frequent li").count() >= 1  # where the class is stuck

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#release-button")
    page.wait_for_selector("#release-state:has-text('Released')")
    with server.client(users.prof) as api:
        assert api.get("/assignments/ee411-hw3").json()["hidden_released"] is True

    page.check("#regrade input[name=rescore_only]")
    page.click("#regrade button[type=submit]")
    page.wait_for_selector("#batch-summary:has-text('preview, not yet published')")
    # the same rubric on the same evidence: nothing moves, so nothing is offered to publish
    page.wait_for_selector("#batch-moved:has-text('No score changes.')")
    assert page.locator("#batch-changes").count() == 0
    assert page.locator("#publish").count() == 0

    with page.expect_download() as download:
        page.click("#export-csv")
    saved = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == "ee411-hw3-grades.csv"
    rows = list(csv.DictReader(io.StringIO(saved)))
    assert {r["student"] for r in rows} >= {"alice", "bob"}


def test_hostile_notebook_output_is_shown_inert(page, users, graded):
    sign_in(page, users.prof)
    page.goto(f"/#/submission/{graded['bob-hostile']}")
    page.wait_for_selector("#notebook .notebook")
    notebook = page.inner_text("#notebook")
    assert "<script>window.__pwned = 'html output'</script>" in notebook
    assert "[see my derivation](javascript:" in notebook
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#notebook script").count() == 0
    assert page.locator("#injected-bold, #injected-link").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    assert page.locator("#notebook img[onerror]").count() == 0
    safe_link = page.locator("#notebook a[href='https://example.org/ee411']")
    assert safe_link.count() == 1 and "noopener" in (safe_link.get_attribute("rel") or "")
    assert page.locator("#plots img").count() >= 1  # the matplotlib figure, kept
    assert page.locator("#plots img").first.get_attribute("src").startswith(
        "data:image/png;base64,")


def test_no_token_reaches_a_url_or_the_server_log(page, server, users):
    sign_in(page, users.prof)
    page.goto("/#/submissions")
    page.wait_for_selector("#submissions")
    assert users.prof not in page.url
    page.click("#signout")
    page.wait_for_selector("#signin")
    assert page.evaluate("sessionStorage.length") == 0
    log = "".join(p.read_text(errors="replace") for p in server.data_dir.glob("server-*.log"))
    assert log, "the server wrote no log to check"
    for token in (users.alice, users.bob, users.prof):
        assert token not in log


def test_staff_grant_an_extension_after_which_that_students_late_upload_is_on_time(
        page, server, users):
    from datetime import UTC, datetime, timedelta

    from service.db.models import Role

    carla = server.add_user("carla", Role.STUDENT)
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:00Z")
    with server.client(users.prof) as api:
        assert api.patch("/assignments/ee411-hw3", json={
            "deadline": past, "late_policy": "reject"}).status_code == 200
    try:
        with server.client(carla) as mine:
            assert submit(mine, "correct_basic.ipynb").status_code == 403  # too late
        sign_in(page, users.prof)
        page.goto("/#/assignments/ee411-hw3")
        page.wait_for_selector("#extensions")
        page.fill("#extension-student", "carla")
        page.fill("#extension-deadline",
                  (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#extension-reason", "regional sports championship")
        page.click("#extensions button[type=submit]")
        page.wait_for_selector("#extension-list td:has-text('carla')")
        assert "regional sports championship" in page.inner_text("#extension-list")
        page.click("#signout")
        sign_in(page, carla)
        page.wait_for_selector("#upload")
        page.select_option("#upload-assignment", "ee411-hw3")
        assert "regional sports championship" in page.inner_text("#my-deadline")
        page.set_input_files("#upload-file", str(HW3 / "correct_basic.ipynb"))
        page.click("#upload-submit")
        page.wait_for_url("**/#/submission/*")  # accepted: on time by their own deadline
        with server.client(carla) as mine:
            (latest,) = mine.get("/me/submissions").json()["items"]
            assert latest["late_days"] == 0
    finally:
        with server.client(users.prof) as api:
            api.patch("/assignments/ee411-hw3", json={"deadline": None,
                                                      "late_policy": "accept"})


def test_a_student_files_a_review_request_and_sees_the_staff_answer(page, users, graded):
    sid = graded["alice-summed"]
    sign_in(page, users.alice)
    page.goto(f"/#/submission/{sid}")
    box = "section.question[data-question='1.5'] .review"
    page.wait_for_selector(f"{box} form.ask-review")
    page.fill(f"{box} textarea", "The handout divides by the batch size; I summed. Half?")
    page.click(f"{box} button[type=submit]")
    page.wait_for_selector(f"{box}:has-text('Review requested')")
    page.click("#signout")

    sign_in(page, users.prof)
    page.goto("/#/reviews/ee411-hw3")
    page.wait_for_selector("#review-queue")
    assert "alice" in page.inner_text("#review-queue")
    page.click("#review-queue a")
    page.wait_for_selector(f"{box} form.answer-review")
    page.fill(f"{box} textarea", "Agreed: the sum is off only by the factor B.")
    page.fill(f"{box} input[name=override]", "6")
    page.click(f"{box} form.answer-review button[type=submit]")
    page.wait_for_selector(f"{box}:has-text('Answer from prof')")
    page.click("#signout")

    sign_in(page, users.alice)
    page.goto(f"/#/submission/{sid}")
    page.wait_for_selector(f"{box}:has-text('Agreed: the sum is off only by the factor B.')")
    assert "points set to 6" in page.inner_text(box)


def test_staff_grade_a_manual_question_blind_and_then_reveal_the_names(page, server, users,
                                                                      graded):
    try:
        _grade_blind_then_reveal(page, users)
    finally:
        with server.client(users.prof) as api:
            api.patch("/assignments/ee411-hw3", json={"blind_grading": False})


def _grade_blind_then_reveal(page, users) -> None:
    sign_in(page, users.prof)
    page.goto("/#/assignments/ee411-hw3")
    page.wait_for_selector("#settings")
    page.check("#blind-grading")
    page.click("#settings button[type=submit]")
    page.wait_for_selector("#settings .form-status:has-text('Saved.')")
    page.goto("/#/grade/ee411-hw3/2.3b")
    page.wait_for_selector("#blind-bar")
    heading = page.inner_text("#current h2")
    assert heading.startswith("Student ") and "alice" not in heading and "bob" not in heading
    _type_rubric_item(page, "2", "compares all four optimizers")
    page.keyboard.press("1")  # applied to this (unnamed) submission
    page.wait_for_selector("#current-points:has-text('2 / 2')")
    assert "hidden while grading blind" in _opened_blind(page)
    page.goto("/#/grade/ee411-hw3/2.3b")
    page.wait_for_selector("#blind-bar")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reveal-names")
    page.wait_for_selector("#blind-bar", state="detached")
    names = {page.inner_text("#current h2").split(" ·")[0]}
    page.click("#next")
    names.add(page.inner_text("#current h2").split(" ·")[0])
    assert names & {"alice", "bob"}


def _opened_blind(page) -> str:
    page.click("#current a:has-text('Open the submission')")
    page.wait_for_selector("dl.facts")
    return page.inner_text("dl.facts")


@pytest.fixture(scope="module")
def ungraded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A service without workers: the similarity page needs hand-ins, not gradings."""
    live = LiveServer(tmp_path_factory.mktemp("dashboard-similarity"), workers=0).start()
    yield live
    live.stop()


def test_the_similarity_page_lists_a_planted_copied_pair_first_and_shows_it_side_by_side(
        browser, ungraded_server):
    from service.db.models import Role

    server = ungraded_server
    planted = {"sim-original": HW3 / "ta_correct_unusual.ipynb",
               "sim-copier": ROOT / "tests" / "fixtures" / "similarity" / "copied_renamed.ipynb"}
    others = {f"sim-other-{i}": HW3 / name for i, name in enumerate(
        ["student_colab_column_labels.ipynb", "ta_conceptual.ipynb", "ta_fool.ipynb",
         "student_several_models.ipynb"])}
    for who, path in {**others, **planted}.items():
        client = server.client(server.add_user(who, Role.STUDENT))
        response = client.post("/assignments/ee411-hw3/submissions",
                               files={"file": (path.name, path.read_bytes())})
        assert response.status_code == 202, response.text
    staff = server.add_user("sim-staff", Role.INSTRUCTOR)

    with own_page(browser, server, "similarity") as page:
        sign_in(page, staff)
        page.goto("/#/assignments/ee411-hw3")
        page.click("a[href='#/similarity/ee411-hw3']")
        page.wait_for_selector("#similarity-status:has-text('No comparison has been run')")
        page.click("#start-similarity")
        page.wait_for_selector("#similarity-pairs", timeout=SLOW)
        first = page.inner_text("#similarity-pairs tbody tr:first-child")
        assert "sim-original" in first and "sim-copier" in first, first
        assert "sim-other" not in first
        page.click("#similarity-pairs tbody tr:first-child button")
        page.wait_for_selector("#similarity-pair .code-pane .line.shared")
        panes = page.locator("#similarity-pair .code-pane")
        assert panes.count() == 2
        for i in range(2):
            shared = panes.nth(i).locator(".line.shared")
            assert shared.count() > 50
            assert "def gradient" in panes.nth(i).inner_text()
        assert not _serious_violations(page)


def test_staff_publish_an_assignment_and_a_new_version_and_see_them_live_without_a_restart(
        browser, ungraded_server):
    from service.db.models import Role
    from service.publish.bundle import zip_folder

    server = ungraded_server
    folders = ROOT / "tests" / "fixtures" / "assignments"
    zips = {n: {"name": f"{n}.zip", "mimeType": "application/zip",
                "buffer": zip_folder(folders / n)} for n in ("linear_demo", "linear_demo_v2")}
    staff = server.add_user("publish-staff", Role.ADMIN)
    with own_page(browser, server, "versions") as page:
        sign_in(page, staff)
        card = "#new-assignment"
        page.fill(f"{card} input[name=assignment_id]", "linear-demo")
        page.set_input_files(f"{card} input[type=file]", zips["linear_demo"])
        page.click(f"{card} button[type=submit]")
        page.wait_for_selector(f"{card}:has-text('Version 1 (1) is live')", timeout=SLOW)
        page.click(f"{card} a[href='#/assignments/linear-demo']")
        page.wait_for_selector("h1:has-text('Linear regression warm-up')")

        page.set_input_files("#versions input[type=file]", zips["linear_demo_v2"])
        page.click("#versions button[type=submit]")
        page.wait_for_selector("#versions:has-text('Version 2 (2) is live')", timeout=SLOW)
        assert "Preview a regrade" in page.inner_text("#versions")
        page.reload()
        page.wait_for_selector("h1:has-text('Linear regression warm-up (corrected)')")
        # the list of versions is a request of its own, which may answer after the title
        page.wait_for_selector("#version-list tr[data-number='2']")
        rows = page.locator("#version-list tbody tr")
        assert rows.count() == 2
        assert "live" in rows.nth(1).inner_text() and "available" in rows.nth(0).inner_text()

        page.click("#version-list tr[data-number='1'] button")
        page.wait_for_selector("#version-list tr[data-number='1']:has-text('live')")
        page.reload()
        page.wait_for_selector("h1")
        assert page.inner_text("h1") == "Linear regression warm-up"
