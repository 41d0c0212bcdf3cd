"""Reference accuracies: what the reference notebook's models reach on this deployment's
data, measured by grading it through the same sandbox, and cached per data version.

Training is noisy and data differ between deployments (and the test fixtures), so model
questions are scored against these numbers with a band, never against a constant.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path

from graders.catalog import LoadedAssignment
from graders.errors import SpecError
from graders.results import GradeReport, report_from_json, report_to_json
from graders.sandbox import Limits, SandboxConfig


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


def reference_accuracies(assignment: LoadedAssignment, *, config: SandboxConfig,
                         limits: Limits, hidden_dir: Path | None) -> dict[str, float]:
    return calibrate(assignment, config=config, limits=limits, hidden_dir=hidden_dir)[0]


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
        raise SpecError("accuracy checks need the hidden test sets (hidden data directory)")
    cache, target, fingerprint = _where(assignment, config, hidden_dir)
    notebook = assignment.path / str(spec.reference_notebook)
    with (cache / f"{spec.id}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one calibration at a time, others wait for it
        found = _read(target, fingerprint)
        if found is not None:
            return found
        from graders.grade import grade_submission

        graded = grade_submission(notebook.read_bytes(), notebook.name, assignment=assignment,
                                  config=config, limits=limits, hidden_dir=hidden_dir,
                                  calibrating=True)
        if not graded.measured:
            reasons = [line for q in graded.report.questions for line in q.feedback][:3]
            raise SpecError(f"calibrating {spec.id}: the reference notebook produced no "
                            f"model accuracies ({'; '.join(reasons)})")
        target.write_text(json.dumps({
            "fingerprint": fingerprint, "accuracies": graded.measured,
            "report": json.loads(report_to_json(graded.report))}, indent=2))
        return graded.measured, graded.report
