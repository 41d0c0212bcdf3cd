"""Each bundled assignment's calibration runs its negative control next to the
reference: an untrained copy of the reference's network on the same hidden images. The
reference must beat it by a clear margin, and that control, graded as a hand-in, must
earn no accuracy credit (from the reference's recording: nothing trains here)."""

from __future__ import annotations

import pytest

from graders.calibrate import unmeasured
from graders.catalog import LoadedAssignment
from graders.checks._controls import wire
from graders.hidden import hidden_labels, measured_key
from graders.pipeline.grade import needs_calibration, rescore
from graders.results import CallStatus, GradeReport
from graders.scoring.models.accuracy import CHANCE_MARGIN, chance_rate
from graders.scoring.values import decode_plain
from graders.spec import HiddenSet, ModelAccuracyCheck
from tests import evidence

CALIBRATED = ["heidelberg-ex08", "nyu-hw5", "tum-ps10", "vu-dl-a2"]


def _accuracy_keys(assignment: LoadedAssignment
                   ) -> list[tuple[str, ModelAccuracyCheck, HiddenSet]]:
    """Every calibrated accuracy: its key, its check, the hidden set it is measured on
    (a check whose question allows other training data has one per set)."""
    return [(measured_key(f"{q.id}:{i}", c.hidden_sets, n), c, data)
            for q in assignment.spec.questions
            for i, c in enumerate(q.checks) if isinstance(c, ModelAccuracyCheck)
            for n, data in enumerate(c.hidden_sets)]


def _untrained_in_place_of_trained(report: GradeReport) -> GradeReport:
    """The reference's evidence with every evaluated network's predictions replaced by
    those of its untrained copy: the control, handed in."""
    probes = []
    for probe in report.probes:
        if probe.status is CallStatus.OK and probe.symbol == "evaluate":
            payload = decode_plain(probe.value)
            if isinstance(payload, dict) and "candidates" in payload:
                for c in payload["candidates"]:
                    if "untrained_predictions" in c:
                        c["predictions"] = c["untrained_predictions"]
                probe = probe.model_copy(update={"value": wire(payload)})
        probes.append(probe)
    return report.model_copy(update={"probes": probes})


@pytest.mark.parametrize("assignment_id", CALIBRATED)
def test_the_reference_beats_its_untrained_copy_and_the_copy_earns_no_accuracy_credit(
        catalog, fixture_data, assignment_id):
    assignment = catalog[assignment_id]
    hidden = fixture_data / "hidden"
    reference = evidence.load(assignment_id, evidence.REFERENCE, hidden)
    measured = reference.measured
    if not needs_calibration(assignment):
        pytest.fail(f"{assignment_id} has no accuracy question to calibrate")
    control = rescore(_untrained_in_place_of_trained(reference.report), assignment,
                      hidden_dir=hidden, calibration=measured)
    checked = 0
    for key, _check, data in _accuracy_keys(assignment):
        if key not in measured:
            continue  # its data is not in the fixtures (the question waits for it)
        assert f"{key}:untrained" in measured, f"{key}: calibration ran no untrained control"
        chance = chance_rate(hidden_labels(hidden, data)[1])
        qid, index = key.split("@")[0].split(":")
        graded = next(q for q in control.questions if q.id == qid).checks[int(index)]
        if measured[key] < chance + CHANCE_MARGIN:
            assert graded.pending  # at chance on this data: nobody is graded on it
            continue
        assert measured[key] >= measured[f"{key}:untrained"] + CHANCE_MARGIN, key
        assert graded.points == 0.0 and not graded.pending, (key, graded.feedback)
        checked += 1
    if assignment_id != "nyu-hw5":  # NYU's fine-tuning stays at chance on CPU fixtures
        assert checked, f"{assignment_id}: no accuracy question above chance to control"


def test_a_calibration_without_a_network_for_each_allowed_set_is_refused(catalog):
    """VU's 9b lets the network be retrained on MNIST too: a reference notebook that
    trains none there would leave every such student ungradable, so the calibration
    names what is missing instead of caching."""
    vu = catalog["vu-dl-a2"]
    assert unmeasured(vu, {"9b:0": 0.99, "9b:0:untrained": 0.5}) == [
        "9b: no network of the reference notebook runs on mnist-hidden"]
    assert unmeasured(vu, {"9b:0": 0.99, "9b:0@mnist-hidden": 0.4}) == []
    assert unmeasured(vu, {"9b:0@mnist-hidden": 0.9}) == [
        "9b: no network of the reference notebook runs on synth-hidden"]
