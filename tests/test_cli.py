"""The `autograder grade` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, NOTEBOOKS, ROOT

pytestmark = pytest.mark.sandbox
AUTOGRADER = [sys.executable, "-m", "service.cli"]


@pytest.fixture(scope="module", autouse=True)
def cli_datasets() -> Iterator[Path]:
    """Small course datasets, readable by any user (the laptop test runs as nobody)."""
    import shutil
    import tempfile

    from service.fixtures import make_fixtures

    root = Path(tempfile.mkdtemp(prefix="ag-cli-data-"))
    make_fixtures(root, kmnist_train=2000)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    # restored afterwards, not removed: on a pytest-xdist worker the service tests' own
    # datasets (tests/service/conftest.py) may be set for the rest of the session
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AUTOGRADER_DATASETS_DIR", str(root / "datasets"))
        yield root / "datasets"
    shutil.rmtree(root, ignore_errors=True)


def run(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "AUTOGRADER_JOBS_DIR": str(tmp_path), **env}
    return subprocess.run([*AUTOGRADER, *args], capture_output=True, text=True,
                          cwd=ROOT, env=environ, timeout=300)


def test_grade_prints_a_table_and_exits_zero_whatever_the_score(tmp_path):
    result = run("grade", str(NOTEBOOKS / "ee411_hw3" / "wrong_gradient.ipynb"),
                 "--assignment", "ee411-hw3", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    # 1.5: w_2's gradient right, w_1's wrong: w_2's 0.3 share of the 8 value points
    assert "Autograded: 18.4 / 47" in result.stdout and "(+28 graded by hand)" in result.stdout


def test_grade_json_is_the_report(tmp_path):
    result = run("grade", str(NOTEBOOKS / "ee411_hw3" / "correct_module.py"),
                 "--assignment", "ee411-hw3", "--json", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["score"] == 28.0


def test_an_unreadable_file_exits_one_with_the_reason(tmp_path):
    bad = tmp_path / "hw.ipynb"
    bad.write_text("{nope")
    result = run("grade", str(bad), "--assignment", "ee411-hw3", tmp_path=tmp_path)
    assert result.returncode == 1 and "not valid JSON" in result.stdout


def test_a_notebook_nested_thousands_deep_is_refused_with_a_reason_not_a_traceback(tmp_path):
    result = run("grade", str(NOTEBOOKS / "ee411_hw3" / "hostile_deeply_nested.ipynb"),
                 "--assignment", "ee411-hw3", tmp_path=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "nested far deeper than any notebook" in " ".join(result.stdout.split())
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_grader_data_is_named_and_exits_two(tmp_path):
    result = run("grade", str(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb"),
                 "--assignment", "ee411-hw3", "--json", tmp_path=tmp_path,
                 AUTOGRADER_DATASETS_DIR=str(tmp_path / "empty"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "dataset KMNIST is not installed" in result.stderr
    report = json.loads(result.stdout)
    assert report["score"] == report["max_score"] == 28.0  # part 1 graded; part 2 held
    held = [q for q in report["questions"] if q["outcome"] == "ungraded"]
    assert held and all("not a problem with your work" in q["feedback"][0] for q in held)


def test_an_infrastructure_failure_exits_two(tmp_path):
    result = run("grade", str(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb"),
                 "--assignment", "ee411-hw3", tmp_path=tmp_path,
                 AUTOGRADER_GRADING_ENV=str(tmp_path / "no-such-env"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "infrastructure" in result.stderr


def _readable_by_anyone(path: Path) -> bool:
    """Every folder above ``path`` lets other users through (a clone in a `mktemp -d`
    folder, mode 700, does not)."""
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def _as_nobody(args: list[str], stage: Path) -> list[str]:
    """The command line that runs ``python -m <args>`` as uid 65534; ``{root}`` in
    ``args`` is the repository as that user reaches it.

    Where the clone or its venv sits under a folder only root may enter, both are
    bind-mounted onto a world-readable folder in a private mount namespace: the user runs
    the same files, reached by a path it may walk. Nothing changes on the host.
    """
    ids = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    prefix, python = Path(sys.prefix), Path(sys.executable)
    if _readable_by_anyone(ROOT) and _readable_by_anyone(prefix):
        return [*ids, str(python), "-m", *(a.format(root=ROOT) for a in args)]
    repo, env = stage / "repo", stage / "env"
    repo.mkdir(mode=0o755)
    mounts = [f"mount --bind {ROOT} {repo}"]
    if prefix.is_relative_to(ROOT):
        python = repo / python.relative_to(ROOT)
    else:
        env.mkdir(mode=0o755)
        mounts.append(f"mount --bind {prefix} {env}")
        python = env / python.relative_to(prefix)
    inner = shlex.join([*ids, "env", f"PYTHONPATH={repo}", str(python), "-m",
                        *(a.format(root=repo) for a in args)])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            " && ".join([*mounts, f"cd {repo}", f"exec {inner}"])]


def test_an_ordinary_user_grades_with_rlimits_and_a_warning():
    """The laptop mode: bwrap started by an unprivileged user, no cgroups; wherever the
    clone lives."""
    import shutil
    import tempfile

    # pytest's own temporary folders sit under a 0700 directory the user cannot enter
    tmp_path = Path(tempfile.mkdtemp(prefix="ag-user-"))
    tmp_path.chmod(0o777)
    args = ["service.cli", "grade", "{root}/tests/fixtures/notebooks/ee411_hw3/correct_basic.ipynb",
            "--assignment", "ee411-hw3", "--json"]
    argv = _as_nobody(args, tmp_path) if IS_ROOT else \
        [sys.executable, "-m", *(a.format(root=ROOT) for a in args)]
    env = {**os.environ, "HOME": str(tmp_path), "AUTOGRADER_JOBS_DIR": str(tmp_path / "jobs"),
           "AUTOGRADER_DATA_DIR": str(tmp_path / "var")}
    try:
        result = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env,
                                timeout=300)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["score"] == 28.0
    assert report["execution"]["sandboxed"] is True
    if IS_ROOT:
        assert any("without cgroups" in w for w in report["execution"]["warnings"])


def test_grade_takes_a_folder_and_a_zip_of_submissions_and_writes_one_summary(tmp_path):
    import csv
    import io
    import zipfile

    ee411 = NOTEBOOKS / "ee411_hw3"
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "alice.ipynb").write_bytes((ee411 / "correct_basic.ipynb").read_bytes())
    (folder / "bob.ipynb").write_bytes((ee411 / "wrong_gradient.ipynb").read_bytes())
    (folder / "carol.ipynb").write_text("{not a notebook")
    (folder / "notes.txt").write_text("ignored: not a submission")
    dave = folder / "dave"  # a student folder: notebook plus a helper module
    dave.mkdir()
    (dave / "hw3.ipynb").write_bytes((ee411 / "correct_basic.ipynb").read_bytes())
    (dave / "helpers.py").write_text("X = 1\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # a platform export: one folder per student
        zf.writestr("erin/hw.ipynb", (ee411 / "correct_basic.ipynb").read_text())
        zf.writestr("frank/hw.ipynb", (ee411 / "wrong_predict.ipynb").read_text())
    (tmp_path / "late.zip").write_bytes(buf.getvalue())

    summary = tmp_path / "grades.csv"
    result = run("grade", str(folder), str(tmp_path / "late.zip"), "--assignment",
                 "ee411-hw3", "--jobs", "2", "--summary", str(summary), tmp_path=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # carol's file is unreadable
    rows = {r["submission"]: r for r in csv.DictReader(summary.open())}
    assert set(rows) == {"alice.ipynb", "bob.ipynb", "carol.ipynb", "dave",
                         "late.zip/erin", "late.zip/frank"}
    for name in ("alice.ipynb", "dave", "late.zip/erin"):
        assert rows[name]["status"] == "graded" and rows[name]["score"] == "28", rows[name]
    assert rows["bob.ipynb"]["score"] == "18.4" and rows["bob.ipynb"]["1.5"] == "2.4"
    assert float(rows["late.zip/frank"]["score"]) < 28
    assert rows["carol.ipynb"]["status"] == "not_gradable"
    assert "not valid JSON" in rows["carol.ipynb"]["reason"]
    # the pool served at least one of them warm
    assert any(r["warm_kernel"] == "True" for r in rows.values()), rows
