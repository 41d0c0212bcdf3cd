"""Group hand-ins, on Heidelberg sheet 08 (handed in by groups as one zip): staff put
students in groups; a member's hand-in is the group's, seen, graded and exported under
every member; the rate limit is the group's; overrides follow the submission."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.catalog import discover
from service.db.models import Role
from tests.conftest import NOTEBOOKS, ROOT, make_notebook
from tests.evidence import seed_calibration
from tests.service.conftest import LiveServer, wait_graded

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
ASSIGNMENT = "heidelberg-ex08"
ZIP = NOTEBOOKS / "heidelberg_ex08" / "ex08-jordan-hinton-lovelace.zip"
ROOT_CATALOG = discover()
# what these tests are about is who sees a group's hand-in, not what its training
# reaches: the sheet up to question 2 (its MNIST net, one epoch), without the VGG-16 of
# question 3, whose probes on the hidden CIFAR images cost most of a grading (the checks
# the tests read do not depend on either; the end-to-end test grades a Heidelberg
# hand-in in full)
QUICKER = (("for epoch in range(3):", "for epoch in range(1):"),)
SECTION_3 = "## 3 Image classification"


def _quicker_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(ZIP) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".ipynb"):
                notebook = json.loads(data)
                cells = notebook["cells"]
                cut = next(i for i, c in enumerate(cells)
                           if "".join(c["source"]).startswith(SECTION_3))
                notebook["cells"] = cells[:cut]
                text = json.dumps(notebook)
                for old, new in QUICKER:
                    assert old in text, old
                    text = text.replace(old, new)
                data = text.encode()
            target.writestr(info, data)
    return out.getvalue()


HAND_IN = _quicker_zip()


@pytest.fixture(scope="module")
def heidelberg_server(tmp_path_factory: pytest.TempPathFactory,
                      course_datasets: Path) -> Iterator[LiveServer]:
    # only the one assignment, so that start-up calibrates nothing else
    reference = tmp_path_factory.mktemp("reference")
    (reference / "heidelberg_ex08").symlink_to(ROOT / "reference" / "heidelberg_ex08")
    data = course_datasets.parent
    # the reference's recorded accuracies: start-up trains nothing (minutes otherwise)
    seed_calibration(ROOT_CATALOG["heidelberg-ex08"], datasets_dir=course_datasets,
                     hidden_dir=data / "hidden", jobs_root=tmp_path_factory.mktemp("cal"))
    live = LiveServer(tmp_path_factory.mktemp("groups"), extra_env={
        "AUTOGRADER_REFERENCE_DIR": str(reference),
        "AUTOGRADER_HIDDEN_DIR": str(data / "hidden"),
        "AUTOGRADER_WEIGHTS_DIR": str(data / "weights"),
        "AUTOGRADER_CELL_TIMEOUT_S": "900",
        "AUTOGRADER_POOL_SIZE": "0",
    }).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def people(heidelberg_server: LiveServer) -> dict[str, str]:
    return {name: heidelberg_server.add_user(name, role) for name, role in (
        ("jordan", Role.STUDENT), ("hinton", Role.STUDENT), ("lovelace", Role.STUDENT),
        ("turing", Role.STUDENT), ("ta", Role.INSTRUCTOR))}


@pytest.fixture(scope="module")
def handed_in(heidelberg_server: LiveServer, people: dict[str, str]) -> dict:
    with heidelberg_server.client(people["ta"]) as staff:
        made = staff.put(f"/assignments/{ASSIGNMENT}/groups/team-1",
                         json={"members": ["jordan", "hinton", "lovelace"]})
        assert made.status_code == 200, made.text
        assert made.json()["members"] == ["hinton", "jordan", "lovelace"]
    with heidelberg_server.client(people["jordan"]) as jordan:
        accepted = jordan.post(f"/assignments/{ASSIGNMENT}/submissions",
                               files={"file": (ZIP.name, HAND_IN)})
        assert accepted.status_code == 202, accepted.text
        return wait_graded(jordan, accepted.json()["id"], timeout=900)


def test_only_staff_manage_groups_and_a_student_is_in_one_group(heidelberg_server, people,
                                                                handed_in):
    with heidelberg_server.client(people["hinton"]) as student:
        refused = student.put(f"/assignments/{ASSIGNMENT}/groups/mine",
                              json={"members": ["hinton", "turing"]})
        assert refused.status_code == 403
    with heidelberg_server.client(people["ta"]) as staff:
        conflict = staff.put(f"/assignments/{ASSIGNMENT}/groups/team-2",
                             json={"members": ["turing", "lovelace"]})
        assert conflict.status_code == 409
        assert "lovelace is already in group 'team-1'" in conflict.json()["detail"]
        unknown = staff.put(f"/assignments/{ASSIGNMENT}/groups/team-2",
                            json={"members": ["nobody"]})
        assert unknown.status_code == 422
        listed = staff.get(f"/assignments/{ASSIGNMENT}/groups").json()
        assert [g["name"] for g in listed] == ["team-1"]


def test_every_member_sees_the_groups_graded_hand_in(heidelberg_server, people, handed_in):
    assert handed_in["status"] == "graded"
    assert handed_in["group"] == "team-1"
    assert handed_in["members"] == ["hinton", "jordan", "lovelace"]
    scores = {q["id"]: q["points"] for q in handed_in["report"]["questions"]}
    assert scores["1.2"] == 0.0  # the trace is in the PDF
    # question 2 apart from the accuracy its training reaches (which may land a band
    # away on another machine): architecture and loader right, the optimizer not
    checks = {c["kind"]: c["points"] for q in handed_in["report"]["questions"]
              if q["id"] == "2" for c in q["checks"]}
    assert (checks["architecture"], checks["optimizer"], checks["loader"]) == (3.0, 0.0, 1.0)
    for member in ("hinton", "lovelace"):
        with heidelberg_server.client(people[member]) as client:
            seen = client.get(f"/submissions/{handed_in['id']}")
            assert seen.status_code == 200
            assert seen.json()["score"] == handed_in["score"]
            mine = client.get("/me/submissions", params={"assignment": ASSIGNMENT}).json()
            assert [s["id"] for s in mine["items"]] == [handed_in["id"]]
    with heidelberg_server.client(people["turing"]) as outsider:
        assert outsider.get(f"/submissions/{handed_in['id']}").status_code == 404
        assert outsider.get("/me/submissions").json()["total"] == 0


def test_the_rate_limit_is_the_groups(heidelberg_server, people, handed_in):
    with heidelberg_server.client(people["ta"]) as staff:
        assert staff.patch(f"/assignments/{ASSIGNMENT}",
                           json={"max_per_hour": 1}).status_code == 200
    try:
        with heidelberg_server.client(people["hinton"]) as hinton:
            again = hinton.post(f"/assignments/{ASSIGNMENT}/submissions",
                                files={"file": (ZIP.name, HAND_IN)})
            assert again.status_code == 429
            assert "Your group 'team-1' has submitted 1 times" in again.json()["detail"]
        with heidelberg_server.client(people["turing"]) as alone:
            # not in the group: their own count, still zero
            own = alone.post(f"/assignments/{ASSIGNMENT}/submissions",
                             files={"file": ("draft.ipynb", make_notebook("x = 1"))})
            assert own.status_code == 202, own.text
            wait_graded(alone, own.json()["id"], timeout=300)
    finally:
        with heidelberg_server.client(people["ta"]) as staff:
            staff.patch(f"/assignments/{ASSIGNMENT}", json={"max_per_hour": None})


def test_an_override_follows_the_group_into_the_gradebook(heidelberg_server, people,
                                                          handed_in):
    with heidelberg_server.client(people["ta"]) as staff:
        graded = staff.patch(f"/submissions/{handed_in['id']}/questions/1.2",
                             json={"points": 4, "comment": "trace checked in ex1.pdf"})
        assert graded.status_code == 200
        rows = list(csv.DictReader(io.StringIO(
            staff.get(f"/assignments/{ASSIGNMENT}/export").text)))
    group_rows = [r for r in rows if r["group"] == "team-1"]
    assert sorted(r["student"] for r in group_rows) == ["hinton", "jordan", "lovelace"]
    assert {r["submission_id"] for r in group_rows} == {handed_in["id"]}
    assert {r["1.2"] for r in group_rows} == {"4"}
    # a student outside the group has their own row
    assert [r["group"] for r in rows if r["student"] == "turing"] == [""]
    with heidelberg_server.client(people["lovelace"]) as member:
        report = member.get(f"/submissions/{handed_in['id']}").json()["report"]
        trace = next(q for q in report["questions"] if q["id"] == "1.2")
        assert trace["points"] == 4.0
        assert "Staff comment: trace checked in ex1.pdf" in trace["feedback"]


def test_groups_from_the_command_line(heidelberg_server, people, handed_in):
    env = {**os.environ, **heidelberg_server.env}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "service.cli", "groups", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    made = cli("set", ASSIGNMENT, "team-2", "turing")
    assert made.returncode == 0, made.stderr
    clash = cli("set", ASSIGNMENT, "team-3", "turing")
    assert clash.returncode == 1 and "already in group 'team-2'" in clash.stderr
    listed = cli("list", ASSIGNMENT).stdout.splitlines()
    assert listed == ["team-1\thinton, jordan, lovelace", "team-2\tturing"]


def test_staff_dissolve_a_group(heidelberg_server, people, handed_in):
    with heidelberg_server.client(people["ta"]) as staff:
        made = staff.put(f"/assignments/{ASSIGNMENT}/groups/short-lived",
                         json={"members": ["lovelace"]})
        assert made.status_code == 409  # lovelace is in team-1
        assert staff.delete(f"/assignments/{ASSIGNMENT}/groups/team-1").status_code == 204
        assert staff.delete(f"/assignments/{ASSIGNMENT}/groups/team-1").status_code == 404
    # the hand-in stays, now the submitter's alone
    with heidelberg_server.client(people["hinton"]) as hinton:
        assert hinton.get(f"/submissions/{handed_in['id']}").status_code == 404
    with heidelberg_server.client(people["jordan"]) as jordan:
        mine = jordan.get(f"/submissions/{handed_in['id']}").json()
        assert mine["group"] is None and mine["members"] == []
