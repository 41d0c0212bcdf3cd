"""What the dashboard and /readyz say about each assignment before any grading: an
assignment waiting for a calibration that nothing will run is not "calibrating"."""

from __future__ import annotations

from service.config import Settings
from service.readiness import AssignmentReadiness, Readiness


def _readiness(catalog, fixture_data, tmp_path, *, at_start: bool) -> AssignmentReadiness:
    # the hidden sets without any calibration another test may have cached beside them
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for path in (fixture_data / "hidden").glob("*.npz"):
        (hidden / path.name).symlink_to(path)
    settings = Settings(data_dir=tmp_path, datasets_dir=fixture_data / "datasets",
                        hidden_dir=hidden,
                        weights_dir=fixture_data / "weights", calibrate_at_start=at_start)
    return AssignmentReadiness(settings, {"tum-ps10": catalog["tum-ps10"]})


def test_with_start_up_calibration_an_uncalibrated_assignment_is_calibrating(
        catalog, fixture_data, tmp_path):
    status, reason = _readiness(catalog, fixture_data, tmp_path, at_start=True).status(
        "tum-ps10")
    assert status is Readiness.CALIBRATING and "measuring" in reason


def test_without_it_the_assignment_is_ready_and_its_first_grading_measures_it(
        catalog, fixture_data, tmp_path):
    readiness = _readiness(catalog, fixture_data, tmp_path, at_start=False)
    readiness.start()  # runs nothing
    assert readiness.status("tum-ps10") == (Readiness.READY, "")


def test_a_calibration_whose_reference_does_not_beat_its_untrained_copy_says_which_question(
        catalog, fixture_data, tmp_path):
    import json
    import sys
    from pathlib import Path

    from graders import GradeReport, ReportStatus, SandboxConfig
    from graders.calibrate import _where
    from graders.results import report_to_json

    readiness = _readiness(catalog, fixture_data, tmp_path, at_start=False)
    tum = catalog["tum-ps10"]
    config = SandboxConfig(python_env=Path(sys.prefix), jobs_root=tmp_path / "jobs",
                           datasets_dir=fixture_data / "datasets")
    _, target, fingerprint = _where(tum, config, readiness.settings.hidden_dir)
    report = GradeReport(assignment_id="tum-ps10", assignment_version="1",
                         engine_version="test", status=ReportStatus.GRADED)

    def seed(accuracies: dict[str, float]) -> dict[str, str]:
        target.write_text(json.dumps({"fingerprint": fingerprint, "accuracies": accuracies,
                                      "report": json.loads(report_to_json(report))}))
        again = AssignmentReadiness(readiness.settings, {"tum-ps10": tum})
        return again.snapshot()["tum-ps10"]

    # the reference well above chance, and its untrained copy near chance: nothing to say
    fine = seed({"2.3:0": 0.90, "2.3:0:untrained": 0.34, "2.4:1": 0.90})
    assert fine["status"] == "ready" and "ungraded" not in fine
    # above chance (a third here), but no better than the same network untrained
    lucky = seed({"2.3:0": 0.60, "2.3:0:untrained": 0.58, "2.4:1": 0.90})
    assert lucky["status"] == "ready"
    assert "tum-ps10 2.3" in lucky["ungraded"] and "untrained copy" in lucky["ungraded"]
