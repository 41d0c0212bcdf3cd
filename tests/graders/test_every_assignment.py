"""Every bundled assignment, discovered: its reference scores full marks as a submission.

A new assignment folder is covered here without writing a test: its ``solution.py``
graded as a notebook earns every point of the questions it answers (functions), and its
reference notebook, where it has one, earns every autograded point (trained models
included, on the fixture data).
"""

from __future__ import annotations

import pytest

from graders import Outcome, needs_calibration
from graders.catalog import discover
from graders.pipeline.grade import grade_submission
from graders.spec import FunctionCheck, NoLoops
from tests import evidence
from tests.conftest import LIVE, MODEL_LIMITS, make_notebook, reference_calibration
from tests.record import SHORTER

pytestmark = pytest.mark.sandbox
CATALOG = discover()


def _function_questions(assignment_id):
    return [q for q in CATALOG[assignment_id].spec.questions if q.checks and all(
        isinstance(c, FunctionCheck | NoLoops) for c in q.checks)]


WITH_FUNCTIONS = sorted(a for a in CATALOG if _function_questions(a))
WITH_NOTEBOOK = sorted(a for a, loaded in CATALOG.items() if loaded.spec.reference_notebook)


def _shortfalls(report):
    return [(q.id, q.points, q.feedback) for q in report.questions
            if q.outcome is not Outcome.MANUAL and q.points < q.max_points - 1e-9]


def _calibration(loaded, data_config, fixture_data):
    if not needs_calibration(loaded):
        return None
    return reference_calibration(loaded, data_config, fixture_data)[0]


@pytest.mark.parametrize("assignment_id", WITH_FUNCTIONS)
def test_the_reference_solution_answers_its_function_questions_in_full(
        assignment_id, catalog, data_config, fixture_data):
    loaded = catalog[assignment_id]
    functional = _function_questions(assignment_id)
    graded = grade_submission(make_notebook((loaded.path / "solution.py").read_text()),
                              "solution.ipynb", assignment=loaded, config=data_config,
                              limits=MODEL_LIMITS, hidden_dir=fixture_data / "hidden",
                              calibration=_calibration(loaded, data_config, fixture_data))
    by_id = {q.id: q for q in graded.report.questions}
    assert [(q.id, by_id[q.id].feedback) for q in functional
            if by_id[q.id].points < q.points] == []


@pytest.mark.parametrize("assignment_id", WITH_NOTEBOOK)
def test_the_reference_notebook_scores_full_marks(assignment_id, catalog, data_config,
                                                  fixture_data):
    """Live, the reference notebook trains through the sandbox (calibrating refuses to
    cache anything that is not full marks); by default its recorded evidence is scored
    by the current scorers."""
    loaded = catalog[assignment_id]
    assert loaded.spec.reference_notebook is not None
    hidden = fixture_data / "hidden"
    if needs_calibration(loaded):
        _, report = reference_calibration(loaded, data_config, fixture_data)
    elif LIVE:
        source = (loaded.path / loaded.spec.reference_notebook).read_text()
        for old, new in SHORTER.get(assignment_id, ()):
            source = source.replace(old, new)
        report = grade_submission(source.encode(), loaded.spec.reference_notebook,
                                  assignment=loaded, config=data_config, limits=MODEL_LIMITS,
                                  hidden_dir=hidden).report
    else:
        report = evidence.load(assignment_id, evidence.REFERENCE, hidden).replay(loaded, hidden)
    # an accuracy question whose reference is at chance on the fixture data (Heidelberg's
    # VGG, NYU's ResNet) waits for a calibration on real data, for the reference too
    waiting = [c for q in report.questions for c in q.checks if c.pending]
    assert all("no better than guessing the most common class" in c.feedback[0]
               for c in waiting), [(c.name, c.feedback) for c in waiting]
    assert report.score == report.max_score == loaded.spec.autograded_points - sum(
        c.max_points for c in waiting), _shortfalls(report)
