"""Similarity of hand-ins: a copy disguised the way students disguise one (names renamed,
comments reworded, the Colab cell dropped) ranks first among independent hand-ins; code
the handout gives everyone is not evidence of copying; the job runs in the background
through the API, and the pair is shown side by side."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from service.db.models import Role
from service.similarity.compare import (
    MIN_OVERLAP,
    Source,
    boilerplate_texts,
    compare,
    line_spans,
    notebook_code,
)
from tests.conftest import ROOT
from tests.service.conftest import LiveServer
from tests.service.test_cli_client import cli

EE411 = ROOT / "tests" / "fixtures" / "notebooks" / "ee411_hw3"
COPY = ROOT / "tests" / "fixtures" / "similarity" / "copied_renamed.ipynb"
HANDOUT = ROOT / "reference" / "ee411_hw3"
# written independently of each other (by different helpers, in different styles)
INDEPENDENT = ["student_colab_column_labels.ipynb", "student_own_headings.ipynb",
               "ta_correct_unusual.ipynb", "correct_column_vectors.ipynb",
               "ta_conceptual.ipynb", "ta_incomplete.ipynb", "ta_fool.ipynb",
               "student_several_models.ipynb"]


def source(path: Path, key: str | None = None) -> Source:
    return Source(key or path.name, notebook_code(path.read_bytes(), path.name))


def test_a_copy_with_renamed_names_and_reworded_comments_ranks_first():
    sources = [source(EE411 / name) for name in INDEPENDENT] + [source(COPY)]
    pairs = compare(sources, boilerplate_texts(HANDOUT))
    top = pairs[0]
    assert {top.a, top.b} == {"ta_correct_unusual.ipynb", "copied_renamed.ipynb"}
    assert top.score > 0.9
    # every independent pair is far below it (they share idioms, not code)
    assert pairs[1].score < 0.45, [(p.a, p.b, p.score) for p in pairs[:3]]


def test_code_the_handout_gives_everyone_is_not_evidence_of_copying():
    given = (HANDOUT / "handout" / "random_permutation.py").read_text()
    first = given + "\n\n" + (EE411 / "correct_module.py").read_text()
    second = given + "\n\n" + notebook_code((EE411 / "ta_fool.ipynb").read_bytes(), "x.ipynb")
    sources = [Source("first", first), Source("second", second)]
    # the control: without the handout left out, the pasted class alone makes a pair
    shared = compare(sources)
    assert shared and shared[0].overlap >= MIN_OVERLAP
    start = first.index("class RandomPermutation")
    assert any(s <= start + 40 and e > start for s, e in shared[0].regions_a)
    kept = compare(sources, boilerplate_texts(HANDOUT))
    assert all(not (s <= start + 40 and e > start) for p in kept for s, e in p.regions_a)
    assert not kept or kept[0].overlap < shared[0].overlap


def test_a_zip_a_module_and_a_notebook_are_compared_by_the_code_they_hold():
    notebook = (EE411 / "ta_correct_unusual.ipynb").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hw3/solution.ipynb", notebook)
        zf.writestr("hw3/helpers.py", "def helper_that_only_this_zip_has():\n    return 42\n")
    from_zip = notebook_code(archive.getvalue(), "hw3.zip")
    assert notebook_code(notebook, "a.ipynb") in from_zip
    assert "helper_that_only_this_zip_has" in from_zip
    # a malformed second notebook (a checkpoint) adds nothing and breaks nothing
    for junk in ('{"cells": 5}', '{"cells": [{"cell_type": "code", "source": [1]}]}',
                 "[" * 100_000):
        hostile = io.BytesIO()
        with zipfile.ZipFile(hostile, "w") as zf:
            zf.writestr("hw3/solution.ipynb", notebook)
            zf.writestr("hw3/.ipynb_checkpoints/solution-checkpoint.ipynb", junk)
        assert notebook_code(hostile.getvalue(), "hw3.zip") == \
            notebook_code(notebook, "a.ipynb")
    module = notebook_code((EE411 / "correct_module.py").read_bytes(), "hw3.py")
    assert "def gradient" in module and '"cell_type"' not in module


def test_regions_become_merged_line_ranges():
    code = "a = 1\nb = 2\nc = 3\nd = 4\n"
    assert line_spans(code, [(0, 3), (6, 9), (18, 20)]) == [(1, 2), (4, 4)]
    assert line_spans(code, []) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer(tmp_path_factory.mktemp("similarity"), workers=0).start()
    yield live
    live.stop()


def hand_in(client, path: Path) -> str:
    response = client.post("/assignments/ee411-hw3/submissions",
                           files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def wait_done(staff, assignment: str = "ee411-hw3", timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = staff.get(f"/assignments/{assignment}/similarity").json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"the comparison did not finish: {run}")


@pytest.mark.slow
def test_staff_compare_the_class_in_the_background_and_see_the_copied_pair_side_by_side(
        server):
    staff_token = server.add_user("sim-prof", Role.INSTRUCTOR)
    staff = server.client(staff_token)
    assert staff.get("/assignments/ee411-hw3/similarity").status_code == 404
    students = {who: server.client(server.add_user(who, Role.STUDENT))
                for who in [f"sim-{i}" for i in range(5)] + ["sim-copier"]}
    for i, name in enumerate(INDEPENDENT[:5]):
        hand_in(students[f"sim-{i}"], EE411 / name)
    hand_in(students["sim-copier"], COPY)
    # a student's later hand-in replaces the earlier one: only the latest is compared
    hand_in(students["sim-0"], EE411 / INDEPENDENT[0])

    started = staff.post("/assignments/ee411-hw3/similarity")
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    run = wait_done(staff)
    assert run["status"] == "done", run
    assert run["submissions"] == 6
    top = run["pairs"][0]
    assert {top["a"]["who"], top["b"]["who"]} == {"sim-2", "sim-copier"}
    assert min(top["a"]["similarity"], top["b"]["similarity"]) > 0.85

    detail = staff.get(f"/similarity/{run['id']}/pairs/1").json()
    copied = detail["a"] if detail["a"]["who"] == "sim-copier" else detail["b"]
    lines = copied["code"].splitlines()
    marked = {n for first, last in copied["lines"] for n in range(first, last + 1)}
    gradient_line = next(i + 1 for i, line in enumerate(lines) if "def gradient" in line)
    assert gradient_line in marked
    assert staff.get(f"/similarity/{run['id']}/pairs/999").status_code == 404

    student = server.client(server.add_user("sim-nosy", Role.STUDENT))
    assert student.get("/assignments/ee411-hw3/similarity").status_code == 403
    assert student.get(f"/similarity/{run['id']}/pairs/1").status_code == 403

    # the command line starts another comparison, waits for it, and lists the pairs
    listed = cli(server, "similarity", "-a", "ee411-hw3", "--top", "3", "--token", staff_token)
    assert listed.returncode == 0, listed.stderr
    first = next(line for line in listed.stdout.splitlines() if "sim-copier" in line)
    assert "sim-2" in first and first.strip("│ ").startswith("1")


def test_a_comparison_whose_job_died_reads_as_failed_and_can_be_started_again(server):
    from datetime import timedelta

    from service.db import repository as repo
    from service.db.base import utcnow
    from service.db.models import SimilarityRun, SimilarityStatus
    from service.db.session import make_engine, make_sessionmaker

    staff_token = server.add_user("sim-prof2", Role.INSTRUCTOR)
    sessions = make_sessionmaker(make_engine(server.settings().resolved_database_url))
    with sessions.begin() as db:
        user = repo.user_by_token(db, token=staff_token)
        assert user is not None
        run = repo.start_similarity(db, assignment_id="tum-ps10", user=user)
        run.status = SimilarityStatus.RUNNING
        run.updated_at = utcnow() - timedelta(minutes=5)  # killed with the service
    staff = server.client(staff_token)
    seen = staff.get("/assignments/tum-ps10/similarity").json()
    assert seen["status"] == "failed" and "start it again" in seen["error"]
    again = staff.post("/assignments/tum-ps10/similarity")
    assert again.status_code == 202, again.text
    done = wait_done(staff, "tum-ps10")
    assert done["status"] == "done" and done["submissions"] == 0 and done["pairs"] == []
    with sessions.begin() as db:
        assert db.get(SimilarityRun, run.id).status == SimilarityStatus.FAILED


def test_a_second_comparison_is_refused_while_one_runs(server):
    from service.db import repository as repo
    from service.db.session import make_engine, make_sessionmaker

    staff_token = server.add_user("sim-prof3", Role.INSTRUCTOR)
    sessions = make_sessionmaker(make_engine(server.settings().resolved_database_url))
    with sessions.begin() as db:
        user = repo.user_by_token(db, token=staff_token)
        assert user is not None
        repo.start_similarity(db, assignment_id="nyu-hw5", user=user)  # queued, alive
    refused = server.client(staff_token).post("/assignments/nyu-hw5/similarity")
    assert refused.status_code == 409 and "still running" in refused.json()["detail"]

