"""Every bundled assignment, discovered: its reference scores full marks as a submission.

A new assignment folder is covered here without writing a test: its ``solution.py``
graded as a notebook earns every point of the questions it answers (functions), and its
reference notebook, where it has one, earns every autograded point (trained models
included, on the fixture data).
"""

from __future__ import annotations

import pytest

from graders import Outcome, ensure_calibration, grade_submission, run_calibration
from graders.catalog import discover
from graders.spec import FunctionCheck, NoLoops
from tests.conftest import MODEL_LIMITS, make_notebook
from tests.fixtures.build_notebooks import SHORT_TRAINING

pytestmark = pytest.mark.sandbox
CATALOG = discover()


def _function_questions(assignment_id):
    return [q for q in CATALOG[assignment_id].spec.questions if q.checks and all(
        isinstance(c, FunctionCheck | NoLoops) for c in q.checks)]


WITH_FUNCTIONS = sorted(a for a in CATALOG if _function_questions(a))
WITH_NOTEBOOK = sorted(a for a, loaded in CATALOG.items() if loaded.spec.reference_notebook)
# Reference notebooks train for the handout's epochs; CI trains for fewer.
SHORTER = {"ee411-hw3": SHORT_TRAINING}


def _shortfalls(report):
    return [(q.id, q.points, q.feedback) for q in report.questions
            if q.outcome is not Outcome.MANUAL and q.points < q.max_points - 1e-9]


@pytest.mark.parametrize("assignment_id", WITH_FUNCTIONS)
def test_the_reference_solution_answers_its_function_questions_in_full(
        assignment_id, catalog, data_config, fixture_data):
    loaded = catalog[assignment_id]
    functional = _function_questions(assignment_id)
    graded = grade_submission(make_notebook((loaded.path / "solution.py").read_text()),
                              "solution.ipynb", assignment=loaded, config=data_config,
                              limits=MODEL_LIMITS, hidden_dir=fixture_data / "hidden",
                              calibration=ensure_calibration(
                                  loaded, config=data_config, limits=MODEL_LIMITS,
                                  hidden_dir=fixture_data / "hidden"))
    by_id = {q.id: q for q in graded.report.questions}
    assert [(q.id, by_id[q.id].feedback) for q in functional
            if by_id[q.id].points < q.points] == []


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", WITH_NOTEBOOK)
def test_the_reference_notebook_scores_full_marks(assignment_id, catalog, data_config,
                                                  fixture_data):
    loaded = catalog[assignment_id]
    assert loaded.spec.reference_notebook is not None
    hidden = fixture_data / "hidden"
    calibration = ensure_calibration(loaded, config=data_config, limits=MODEL_LIMITS,
                                     hidden_dir=hidden)
    if calibration is not None:
        # calibrating already graded the reference notebook, and refuses to cache
        # anything unless it earned full marks
        _, report = run_calibration(loaded, config=data_config, limits=MODEL_LIMITS,
                                    hidden_dir=hidden)
    else:
        source = (loaded.path / loaded.spec.reference_notebook).read_text()
        for old, new in SHORTER.get(assignment_id, ()):
            source = source.replace(old, new)
        report = grade_submission(source.encode(), loaded.spec.reference_notebook,
                                  assignment=loaded, config=data_config, limits=MODEL_LIMITS,
                                  hidden_dir=hidden).report
    assert report.score == report.max_score == loaded.spec.autograded_points, \
        _shortfalls(report)
