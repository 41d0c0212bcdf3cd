"""Publishing without a restart: staff upload an assignment folder as a zip; a job grades
the reference and a blank notebook in the sandbox and makes the version live only if the
reference earns every autograded point and the blank none; a bad upload is refused with
what is wrong and the live version stays; the API's and the workers' catalogs pick up the
new version without a restart, gradings record the version that made them, and an
earlier version can be made live again."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from graders import GradeReport, Outcome, QuestionResult, ReportStatus
from service.db.models import Role
from service.publish.bundle import BundleError, read_bundle, zip_folder
from service.publish.verdict import problems
from tests.conftest import ROOT
from tests.service.conftest import LiveServer, wait_graded

ASSIGNMENTS = ROOT / "tests" / "fixtures" / "assignments"
V1, V2 = ASSIGNMENTS / "linear_demo", ASSIGNMENTS / "linear_demo_v2"
HAND_IN = ASSIGNMENTS / "hand_ins" / "linear_demo_loop.ipynb"


def _zip(files: dict[str, bytes | str], **members: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = members.get(name, 0o644 << 16)
            archive.writestr(info, content)
    return buffer.getvalue()


def test_a_zip_that_is_not_an_assignment_folder_is_refused_saying_why():
    with pytest.raises(BundleError, match="not a zip"):
        read_bundle(b"spec.py")
    with pytest.raises(BundleError, match=r"no solution\.py"):
        read_bundle(_zip({"spec.py": "x = 1"}))
    with pytest.raises(BundleError, match="outside the assignment folder"):
        read_bundle(_zip({"spec.py": "", "solution.py": "", "../evil.py": ""}))
    with pytest.raises(BundleError, match="symbolic link"):
        read_bundle(_zip({"spec.py": "", "solution.py": "", "support/data": "/etc/shadow"},
                         **{"support/data": 0o120777 << 16}))
    with pytest.raises(BundleError, match="both a file and a folder"):
        read_bundle(_zip({"spec.py": "", "solution.py": "", "support": "x",
                          "support/helpers.py": "y"}))
    broken = bytearray(_deflated({"spec.py": "s" * 4000, "solution.py": "t"}))
    start = broken.index(b"spec.py") + len("spec.py")
    broken[start + 5:start + 40] = b"\xff" * 35  # the deflated bytes, not the headers
    with pytest.raises(BundleError, match=r"cannot be read|not a zip"):
        read_bundle(bytes(broken))
    # macOS Finder's __MACOSX/ beside the folder does not hide the enclosing folder
    assert sorted(read_bundle(_zip({"hw/spec.py": "s", "hw/solution.py": "t",
                                    "__MACOSX/hw/._spec.py": "x"}))) == \
        ["solution.py", "spec.py"]
    # a zipped course folder: its one enclosing folder and its caches are left out
    files = read_bundle(_zip({"hw/spec.py": "s", "hw/solution.py": "t",
                              "hw/__pycache__/spec.cpython-311.pyc": "x",
                              "hw/support/helpers.py": "h"}))
    assert sorted(files) == ["solution.py", "spec.py", "support/helpers.py"]
    assert sorted(read_bundle(zip_folder(V1))) == ["solution.py", "solution_notebook.py",
                                                  "spec.py"]


def _deflated(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _report(*questions: tuple[str, float, float, Outcome]) -> GradeReport:
    return GradeReport(assignment_id="a", assignment_version="1", engine_version="x",
                       status=ReportStatus.GRADED, questions=[
                           QuestionResult(id=q, title=q, points=p, max_points=m, outcome=o)
                           for q, p, m, o in questions])


def test_the_verdict_names_a_reference_short_of_full_marks_and_a_check_a_blank_passes():
    full = _report(("1", 4, 4, Outcome.PASSED), ("2", 2, 2, Outcome.PASSED),
                   ("3", 0, 2, Outcome.MANUAL))
    blank = _report(("1", 0, 4, Outcome.MISSING), ("2", 0, 2, Outcome.MISSING),
                    ("3", 0, 2, Outcome.MANUAL))
    assert problems(full, blank) == []
    short = _report(("1", 4, 4, Outcome.PASSED), ("2", 1, 2, Outcome.PARTIAL))
    assert problems(short, blank) == [
        "question 2: the reference notebook earns 1 of 2 points"]
    lenient = _report(("1", 1, 4, Outcome.PARTIAL), ("2", 0, 2, Outcome.MISSING))
    assert problems(full, lenient) == [
        "question 1 gives 1 of 4 points to a notebook with no answers: its checks cannot fail"]
    ungraded = _report(("1", 0, 4, Outcome.UNGRADED), ("2", 2, 2, Outcome.PASSED))
    assert problems(ungraded, blank)[0].startswith("question 1 cannot be graded")
    # a blank notebook the sandbox could not grade shows no check failing: not proof
    failed = blank.model_copy(update={"status": ReportStatus.NOT_GRADABLE, "questions": [],
                                      "reason": "the kernel did not start"})
    assert problems(full, failed) == [
        "the notebook with no answers could not be graded: the kernel did not start"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer(tmp_path_factory.mktemp("publish"), workers=1).start()
    yield live
    live.stop()


def upload(staff, folder_or_zip: Path | bytes, assignment: str = "linear-demo"):
    data = folder_or_zip if isinstance(folder_or_zip, bytes) else zip_folder(folder_or_zip)
    return staff.post(f"/assignments/{assignment}/versions",
                      files={"file": ("assignment.zip", data)})


def validated(staff, assignment: str, number: int, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {v["number"]: v for v in
                 staff.get(f"/assignments/{assignment}/versions").json()}
        if found[number]["status"] != "validating":
            return found[number]
        time.sleep(0.3)
    raise AssertionError(f"version {number} still validating")


def edited(tmp_path: Path, **replacements: str) -> Path:
    """Version 2 with an edit (``file=old>>>new``), as staff would fix or break it."""
    folder = tmp_path / "edited"
    shutil.copytree(V2, folder)
    for name, change in replacements.items():
        old, new = change.split(">>>")
        path = folder / name.replace("__", ".")
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new))
    return folder


@pytest.mark.slow
def test_staff_publish_an_assignment_and_a_correction_live_without_a_restart(
        server, tmp_path):
    staff = server.client(server.add_user("pub-prof", Role.ADMIN))
    student = server.client(server.add_user("pub-student", Role.STUDENT))
    assert student.get("/assignments/linear-demo").status_code == 404
    assert upload(student, V1).status_code == 403
    assert upload(server.client(server.add_user("pub-ta", Role.INSTRUCTOR)), V1).status_code \
        == 403  # instructors publish where the deployment says so

    first = upload(staff, V1)
    assert first.status_code == 202, first.text
    assert first.json()["number"] == 1 and first.json()["status"] == "validating"
    v1 = validated(staff, "linear-demo", 1)
    assert v1["status"] == "live", v1
    assert (v1["reference_points"], v1["blank_points"], v1["autograded_points"]) == (6, 0, 6)
    assert student.get("/assignments/linear-demo").json()["title"] == \
        "Linear regression warm-up"
    sid = student.post("/assignments/linear-demo/submissions",
                       files={"file": (HAND_IN.name, HAND_IN.read_bytes())}).json()["id"]
    graded = wait_graded(student, sid)
    assert graded["status"] == "graded", graded
    assert graded["score"] == 5  # the loop costs predict's vectorisation point

    # a correction whose reference notebook is wrong is refused; version 1 stays live
    broken = edited(tmp_path, solution_notebook__py="np.mean((y - y_hat) ** 2)>>>"
                                                    "np.sum((y - y_hat) ** 2)")
    assert upload(staff, broken).status_code == 202
    rejected = validated(staff, "linear-demo", 2)
    assert rejected["status"] == "rejected"
    assert rejected["problems"][0].startswith(
        "question 2: the reference notebook earns 0 of 3 points"), rejected["problems"]
    assert student.get("/assignments/linear-demo").json()["title"] == \
        "Linear regression warm-up"

    # the right correction goes live: the API and the worker use it, no restart
    assert upload(staff, V2).status_code == 202
    v3 = validated(staff, "linear-demo", 3)
    assert v3["status"] == "live", v3
    # at once: the worker asks which version is live when it takes the run
    again = student.post("/assignments/linear-demo/submissions",
                         files={"file": (HAND_IN.name, HAND_IN.read_bytes())}).json()["id"]
    regraded = wait_graded(student, again)
    assert regraded["score"] == 6  # the loss is worth 3 now
    # the API's catalog looks at the database every 2 s
    assert _title_becomes(student, "Linear regression warm-up (corrected)")
    versions = {v["number"]: v["status"] for v in
                staff.get("/assignments/linear-demo/versions").json()}
    assert versions == {1: "available", 2: "rejected", 3: "live"}

    # the first hand-in keeps the grade version 1 gave; a regrade shows what changes
    assert student.get(f"/submissions/{sid}").json()["score"] == 5
    batch = staff.post("/assignments/linear-demo/regrade", json={}).json()
    deadline = time.monotonic() + 120
    while (status := staff.get(f"/regrades/{batch['id']}").json())["pending"]:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    changes = {c["submission_id"]: (c["old"], c["new"]) for c in status["changes"]}
    assert changes[sid] == (5, 6)

    # version 1 live again, by choice; a rejected version cannot be
    assert staff.post("/assignments/linear-demo/versions/2/live").status_code == 409
    back = staff.post("/assignments/linear-demo/versions/1/live")
    assert back.status_code == 200 and back.json()["status"] == "live"
    # the API's catalog looks at the database every 2 s
    assert _title_becomes(student, "Linear regression warm-up")


def _title_becomes(client, title: str, within_s: float = 30) -> bool:
    """Polled, not slept on: beside another pytest worker a refresh can come late."""
    deadline = time.monotonic() + within_s
    while client.get("/assignments/linear-demo").json()["title"] != title:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_an_upload_that_reuses_a_version_or_names_another_assignment_is_rejected(
        server, tmp_path):
    staff = server.client(server.add_user("pub-prof2", Role.ADMIN))
    assert upload(staff, V1, "linear-twin").status_code == 202
    wrong_id = validated(staff, "linear-twin", 1)
    assert wrong_id["status"] == "rejected"
    assert "says the assignment is 'linear-demo'" in wrong_id["problems"][0]
    # the bundled EE-411 is version "1": an upload saying "1" again is refused
    bundled = edited(tmp_path, spec__py='id="linear-demo">>>id="ee411-hw3"')
    (bundled / "spec.py").write_text((bundled / "spec.py").read_text().replace(
        'version="2"', 'version="1"'))
    assert upload(staff, bundled, "ee411-hw3").status_code == 202
    reused = validated(staff, "ee411-hw3", 1)
    assert reused["status"] == "rejected"
    assert "the bundled version already has version='1'" in reused["problems"][0]
    listed = staff.get("/assignments/ee411-hw3/versions").json()
    assert [(v["number"], v["status"]) for v in listed] == [(0, "live"), (1, "rejected")]
    # gradings record the version in 20 characters: a longer one is refused, not cut
    (bundled / "spec.py").write_text((bundled / "spec.py").read_text().replace(
        'version="1"', 'version="2026-winter-term-corrected"'))
    assert upload(staff, bundled, "ee411-hw3").status_code == 202
    long = validated(staff, "ee411-hw3", 2)
    assert long["status"] == "rejected" and "longer than 20" in long["problems"][0]


def test_the_command_line_publishes_a_course_folder_and_says_why_one_is_refused(server,
                                                                             tmp_path):
    from tests.service.test_cli_client import cli

    token = server.add_user("pub-cli", Role.ADMIN)
    folder = edited(tmp_path, spec__py='id="linear-demo">>>id="cli-demo"')
    done = cli(server, "publish", str(folder), "-a", "cli-demo", "--token", token)
    assert done.returncode == 0, done.stderr
    assert "cli-demo version 1 (2) is live: the reference earned 7 of 7 points, a blank " \
           "notebook 0" in " ".join(done.stdout.split())
    wrong = cli(server, "publish", str(folder), "-a", "cli-other", "--token", token)
    assert wrong.returncode == 1
    assert "says the assignment is 'cli-demo'" in " ".join(wrong.stderr.split())


def test_a_spec_that_raises_or_an_upload_that_is_no_zip_leaves_the_live_version(
        server, tmp_path):
    staff = server.client(server.add_user("pub-prof3", Role.ADMIN))
    refused = upload(staff, b"PK\x03\x04 not really", "raising-demo")
    assert refused.status_code == 422 and "not a zip file" in refused.json()["detail"]
    raising = edited(tmp_path, spec__py='id="linear-demo">>>id="raising-demo"',
                     solution__py="import numpy as np>>>import numpy as np\n"
                                  "raise RuntimeError('unfinished solution')")
    assert upload(staff, raising, "raising-demo").status_code == 202
    failed = validated(staff, "raising-demo", 1)
    assert failed["status"] == "rejected"
    assert failed["problems"] == ["the assignment does not load: RuntimeError: "
                                  "unfinished solution"]
    assert staff.get("/assignments/raising-demo").status_code == 404


def test_only_administrators_publish_unless_the_deployment_trusts_instructors(server,
                                                                             tmp_path):
    # staff code runs in the service's processes and instructor is a role over every
    # course: administrators publish by default; AUTOGRADER_PUBLISH_BY=instructor widens it
    prof = server.client(server.add_user("gate-prof", Role.INSTRUCTOR))
    refused = upload(prof, b"not a zip")
    assert refused.status_code == 403 and "administrators" in refused.json()["detail"]
    assert prof.post("/assignments/ee411-hw3/versions/0/live").status_code == 403
    assert prof.get("/assignments/ee411-hw3/versions").status_code == 200  # may look
    live = LiveServer(tmp_path, workers=0, extra_env={"AUTOGRADER_PUBLISH_BY": "instructor"})
    live.start()
    try:
        trusted = live.client(live.add_user("gate-prof", Role.INSTRUCTOR))
        assert upload(trusted, b"not a zip").status_code == 422  # past the gate
    finally:
        live.stop()
