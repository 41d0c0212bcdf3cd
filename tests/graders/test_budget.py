"""Every time limit is decided in one place: the assignment sets them, the deployment may
only lower them, and the report says which applied and whose they were."""

from __future__ import annotations

import json
import math

import nbformat
import pytest

from graders.inputs import plan_calls
from graders.pipeline.budget import budget_shortfalls, decide
from graders.pipeline.model_plan import plan_models
from graders.sandbox.config import Limits
from tests.conftest import NOTEBOOKS


@pytest.fixture(scope="module")
def tum(catalog):
    return catalog["tum-ps10"]


@pytest.fixture(scope="module")
def tum_correct():
    return nbformat.read(NOTEBOOKS / "tum_ps10" / "correct.ipynb", as_version=4)


def budget_for(assignment, notebook, deployment: Limits):
    calls = plan_calls(assignment.spec, 1, max_call_s=deployment.call_timeout_s)
    requests, _ = plan_models(assignment.spec, assignment.solution)
    return decide(assignment, deployment, notebook, calls, requests)


def test_without_caps_the_assignment_sets_every_limit(tum, tum_correct):
    budget = budget_for(tum, tum_correct, Limits())
    applied = budget.applied
    assert (applied.cell_timeout_s, applied.total_timeout_s) == (1800, 3600)
    assert (applied.cell_source, applied.total_source, applied.probe_source) == (
        "assignment", "assignment", "assignment")
    assert applied.question_s == {"2.3": 1800}
    # the training question's cells run under the question's own budget
    assert set(budget.sections.values()) == {1800}
    assert budget.sections  # its section was found in the notebook


def test_a_deployment_cap_lowers_cells_questions_total_and_the_probe_phase(
        tum, tum_correct):
    budget = budget_for(tum, tum_correct, Limits(cell_timeout_s=60, total_timeout_s=120))
    applied = budget.applied
    assert (applied.cell_timeout_s, applied.total_timeout_s) == (60, 120)
    assert (applied.cell_source, applied.total_source) == ("deployment cap",) * 2
    assert applied.question_s == {"2.3": 60}
    assert set(budget.sections.values()) == {60}
    assert budget.probe_s == 120 and applied.probe_source == "deployment cap"
    assert budget.limits.cell_timeout_s == 60 and budget.limits.total_timeout_s == 120


def test_a_deployment_cap_above_the_assignment_raises_nothing(tum, tum_correct):
    budget = budget_for(tum, tum_correct, Limits(cell_timeout_s=10_000,
                                                 total_timeout_s=100_000))
    assert (budget.limits.cell_timeout_s, budget.limits.total_timeout_s) == (1800, 3600)
    assert budget.applied.question_s == {"2.3": 1800}
    assert budget.applied.probe_source == "assignment"


def test_every_planned_call_and_model_request_has_its_own_limit(ee411):
    notebook = nbformat.read(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb", as_version=4)
    deployment = Limits(call_timeout_s=2)
    calls = plan_calls(ee411.spec, 1, max_call_s=2)
    requests, _ = plan_models(ee411.spec, ee411.solution)
    budget = decide(ee411, deployment, notebook, calls, requests)
    assert set(budget.calls) == {c.call_id for c in calls} | {r.id for r in requests}
    assert all(budget.calls[c.call_id] <= 2 for c in calls)
    assert math.isfinite(budget.probe_s) and budget.probe_s > 0


def test_a_budget_that_does_not_fit_the_submission_is_refused_at_load(ee411):
    import dataclasses

    from graders.catalog import validate
    from graders.errors import SpecError

    spec = ee411.spec
    greedy = dataclasses.replace(spec, questions=tuple(
        dataclasses.replace(q, budget_s=spec.total_timeout_s + 1) if q.id == "2.2" else q
        for q in spec.questions))
    with pytest.raises(SpecError, match=r"2\.2: a budget of 3601 s does not fit"):
        validate(dataclasses.replace(ee411, spec=greedy))
    slow_cells = dataclasses.replace(spec, cell_timeout_s=spec.total_timeout_s * 2)
    with pytest.raises(SpecError, match="more than the whole submission's"):
        validate(dataclasses.replace(ee411, spec=slow_cells))


def test_every_bundled_assignment_bounds_a_hanging_cell_outside_its_training_questions(
        catalog):
    # a cell outside the questions with their own budgets (a recursive glob, a stray
    # while loop) is stopped well before the submission's whole budget is spent
    for assignment in catalog.values():
        spec = assignment.spec
        assert spec.cell_timeout_s <= spec.total_timeout_s / 2, spec.id


def _reference_report(assignment_id: str):
    from graders.results import report_from_json
    from tests import evidence

    body = json.loads(evidence.path_of(assignment_id, evidence.REFERENCE).read_text())
    return report_from_json(json.dumps(body["report"]))


@pytest.mark.parametrize("assignment_id", ["ee411-hw3", "heidelberg-ex08", "nyu-hw5",
                                           "tum-ps10", "vu-dl-a2"])
def test_every_bundled_budget_leaves_the_reference_its_headroom(catalog, assignment_id):
    # on the fixture data the suite grades with; calibration checks the deployment's own
    assert budget_shortfalls(catalog[assignment_id], _reference_report(assignment_id)) == []


def test_a_budget_the_reference_nearly_fills_is_named(catalog, tum):
    report = _reference_report("tum-ps10")
    slowest = max(report.execution.cells, key=lambda r: r.duration_s)
    cells = [r.model_copy(update={"duration_s": 700.0}) if r is slowest else r
             for r in report.execution.cells]
    slow = report.model_copy(update={"execution": report.execution.model_copy(
        update={"cells": cells})})
    problems = budget_shortfalls(tum, slow)
    assert problems == [f"tum-ps10: the reference's cell {slowest.index + 1} took 700 s; "
                        "the assignment's cell limit of 1800 s leaves less than 3 times that "
                        "for a student's"]


def test_a_total_the_reference_nearly_fills_is_named(catalog, tum):
    report = _reference_report("tum-ps10")
    cells = [r.model_copy(update={"duration_s": 500.0}) for r in report.execution.cells]
    slow = report.model_copy(update={"execution": report.execution.model_copy(
        update={"cells": cells})})
    assert any("in all; the total of 3600 s" in p for p in budget_shortfalls(tum, slow))


def test_a_cell_under_a_questions_heading_is_held_to_that_questions_budget(catalog):
    report = _reference_report("ee411-hw3")
    training = next(c.index for c in report.cells if c.kind == "code" and c.index > 5)
    cells = [r.model_copy(update={"duration_s": 500.0}) if r.index == training else r
             for r in report.execution.cells]
    slow = report.model_copy(update={"execution": report.execution.model_copy(
        update={"cells": cells})})
    assert budget_shortfalls(catalog["ee411-hw3"], slow)[0] == (
        f"ee411-hw3: the reference's cell {training + 1} took 500 s; question 2.2's budget "
        "of 1200 s leaves less than 3 times that for a student's")
