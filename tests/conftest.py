"""Shared fixtures: the bundled assignment, a real sandbox configuration, grading helpers."""

from __future__ import annotations

import dataclasses
import os
import random
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from graders import ensure_calibration, run_calibration
from graders.catalog import LoadedAssignment, discover
from graders.pipeline.grade import Graded, grade_submission
from graders.results import GradeReport, QuestionResult
from graders.sandbox.config import GiB, Limits, SandboxConfig

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"

# Each pytest-xdist worker grades as a sandbox user of its own: the suite checks that no
# process of the sandbox uid outlives a grading, which another worker's kernels would
# break. The servers the tests start inherit it through the environment.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
SANDBOX_UID = 10001 + WORKER
os.environ["AUTOGRADER_SANDBOX_UID"] = os.environ["AUTOGRADER_SANDBOX_GID"] = str(SANDBOX_UID)

_PORTS = range(20_000 + 2_000 * WORKER, 22_000 + 2_000 * WORKER)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, for a server a test starts, from a range of this worker's own
    below the kernel's ephemeral ports: two workers asking the kernel for "any port" at
    once could both be given the one just closed, and start two servers on it."""
    for _ in range(500):
        port = random.choice(_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORTS}")

# Small limits keep the time, memory and output tests fast; the mechanisms are the same.
TEST_LIMITS = Limits(
    memory_bytes=1 * GiB,
    max_processes=64,
    cell_timeout_s=4,
    total_timeout_s=120,
    call_timeout_s=2,
)


# Trained-model notebooks train for real (a few seconds to minutes on fixture data).
MODEL_LIMITS = dataclasses.replace(TEST_LIMITS, cell_timeout_s=900, total_timeout_s=1800,
                                   memory_bytes=3 * GiB, call_timeout_s=30)


def make_notebook(*cells: str) -> bytes:
    """A notebook of code cells, serialised as a student would upload it."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb).encode()


@pytest.fixture(scope="session")
def catalog() -> dict[str, LoadedAssignment]:
    return discover()


@pytest.fixture(scope="session")
def ee411(catalog: dict[str, LoadedAssignment]) -> LoadedAssignment:
    return catalog["ee411-hw3"]


@pytest.fixture(scope="session")
def sandbox_config(tmp_path_factory: pytest.TempPathFactory) -> SandboxConfig:
    # The grading environment is the venv running the tests (built from Debian's python).
    return SandboxConfig(python_env=Path(sys.prefix),
                         jobs_root=tmp_path_factory.mktemp("jobs"),
                         sandbox_uid=SANDBOX_UID, sandbox_gid=SANDBOX_UID)


# The fixture data of a test session; recordings (tests/record.py) are made on the same.
FIXTURE_DATA = {"seed": 0, "kmnist_train": 60_000}


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Datasets in torchvision's formats plus hidden test sets, made once per session."""
    from service.fixtures import make_fixtures

    root = tmp_path_factory.mktemp("data")
    make_fixtures(root, **FIXTURE_DATA)
    return root


@pytest.fixture(scope="session")
def data_config(sandbox_config: SandboxConfig, fixture_data: Path) -> SandboxConfig:
    return dataclasses.replace(sandbox_config, datasets_dir=fixture_data / "datasets",
                               weights_dir=fixture_data / "weights")


# Hand-ins that train networks are scored from recorded evidence (tests/recordings) by
# default; AUTOGRADER_TESTS_LIVE=1 (make test-all) grades them through the sandbox again.
LIVE = os.environ.get("AUTOGRADER_TESTS_LIVE") == "1"


def cached_grader(assignment: LoadedAssignment, config: SandboxConfig, fixture_data: Path,
                  folder: str) -> Callable[[str], Graded]:
    """Grade fixture notebooks of ``folder`` with model limits and the hidden sets, each
    once per session: live (training notebooks take seconds to minutes) or, by default,
    by replaying what the sandbox reported when they were recorded. Either way the
    current scorers decide every point."""
    from tests import evidence

    cache: dict[str, Graded] = {}
    hidden = fixture_data / "hidden"

    def run(name: str) -> Graded:
        if name in cache:
            return cache[name]
        if not LIVE:
            recording = evidence.load(assignment.spec.id, name, hidden)
            cache[name] = Graded(recording.replay(assignment, hidden), None)
            return cache[name]
        path = NOTEBOOKS / folder / name
        calibration = ensure_calibration(assignment, config=config, limits=MODEL_LIMITS,
                                         hidden_dir=hidden)
        cache[name] = grade_submission(path.read_bytes(), path.name, assignment=assignment,
                                       config=config, limits=MODEL_LIMITS,
                                       hidden_dir=hidden, calibration=calibration)
        return cache[name]

    return run


def reference_calibration(assignment: LoadedAssignment, config: SandboxConfig,
                          fixture_data: Path) -> tuple[dict[str, float], GradeReport]:
    """(reference accuracies, the reference notebook's report): measured by training the
    reference when live, else its recording replayed."""
    from tests import evidence

    hidden = fixture_data / "hidden"
    if LIVE:
        return run_calibration(assignment, config=config, limits=MODEL_LIMITS,
                               hidden_dir=hidden)
    recording = evidence.load(assignment.spec.id, evidence.REFERENCE, hidden)
    return recording.measured, recording.replay(assignment, hidden, recording.measured)


GradeFn = Callable[..., Graded]


@pytest.fixture(scope="session")
def grade(ee411: LoadedAssignment, sandbox_config: SandboxConfig) -> GradeFn:
    """Grade a fixture file (by name) or raw bytes through the real sandbox."""

    def run(source: str | bytes, *, filename: str = "submission.ipynb",
            assignment: LoadedAssignment | None = None, **limits: object) -> Graded:
        if isinstance(source, str):
            path = NOTEBOOKS / "ee411_hw3" / source
            data, filename = path.read_bytes(), path.name
        else:
            data = source
        return grade_submission(
            data, filename, assignment=assignment or ee411, config=sandbox_config,
            limits=dataclasses.replace(TEST_LIMITS, **limits),
        )

    return run


def points(graded: Graded, keys: object = None) -> dict[str, float]:
    """Autograded points by question (only those in ``keys`` when given)."""
    found = {q.id: q.points for q in graded.report.questions if q.outcome.value != "manual"}
    return found if keys is None else {k: v for k, v in found.items() if k in keys}


def assert_points(graded: Graded | GradeReport, expected: dict[str, float], *,
                  trained_live: bool = LIVE) -> None:
    """Autograded points as ``expected``: exactly when scored from recorded evidence.
    Trained live, an accuracy measured after real training may land one credit band
    away on another machine or thread count; only that much is tolerated, and only in
    questions that measure one."""
    report = graded.report if isinstance(graded, Graded) else graded
    got = {q.id: q.points for q in report.questions if q.outcome.value != "manual"}
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for q in report.questions:
        if q.id not in expected:
            continue
        slack = sum(c.max_points / 4 for c in q.checks if c.kind == "model_accuracy") \
            if trained_live else 0.0
        assert abs(got[q.id] - expected[q.id]) <= slack + 1e-6, \
            (q.id, got[q.id], expected[q.id], q.feedback)


def question(graded: Graded, qid: str) -> QuestionResult:
    return next(q for q in graded.report.questions if q.id == qid)


def sandbox_processes() -> list[str]:
    """Processes still running as the sandbox uid (there must be none after grading)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == SANDBOX_UID:
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


IS_ROOT = os.geteuid() == 0
