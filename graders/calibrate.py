"""Reference accuracies: what the reference notebook's models reach on this deployment's
data, measured by grading it through the same sandbox, and cached per data version.

Training is noisy and data differ between deployments (and the test fixtures), so model
questions are scored against these numbers with a band, never against a constant.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from pathlib import Path

from graders.catalog import LoadedAssignment
from graders.checks import kind_of
from graders.errors import CalibrationMissingError, MissingGraderDataError, SpecError
from graders.hidden import hidden_labels, measured_key
from graders.pipeline.budget import budget_shortfalls
from graders.pipeline.grade import grade_submission, needs_calibration
from graders.results import GradeReport, Outcome, report_from_json, report_to_json
from graders.sandbox.config import Limits, SandboxConfig
from graders.spec import HiddenSet, Question

log = logging.getLogger("autograder.calibrate")


def data_fingerprint(*folders: Path | None) -> str:
    h = hashlib.sha256()
    for folder in folders:
        if folder is None or not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".calibration" not in path.parts:
                stat = path.stat()
                h.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def ensure_calibration(assignment: LoadedAssignment, *, config: SandboxConfig,
                       limits: Limits, hidden_dir: Path | None) -> dict[str, float] | None:
    """The calibration ``grade_submission`` needs: None for an assignment without
    accuracy questions; otherwise the cached one, measured now if missing (waiting for a
    calibration already running elsewhere)."""
    if not needs_calibration(assignment):
        return None
    return calibrate(assignment, config=config, limits=limits, hidden_dir=hidden_dir)[0]


def _shortfalls(report: GradeReport) -> list[str]:
    """Autograded questions the reference notebook did not answer in full."""
    return [f"{q.id} {q.points:g}/{q.max_points:g} ({'; '.join(q.feedback[:2])})"
            for q in report.questions
            if q.outcome is not Outcome.MANUAL and q.points < q.max_points - 1e-9]


def _where(assignment: LoadedAssignment, config: SandboxConfig,
           hidden_dir: Path) -> tuple[Path, Path, str]:
    """(cache folder, cache file, fingerprint of the data and the reference notebook)."""
    spec = assignment.spec
    if spec.reference_notebook is None:
        raise SpecError(f"{spec.id} has accuracy checks but no reference_notebook")
    notebook = assignment.path / spec.reference_notebook
    fingerprint = data_fingerprint(config.datasets_dir, hidden_dir) + hashlib.sha256(
        notebook.read_bytes()).hexdigest()[:12]
    cache = hidden_dir / ".calibration"
    try:
        cache.mkdir(exist_ok=True)
    except OSError:
        cache = config.jobs_root / ".calibration"
        cache.mkdir(parents=True, exist_ok=True)
    return cache, cache / f"{spec.id}-v{spec.version}.json", fingerprint


def _read(target: Path, fingerprint: str) -> tuple[dict[str, float], GradeReport] | None:
    if not target.exists():
        return None
    stored = json.loads(target.read_text())
    if stored.get("fingerprint") != fingerprint:
        return None
    return ({k: float(v) for k, v in stored["accuracies"].items()},
            report_from_json(json.dumps(stored["report"])))


def cached_accuracies(assignment: LoadedAssignment, *, config: SandboxConfig,
                      hidden_dir: Path | None) -> dict[str, float]:
    """The calibration if one is stored for the current data (never runs anything)."""
    if hidden_dir is None or assignment.spec.reference_notebook is None:
        return {}
    _, target, fingerprint = _where(assignment, config, hidden_dir)
    found = _read(target, fingerprint)
    return found[0] if found else {}


def calibrate(assignment: LoadedAssignment, *, config: SandboxConfig, limits: Limits,
              hidden_dir: Path | None) -> tuple[dict[str, float], GradeReport]:
    """(accuracies, the reference notebook's own report), cached per data version."""
    spec = assignment.spec
    if hidden_dir is None:
        raise MissingGraderDataError(
            f"{spec.id}: accuracy questions need the hidden test sets (set the hidden "
            "data directory)")
    cache, target, fingerprint = _where(assignment, config, hidden_dir)
    notebook = assignment.path / str(spec.reference_notebook)
    with (cache / f"{spec.id}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one calibration at a time, others wait for it
        found = _read(target, fingerprint)
        if found is not None:
            return found
        graded = grade_submission(notebook.read_bytes(), notebook.name, assignment=assignment,
                                  config=config, limits=limits, hidden_dir=hidden_dir,
                                  calibrating=True)
        # A calibration counts only if the reference, run with the assignment's own
        # budgets, earns full marks everywhere: otherwise a stopped training cell would
        # set the bar at chance level for every student.
        short = _shortfalls(graded.report)
        if short or not graded.measured:
            reasons = short or [line for q in graded.report.questions
                                for line in q.feedback][:3]
            raise CalibrationMissingError(
                f"calibrating {spec.id}: the reference notebook does not earn full marks, "
                f"so nothing was cached: {'; '.join(reasons)[:1500]}")
        late = budget_shortfalls(assignment, graded.report)
        if late:
            raise CalibrationMissingError(
                f"calibrating {spec.id}: its time budgets are too tight for the reference "
                f"on this data, so nothing was cached: {'; '.join(late)[:1500]}")
        missing = unmeasured(assignment, graded.measured)
        if missing:
            raise CalibrationMissingError(
                f"calibrating {spec.id}: nothing was cached: {'; '.join(missing)}")
        for line in calibration_warnings(assignment, graded.measured, hidden_dir):
            log.warning("%s", line)
        target.write_text(json.dumps({
            "fingerprint": fingerprint, "accuracies": graded.measured,
            "report": json.loads(report_to_json(graded.report))}, indent=2))
        return graded.measured, graded.report


def _measured_keys(assignment: LoadedAssignment) -> list[tuple[Question, str, HiddenSet]]:
    """Every accuracy the reference's calibration measures: (question, key, hidden set)."""
    return [(question, measured_key(f"{question.id}:{index}", sets, i), data)
            for question in assignment.spec.questions
            for index, check in enumerate(question.checks)
            for sets in [kind_of(check).hidden_sets(check)]
            for i, data in enumerate(sets)]


def calibration_warnings(assignment: LoadedAssignment, measured: dict[str, float],
                         hidden_dir: Path) -> list[str]:
    """The accuracy questions whose reference is no better than chance, or than an
    untrained copy of itself, on this data: they stay ungraded for every student (the
    calibration's log, the readiness report and /readyz say which, for staff)."""
    from graders.scoring.models.accuracy import CHANCE_MARGIN, chance_rate

    found = []
    for question, key, data in _measured_keys(assignment):
        if key not in measured:
            continue
        chance = chance_rate(hidden_labels(hidden_dir, data)[1])
        untrained = measured.get(f"{key}:untrained")
        if untrained is not None and round(measured[key], 3) >= round(
                chance + CHANCE_MARGIN, 3) and round(measured[key], 3) < round(
                untrained + CHANCE_MARGIN, 3):
            found.append(
                f"{assignment.id} {question.id}: the reference reaches "
                f"{100 * measured[key]:.1f}% on the hidden set {data.name}, and an "
                f"untrained copy of it {100 * untrained:.1f}%; the question stays "
                "ungraded until it is calibrated on the course's data")
        if round(measured[key], 3) < round(chance + CHANCE_MARGIN, 3):
            found.append(
                f"{assignment.id} {question.id}: the reference reaches "
                f"{100 * measured[key]:.1f}% on the hidden set {data.name}, no better than "
                f"chance ({100 * chance:.1f}%); the question stays ungraded until it is "
                "calibrated on the course's data")
    return found


def unmeasured(assignment: LoadedAssignment, measured: dict[str, float]) -> list[str]:
    """Other data a question lets its network be trained on, where the reference
    notebook trained none (a student's network trained there could not be graded)."""
    keys = _measured_keys(assignment)
    checks = {key.split("@")[0] for _, key, _ in keys if "@" in key}
    return [f"{question.id}: no network of the reference notebook runs on {data.name}"
            for question, key, data in keys
            if key.split("@")[0] in checks and key not in measured
            and any(k in measured for _, k, _ in keys if k.split("@")[0] == key.split("@")[0])]
