"""The same hand-in gets the same points on every worker: thread counts are the job's,
torch runs its deterministic kernels, what cannot be pinned is recorded, and measured
accuracies earn credit in bands that noise in the last digits cannot cross."""

from __future__ import annotations

import dataclasses
import re

import nbformat
import pytest

from graders.pipeline.grade import grade_submission
from graders.results import GradeReport
from graders.scoring.models.accuracy import band_credit, credit_bands
from graders.spec import AccuracyBand
from tests.conftest import (
    MODEL_LIMITS,
    NOTEBOOKS,
    make_notebook,
    reference_calibration,
)

pytestmark = pytest.mark.sandbox


def _by_question(report: GradeReport) -> dict[str, float]:
    return {q.id: q.points for q in report.questions}


def _grade_with_threads(assignment, config, fixture_data, folder: str, name: str,
                        threads: int) -> GradeReport:
    path = NOTEBOOKS / folder / name
    calibration = reference_calibration(assignment, config, fixture_data)[0]
    return grade_submission(path.read_bytes(), name, assignment=assignment, config=config,
                            limits=dataclasses.replace(MODEL_LIMITS, threads=threads),
                            hidden_dir=fixture_data / "hidden", calibration=calibration).report


def test_the_kernel_runs_with_the_jobs_thread_count_and_deterministic_torch(
        catalog, data_config):
    source = make_notebook(
        "import os, torch",
        "print('THREADS', torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], "
        "os.environ['MKL_NUM_THREADS'], torch.are_deterministic_algorithms_enabled())")
    graded = grade_submission(source, "threads.ipynb", assignment=catalog["tum-ps10"],
                              config=data_config, seed=1, calibration={},
                              limits=dataclasses.replace(MODEL_LIMITS, threads=2))
    assert "THREADS 2 2 2 True" in nbformat.writes(graded.notebook)
    environment = graded.report.execution.environment
    assert environment is not None and environment.threads == 2
    assert environment.device == "cpu" and environment.cpu_model
    assert environment.libraries["torch"] and environment.libraries["numpy"]


def test_a_trained_network_gets_the_same_points_with_one_or_two_threads(
        catalog, data_config, fixture_data):
    """VU's ReLU network trains in the notebook (numpy matrix products, whose BLAS
    splits work by thread count) and is scored on grader-held points."""
    vu = catalog["vu-dl-a2"]
    one, two = (_grade_with_threads(vu, data_config, fixture_data, "vu_dl_a2",
                                    "student_notebook.ipynb", n) for n in (1, 2))
    assert _by_question(one) == _by_question(two)
    assert (one.execution.environment.threads, two.execution.environment.threads) == (1, 2)
    accuracy = next(c for c in next(q for q in two.questions if q.id == "9b").checks
                    if c.kind == "model_accuracy")
    assert "credit in bands below the reference's" in accuracy.feedback[0]


@pytest.mark.live
def test_the_heidelberg_group_hand_in_gets_the_same_points_with_one_or_two_threads(
        catalog, data_config, fixture_data):
    """Two MNIST MLPs and two VGG-16s trained in torch, twice (minutes: make test-all)."""
    heidelberg = catalog["heidelberg-ex08"]
    one, two = (_grade_with_threads(heidelberg, data_config, fixture_data, "heidelberg_ex08",
                                    "ex08-jordan-hinton-lovelace.zip", n) for n in (1, 2))
    assert _by_question(one) == _by_question(two), (
        question_feedback(one, "2"), question_feedback(two, "2"))
    line = question_feedback(two, "2")
    assert any("reaches" in f and "credit in bands" in f for f in line), line


def question_feedback(report: GradeReport, qid: str) -> list[str]:
    return next(q.feedback for q in report.questions if q.id == qid)


# ------------------------------------------------------------------- the bands alone
def test_credit_moves_in_whole_bands_and_the_last_digits_never_move_it():
    band = AccuracyBand(full_within=0.05, zero_within=0.30)  # margin 0.02, four steps
    bands = credit_bands(band, reference=0.968)
    assert bands == [(1.0, 0.898), (0.75, 0.835), (0.5, 0.773), (0.25, 0.71)]
    assert band_credit(bands, 0.95) == band_credit(bands, 0.8981) == 1.0
    # what the report prints (0.1 %) decides: 89.76 % prints as 89.8 % and is full
    assert band_credit(bands, 0.89762) == 1.0
    assert band_credit(bands, 0.8974) == 0.75
    assert band_credit(bands, 0.80) == 0.5
    assert band_credit(bands, 0.70) == 0.0


def test_an_untrained_accuracy_far_below_the_reference_earns_nothing():
    bands = credit_bands(AccuracyBand(), reference=0.95)
    assert band_credit(bands, 0.10) == 0.0
    assert band_credit(bands, 0.0) == 0.0


def test_the_report_states_the_measured_accuracy_and_the_band(catalog, fixture_data):
    """Scored from the recorded Heidelberg group hand-in: nothing trains."""
    from tests import evidence

    heidelberg = catalog["heidelberg-ex08"]
    hidden = fixture_data / "hidden"
    report = evidence.load("heidelberg-ex08", "ex08-jordan-hinton-lovelace.zip",
                           hidden).replay(heidelberg, hidden)
    accuracy = next(c for c in next(q for q in report.questions if q.id == "2").checks
                    if c.kind == "model_accuracy")
    text = accuracy.feedback[0]
    assert "reaches" in text and "held-out test images" in text
    # what was measured, on how much, and the control it had to beat
    assert re.search(r"% on the grader's [\d,]+ held-out test images", text), text
    assert "guessing the most common class reaches" in text, text
    assert "credit in bands below the reference's" in text and "full from" in text
