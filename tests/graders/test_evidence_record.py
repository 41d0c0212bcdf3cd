"""One submission's evidence is a typed, versioned, immutable record, and its report is a
pure function of (spec, evidence, reference, calibration): re-scoring the stored evidence
gives what grading gave, including what the run took away."""

from __future__ import annotations

import pydantic
import pytest

from graders.catalog import discover
from graders.checks import kind_of
from graders.evidence import EvidenceRecord, StaleEvidence
from graders.pipeline.grade import rescore, score_evidence
from graders.results import EVIDENCE_VERSION, Outcome, ReportStatus
from tests import evidence

CATALOG = discover()
ASSIGNMENT, HAND_IN = "ee411-hw3", "part2_correct.ipynb"


@pytest.fixture(scope="module")
def recording(fixture_data):
    return evidence.load(ASSIGNMENT, HAND_IN, fixture_data / "hidden")


def test_the_record_is_read_back_from_the_stored_report_unchanged(recording):
    report = recording.report
    record = EvidenceRecord.of(report)
    assert record.version == EVIDENCE_VERSION
    assert (record.seed, record.inputs_fingerprint) == (report.seed, report.inputs_fingerprint)
    assert list(record.probes) == report.probes
    assert list(record.candidates) == report.candidates
    assert list(record.cell_records) == report.execution.cells


def test_the_record_cannot_be_changed_by_a_scorer(recording):
    record = EvidenceRecord.of(recording.report)
    with pytest.raises(pydantic.ValidationError):
        record.tampered = True  # type: ignore[misc]
    assert isinstance(record.probes, tuple)


def test_the_report_is_a_function_of_the_evidence(recording, fixture_data):
    record = EvidenceRecord.of(recording.report)
    hidden = fixture_data / "hidden"
    first = score_evidence(CATALOG[ASSIGNMENT], record, hidden_dir=hidden,
                           calibration=recording.calibration)
    again = score_evidence(CATALOG[ASSIGNMENT], record, hidden_dir=hidden,
                           calibration=recording.calibration)
    assert first == again
    assert sum(q.points for q in first) == recording.report.score


def test_a_rescore_cannot_give_back_what_tampering_took(recording, fixture_data):
    report = recording.report
    tampered = report.model_copy(update={"execution": report.execution.model_copy(
        update={"tampered": True})})
    rescored = rescore(tampered, CATALOG[ASSIGNMENT], hidden_dir=fixture_data / "hidden",
                       calibration=recording.calibration)
    graded_functions = [q for q in rescored.questions
                        if CATALOG[ASSIGNMENT].spec.question(q.id).symbols]
    assert graded_functions and all(q.points == 0 for q in graded_functions)
    assert all(q.outcome is Outcome.ERRORED for q in graded_functions)
    assert recording.report.score > 0  # the same evidence untampered earns credit


def test_missing_grader_data_leaves_every_question_that_needs_it_ungraded(fixture_data):
    # Heidelberg's MLP question has an optimizer check (read from the code) beside three
    # that need the grader's data: without the data the notebook's cells ran without it
    # too, so the whole question waits, and the questions needing no data are scored
    recording = evidence.load("heidelberg-ex08", "group_correct.ipynb", fixture_data / "hidden")
    report = rescore(recording.report, CATALOG["heidelberg-ex08"],
                     hidden_dir=fixture_data / "hidden", calibration=recording.calibration)
    missing = report.model_copy(update={"execution": report.execution.model_copy(
        update={"missing_data": ["hidden test set mnist-hidden.npz"]})})
    rescored = rescore(missing, CATALOG["heidelberg-ex08"], hidden_dir=fixture_data / "hidden",
                       calibration=recording.calibration)
    spec = CATALOG["heidelberg-ex08"].spec
    before = {q.id: q for q in report.questions}
    for q in rescored.questions:
        needs = [kind_of(c).needs_data for c in spec.question(q.id).checks]
        if any(needs):
            assert q.outcome is Outcome.UNGRADED and q.points == 0, q.id
            assert all(c.pending for c in q.checks) and q.pending_points == q.max_points
            assert "not a problem with your work" in q.feedback[0]
        else:
            assert q.points == before[q.id].points, q.id
    # the total is out of what was graded: pending points are neither earned nor lost
    assert rescored.max_score == sum(q.max_points for q in rescored.questions
                                     if q.outcome not in (Outcome.UNGRADED, Outcome.MANUAL))


def test_evidence_from_a_newer_engine_is_refused_not_misread(recording):
    newer = recording.report.model_copy(update={"evidence_version": EVIDENCE_VERSION + 1})
    with pytest.raises(StaleEvidence, match="newer than this engine reads"):
        EvidenceRecord.of(newer)


def test_a_report_that_never_ran_has_no_evidence(recording):
    not_run = recording.report.model_copy(update={"status": ReportStatus.NOT_GRADABLE})
    with pytest.raises(StaleEvidence):
        EvidenceRecord.of(not_run)
