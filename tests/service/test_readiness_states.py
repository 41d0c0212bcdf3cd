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
