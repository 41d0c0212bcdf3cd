"""The dashboard in real headless Chromium (Debian's package) against a real service:
students hand in and watch their grade arrive; staff filter, open, grade by hand,
release, preview and publish a rescore, and export; hostile notebook output stays inert.
Each test leaves a screenshot under test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOKS, ROOT
from tests.service.conftest import LiveServer, Users, submit, wait_graded

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
HW3 = NOTEBOOKS / "ee411_hw3"
SLOW = 180_000  # ms: a cold sandbox on a loaded 2-core machine


def chromium_path() -> str:
    found = os.environ.get("AUTOGRADER_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        pytest.fail("the dashboard tests need Debian's chromium: apt-get install chromium "
                    "chromium-driver (.ci/run installs them)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(),
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server: LiveServer, request: pytest.FixtureRequest):
    context = browser.new_context(base_url=server.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors  # type: ignore[attr-defined]
    yield tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"the page raised: {errors}"


def sign_in(page, token: str) -> None:
    page.goto("/")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signout")


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
    page.goto("/#/submissions")
    page.wait_for_selector("#upload")
    assert page.locator("#submissions").count() == 0


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
