"""Record the evidence that scorer tests replay: ``make record`` (or
``python -m tests.record [ASSIGNMENT ...]``); ``--rescore`` keeps the evidence and only
scores it again (after a rubric change that means to move points: nothing runs).

Grades every hand-in of ``tests.evidence.MANIFEST`` and each assignment's reference
notebook through the real sandbox, on the same fixture data the test session makes,
and writes what the kernel reported to ``tests/recordings``. Rerun it when the kernel
side changes (the replaying tests say so) and commit the result.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from graders import run_calibration
from graders.catalog import LoadedAssignment, discover
from graders.pipeline.grade import grade_submission, needs_calibration
from graders.sandbox.config import SandboxConfig
from service.fixtures import make_fixtures
from tests.conftest import FIXTURE_DATA, MODEL_LIMITS
from tests.evidence import MANIFEST, NOTEBOOKS, REFERENCE, write
from tests.fixtures.build_notebooks import SHORT_TRAINING

# Reference notebooks train for the handout's epochs; recordings of those without an
# accuracy question (nothing to calibrate) train for fewer, as the tests always did.
SHORTER = {"ee411-hw3": SHORT_TRAINING}


def record_reference(assignment: LoadedAssignment, config: SandboxConfig,
                     hidden: Path) -> dict[str, float] | None:
    spec = assignment.spec
    if spec.reference_notebook is None:
        return None
    if needs_calibration(assignment):
        accuracies, report = run_calibration(assignment, config=config, limits=MODEL_LIMITS,
                                             hidden_dir=hidden)
        write(spec.id, REFERENCE, report, accuracies, hidden, measured=accuracies)
        # stored as a grading against its own measurement scores it (what the replaying
        # tests do), not as the calibration run did: a question the reference answers at
        # chance is ungraded then, not full marks
        rescore([spec.id], hidden=hidden, names=[REFERENCE])
        return accuracies
    source = (assignment.path / spec.reference_notebook).read_text()
    for old, new in SHORTER.get(spec.id, ()):
        source = source.replace(old, new)
    report = grade_submission(source.encode(), spec.reference_notebook, assignment=assignment,
                              config=config, limits=MODEL_LIMITS, hidden_dir=hidden).report
    write(spec.id, REFERENCE, report, None, hidden)
    return None


def rescore(only: list[str], *, hidden: Path | None = None,
            names: list[str] | None = None) -> None:
    """The stored reports scored again from their own (current) evidence (``names``:
    these recordings only; ``hidden``: the fixture data's hidden sets, made anew when
    not given)."""
    if hidden is None:
        with tempfile.TemporaryDirectory(prefix="ag-rescore-") as tmp:
            make_fixtures(Path(tmp), **FIXTURE_DATA)
            rescore(only, hidden=Path(tmp) / "hidden", names=names)
        return
    from tests.evidence import RECORDINGS, load

    catalog = discover()
    for assignment_id in only or sorted(catalog):
        for path in sorted((RECORDINGS / assignment_id).glob("*.json")):
            name = path.name.removesuffix(".json")
            if names is not None and name not in names:
                continue
            recording = load(assignment_id, name, hidden)
            calibration = recording.measured if name == REFERENCE else None
            report = recording.replay(catalog[assignment_id], hidden, calibration)
            write(assignment_id, name, report, recording.calibration, hidden,
                  measured=recording.measured)
            print(f"{assignment_id} {name}: {report.score:g} / {report.max_score:g}",
                  flush=True)


def main(only: list[str]) -> None:
    if only[:1] == ["--rescore"]:
        rescore(only[1:])
        return
    catalog = discover()
    with tempfile.TemporaryDirectory(prefix="ag-record-") as tmp:
        root = Path(tmp)
        make_fixtures(root / "data", **FIXTURE_DATA)
        config = SandboxConfig(python_env=Path(sys.prefix), jobs_root=root / "jobs",
                               datasets_dir=root / "data" / "datasets",
                               weights_dir=root / "data" / "weights")
        hidden = root / "data" / "hidden"
        for assignment_id in only or sorted(catalog):
            assignment = catalog[assignment_id]
            started = time.perf_counter()
            calibration = record_reference(assignment, config, hidden)
            print(f"{assignment_id} reference: {time.perf_counter() - started:.0f} s",
                  flush=True)
            folder, names = MANIFEST.get(assignment_id, ("", ()))
            for name in names:
                started = time.perf_counter()
                path = NOTEBOOKS / folder / name
                graded = grade_submission(path.read_bytes(), name, assignment=assignment,
                                          config=config, limits=MODEL_LIMITS,
                                          hidden_dir=hidden, calibration=calibration)
                write(assignment_id, name, graded.report, calibration, hidden)
                print(f"{assignment_id} {name}: {graded.report.score:g} / "
                      f"{graded.report.max_score:g}, {time.perf_counter() - started:.0f} s",
                      flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
