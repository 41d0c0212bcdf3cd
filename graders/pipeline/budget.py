"""Every time limit of one grading, decided here and nowhere else.

The assignment sets them: per cell, per question (its section's cells), in total, and
each planned call and model request its own. The deployment may only lower them (its caps
are the ``Limits`` the settings built, infinite when unset). The probe phase, which
checks the answers after the cells ran, has an allowance of its own measured on the same
clock across kernel restarts, so a notebook cannot hold a worker past
``total + probe phase`` however often its answers stop the kernel. The report says which
limits applied and whose they were (``AppliedLimits``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from nbformat import NotebookNode

from graders.catalog import LoadedAssignment
from graders.inputs import PlannedCall
from graders.pipeline.model_plan import MODEL_TIMEOUT_S, ModelRequest
from graders.pipeline.notebook import summarise_cells
from graders.results import AppliedLimits, GradeReport
from graders.sandbox.config import Limits
from graders.scoring.sections import locate_question

ASSIGNMENT = "assignment"
DEPLOYMENT = "deployment cap"
# Starting the probe cell and reading its answers, on top of the calls themselves.
PROBE_OVERHEAD_S = 30.0


@dataclass(frozen=True)
class TimeBudget:
    limits: Limits  # per cell and in total, as the runner enforces them
    sections: Mapping[int, float]  # a cell's own limit: its question's budget
    probe_s: float  # the whole probe phase, across kernel restarts
    calls: Mapping[str, float]  # each planned call's and model request's own limit
    call_default_s: float
    applied: AppliedLimits


def limits_for(assignment: LoadedAssignment, base: Limits) -> tuple[Limits, AppliedLimits]:
    """The assignment's per-cell and total limits, lowered only by the deployment's caps
    (``base`` holds those; infinite when unset)."""
    spec = assignment.spec
    cell = min(base.cell_timeout_s, spec.cell_timeout_s)
    total = min(base.total_timeout_s, spec.total_timeout_s)
    applied = AppliedLimits(
        cell_timeout_s=cell, total_timeout_s=total,
        cell_source=DEPLOYMENT if cell < spec.cell_timeout_s else ASSIGNMENT,
        total_source=DEPLOYMENT if total < spec.total_timeout_s else ASSIGNMENT)
    limits = replace(base, cell_timeout_s=cell, total_timeout_s=total,
                     memory_bytes=max(base.memory_bytes, spec.memory_bytes or 0))
    return limits, applied


def decide(assignment: LoadedAssignment, deployment: Limits, notebook: NotebookNode,
           calls: Sequence[PlannedCall], requests: Sequence[ModelRequest]) -> TimeBudget:
    """The limits for grading ``notebook``: ``calls`` were planned under the deployment's
    per-call cap already (``plan_calls(max_call_s=...)``)."""
    limits, applied = limits_for(assignment, deployment)
    cells = summarise_cells(notebook)
    sections: dict[int, float] = {}
    questions: dict[str, float] = {}
    for question in assignment.spec.questions:
        if not question.budget_s:
            continue
        # a question's budget is a cell limit: a deployment's cell cap lowers it too
        budget = min(question.budget_s, deployment.cell_timeout_s)
        questions[question.id] = budget
        section = locate_question(cells, question)
        if section.found:
            for cell in section.cells:
                sections[cell.index] = max(sections.get(cell.index, 0.0), budget)
    call_limits = {**{c.call_id: c.timeout_s for c in calls},
                   **{r.id: MODEL_TIMEOUT_S for r in requests}}
    # Each candidate binding may take every call's limit; a few candidates at most.
    probe = PROBE_OVERHEAD_S + 2.0 * sum(c.timeout_s for c in calls) \
        + MODEL_TIMEOUT_S * len(requests)
    probe_source = ASSIGNMENT
    if math.isfinite(deployment.total_timeout_s) and deployment.total_timeout_s < probe:
        probe, probe_source = deployment.total_timeout_s, DEPLOYMENT
    applied = applied.model_copy(update={
        "probe_phase_s": probe, "probe_source": probe_source, "question_s": questions})
    return TimeBudget(
        limits=limits, sections=sections, probe_s=probe, calls=call_limits,
        call_default_s=max((c.timeout_s for c in calls), default=1.0), applied=applied)


# A question's cells may take this many times what the reference's took (a student's
# honest code is often slower, and machines differ); below it the assignment is not ready.
HEADROOM = 3.0


def budget_shortfalls(assignment: LoadedAssignment, report: GradeReport) -> list[str]:
    """Where the assignment's budgets leave the reference notebook (graded in ``report``
    on this deployment's data) less than ``HEADROOM`` times the time it took: each cell
    against its question's budget (or the assignment's cell limit), the whole run
    against the total."""
    spec = assignment.spec
    took = {r.index: r.duration_s for r in report.execution.cells}
    limit = dict.fromkeys(took, spec.cell_timeout_s)
    owner: dict[int, str] = {}
    for question in spec.questions:
        if not question.budget_s:
            continue
        section = locate_question(report.cells, question)
        for cell in section.cells if section.found else ():
            # as ``decide`` applies them: the largest budget of the questions covering it
            if cell.index in limit and (cell.index not in owner
                                        or question.budget_s > limit[cell.index]):
                limit[cell.index], owner[cell.index] = question.budget_s, question.id
    problems = []
    for index, seconds in sorted(took.items()):
        if seconds * HEADROOM > limit[index]:
            whose = f"question {owner[index]}'s budget" if index in owner else \
                "the assignment's cell limit"
            problems.append(f"{spec.id}: the reference's cell {index + 1} took {seconds:.0f} s;"
                            f" {whose} of {limit[index]:g} s leaves less than "
                            f"{HEADROOM:g} times that for a student's")
    total = sum(took.values())
    if total * HEADROOM > spec.total_timeout_s:
        problems.append(f"{spec.id}: the reference ran {total:.0f} s in all; the total of "
                        f"{spec.total_timeout_s:g} s leaves less than {HEADROOM:g} times that")
    return problems
