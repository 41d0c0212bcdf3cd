"""Reports: one JSON form, derived totals, Gradescope export, rescoring without running."""

from __future__ import annotations

import dataclasses
import json

import pytest

from graders.catalog import LoadedAssignment
from graders.errors import SpecError
from graders.pipeline.grade import rescore
from graders.results import Outcome, report_from_json, report_to_json, to_gradescope
from graders.spec import Case, Normal

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def summed(grade):
    return grade("summed_gradient.ipynb").report


def test_json_round_trip_keeps_everything_and_derives_totals(summed):
    text = report_to_json(summed)
    again = report_from_json(text)
    assert again == summed
    tampered = json.loads(text)
    tampered["score"] = 1000
    assert report_from_json(json.dumps(tampered)).score == summed.score == 20.0


def test_gradescope_results_format(summed):
    data = to_gradescope(summed)
    assert data["score"] == 20.0
    tests = {t["number"]: t for t in data["tests"]}
    assert tests["1.5"]["score"] == 4.0 and tests["1.5"]["max_score"] == 12
    assert "score" not in tests["1.4"]  # manual: left for staff
    assert tests["1.1"]["visibility"] == "visible"


def with_question(assignment: LoadedAssignment, qid: str, **changes) -> LoadedAssignment:
    questions = tuple(
        dataclasses.replace(q, **changes) if q.id == qid else q
        for q in assignment.spec.questions
    )
    spec = dataclasses.replace(assignment.spec, questions=questions, version="2")
    return dataclasses.replace(assignment, spec=spec)


def test_rescore_with_the_same_rubric_reproduces_the_scores(summed, ee411):
    assert rescore(summed, ee411).questions == summed.questions


def test_rescore_applies_a_new_diagnosis_credit_without_running(summed, ee411):
    q = ee411.spec.question("1.5")
    check = q.checks[0]
    generous = dataclasses.replace(check, diagnoses=(
        dataclasses.replace(check.diagnoses[0], credit=0.8), *check.diagnoses[1:]))
    changed = with_question(ee411, "1.5", checks=(generous, *q.checks[1:]))
    new = rescore(summed, changed)
    assert {x.id: x.points for x in new.questions}["1.5"] == 0.8 * 8
    assert new.assignment_version == "2"
    assert new.probes == summed.probes  # nothing re-ran


def test_rescore_refuses_when_the_inputs_would_change(summed, ee411):
    q = ee411.spec.question("1.1")
    check = q.checks[0]
    other = dataclasses.replace(check, cases=(Case(args=check.cases[0].args,
                                                   dims=(("B", 2),)),))
    with pytest.raises(SpecError, match="must be re-run"):
        rescore(summed, with_question(ee411, "1.1", checks=(other, q.checks[1])))
    assert Normal  # generators are part of the fingerprint


def test_manual_questions_are_pending_not_zero(summed):
    manual = {q.id for q in summed.questions if q.outcome is Outcome.MANUAL}
    assert {"1.4", "2.1b", "2.6"} <= manual and summed.manual_pending == 28.0


def test_a_cells_error_names_the_line_of_the_cell_not_ipythons_temporary_file():
    from graders.runner.session import error_text

    cell = {"outputs": [{"output_type": "error", "ename": "SyntaxError",
                         "evalue": "invalid syntax (1095314682.py, line 2)"}]}
    assert error_text(cell) == "SyntaxError: invalid syntax (line 2 of the cell)"
