"""Scoring a question from probe records: pure, so a stored report can be re-scored.

A graded name may have been bound several times while the notebook ran (a later part
redefines ``predict``). Each binding is a candidate; the question is scored for each and
the best one answers it (ties go to the latest definition). A binding that a later one
replaced within the same part of the notebook (no other question's start or part
heading between them) is a draft the student rewrote before moving on: it answers
nothing, as a TA reads the last version, even when the draft scores better.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from graders.checks import Evidence, kind_of
from graders.inputs import PlannedCall
from graders.results import Candidate, CheckResult, Outcome, ProbeRecord, QuestionResult
from graders.scoring.function import Fault, ReferenceCache
from graders.scoring.models import ModelContext
from graders.scoring.sections import (
    locate,
    locate_question,
    prompt_cell,
    question_letter,
    question_number,
)
from graders.spec import Question

__all__ = ["MISSING_DATA", "ModelContext", "ReferenceCache", "score_question"]

MISSING_DATA = "not graded yet: this grader is missing course data"


def missing_data_line(missing: Sequence[str]) -> str:
    return (f"{MISSING_DATA} it needs ({'; '.join(missing)}). This is not a problem with "
            "your work; your course staff have been told and will regrade it.")


@dataclass
class _Scored:
    points: float
    feedback: list[str]
    faults: list[Fault]
    candidate: int | None
    checks: list[CheckResult]


def _score_candidate(
    question: Question,
    candidate: int | None,
    candidates: dict[tuple[str, int], Candidate],
    calls: dict[int, list[PlannedCall]],
    records: dict[tuple[str, int], ProbeRecord],
    cache: ReferenceCache,
    models: ModelContext | None,
    answers: dict[tuple[str, int], str],
    missing: Sequence[str] = (),
) -> _Scored:
    points = 0.0
    feedback: list[str] = []
    faults: list[Fault] = []
    results: list[CheckResult] = []
    correct_so_far = True
    fractions: list[float] = []  # what each earlier check of the question earned
    # without the grader's data the question's cells ran without it too (a notebook
    # cannot load KMNIST, so its plots and training are missing): the whole question
    # waits, not only the checks that read the data
    waits = bool(missing) and any(kind_of(c).needs_data for c in question.checks)
    for index, check in enumerate(question.checks):
        kind = kind_of(check)
        if waits:
            line = missing_data_line(missing)
            feedback += [line] if line not in feedback else []
            results.append(CheckResult(kind=kind.name, name=kind.label(check), points=0.0,
                                       max_points=check.points, feedback=[line], pending=True))
            continue
        score = kind.score(check, Evidence(
            question=question, index=index, candidate=candidate, candidates=candidates,
            calls=calls.get(index, []), records=records, cache=cache, models=models,
            request=answers.get((question.id, index)), correct_so_far=correct_so_far,
            earlier=tuple(fractions)))
        fractions.append(score.fraction)
        if kind.correctness:
            correct_so_far = correct_so_far and score.fraction >= 1.0
        # waiting for a calibration on the course's data: not the student's doing
        pending = score.fault is Fault.UNCALIBRATED
        earned = 0.0 if pending else round(check.points * score.fraction, 6)
        points += earned
        feedback += [line for line in score.feedback if line not in feedback]
        if not pending:
            faults.append(score.fault)
        results.append(CheckResult(kind=kind.name, name=kind.label(check), points=earned,
                                   max_points=check.points, feedback=score.feedback,
                                   expected=score.expected, measured=score.measured,
                                   untrained=score.untrained,
                                   measured_elsewhere=score.measured_elsewhere,
                                   pending=pending))
    return _Scored(round(points, 6), feedback, faults, candidate, results)


def _parts(models: ModelContext) -> list[int]:
    """The cells that begin a part of the notebook: where each question was found, and
    the top two levels of headings ("## 2 KMNIST"). A deeper heading inside a question
    ("#### Final version") does not; where no question is found, every heading and
    prompt does."""
    cells = models.cells
    prompts = {cells[i].index for p in models.prompts if (i := prompt_cell(cells, p)) is not None}
    # a question found by its number too ("### 1.2 logistic loss"), whether or not the
    # spec names its section
    starts = {s.start.index for q in models.questions
              if (s := locate(cells, section=q.section, number=question_number(q.id),
                              prompt=q.prompt, anchors=q.anchors,
                              letter=question_letter(q.id))).found
              and s.how != "whole notebook" and s.start is not None}
    if not starts:
        return sorted({c.index for c in cells if c.kind == "markdown" and c.heading} | prompts)
    major = {c.index for c in cells if c.kind == "markdown" and c.heading and c.level <= 2}
    return sorted(starts | major | prompts)


def superseded(candidates: Sequence[Candidate], models: ModelContext | None
               ) -> set[tuple[str, int]]:
    """(symbol, index) of every binding, in either variant, that a later binding of the
    same name replaced in the same part of the notebook. The last binding of each part is
    never superseded; nothing is when the notebook's cells are unknown."""
    bound_at: dict[str, set[int]] = {}
    for c in candidates:
        # `gradient = gradient(X, y, W)` rebinds the name to a value: no rewrite of it
        if c.cell is not None and c.kind != "not_callable":
            bound_at.setdefault(c.symbol, set()).add(c.cell)
    if models is None or all(len(at) < 2 for at in bound_at.values()):
        return set()
    bounds = _parts(models)
    replaced: set[tuple[str, int]] = set()
    for symbol, at in bound_at.items():
        ordered = sorted(at)
        for cell, after in pairwise(ordered):
            if not any(cell < b < after for b in bounds):
                replaced.add((symbol, cell))
    return {(c.symbol, c.index) for c in candidates if (c.symbol, c.cell) in replaced}


_CELL_FATE = {
    "error": "raised {error}",
    "timeout": "was stopped: {error}",
    "kernel_died": "stopped the kernel ({error})",
    "output_limit": "printed more than allowed and was stopped",
    "skipped": "was not run ({error})",
}


def why_missing(symbol: str, models: ModelContext | None) -> str | None:
    """When the cell that defines ``symbol`` did not complete, say which and what
    happened to it (rather than "not defined in your submission")."""
    if models is None:
        return None
    definition = re.compile(rf"^\s*(def\s+{re.escape(symbol)}\s*\(|{re.escape(symbol)}\s*=[^=])",
                            re.MULTILINE)
    outcome = {r.index: r for r in models.records}
    for cell in models.cells:
        if cell.kind != "code" or not definition.search(cell.source):
            continue
        record = outcome.get(cell.index)
        if record is None or record.status.value == "ok":
            continue
        fate = _CELL_FATE[record.status.value].format(error=record.error or "no detail")
        return f"`{symbol}` was never defined: cell {cell.index + 1}, which defines it, {fate}"
    return None


_OOM = ("OutOfMemoryError", "CUDA out of memory", "MemoryError", "more memory than allowed")


def _budget_overrun(question: Question, models: ModelContext | None
                    ) -> tuple[Outcome, str] | None:
    """A question whose own section ran out of time or memory says so explicitly."""
    if question.section is None or models is None:
        return None
    section = locate_question(models.cells, question)
    if not section.found:
        return None
    indices = {c.index for c in section.cells}
    for record in models.records:
        if record.index not in indices:
            continue
        if record.status.value == "timeout":
            budget = f" of {question.budget_s:g} s" if question.budget_s else ""
            return Outcome.TIMED_OUT, (f"cell {record.index + 1} of this question ran past its "
                                       f"time budget{budget} and was stopped")
        if any(marker in (record.error or "") for marker in _OOM):
            return Outcome.ERRORED, (f"cell {record.index + 1} of this question ran out of "
                                     f"memory ({record.error})")
    return None


def score_question(
    question: Question,
    *,
    candidates: list[Candidate],
    calls: list[PlannedCall],
    records: list[ProbeRecord],
    cache: ReferenceCache,
    models: ModelContext | None = None,
    answers: dict[tuple[str, int], str] | None = None,
    missing: Sequence[str] = (),
) -> QuestionResult:
    """``missing``: the grader data this run lacked; checks that need it are left
    ungraded (pending), not failed."""
    if question.manual:
        return QuestionResult(
            id=question.id, title=question.title, points=0.0, max_points=question.points,
            outcome=Outcome.MANUAL, feedback=["graded by course staff"],
            visibility=question.visibility,
        )
    symbols = question.symbols
    by_check: dict[int, list[PlannedCall]] = {}
    for call in calls:
        if call.question_id == question.id:
            by_check.setdefault(call.check_index, []).append(call)
    record_map = {(r.call_id, r.candidate): r for r in records}
    cand_map = {(c.symbol, c.index): c for c in candidates}
    drafts = superseded(candidates, models)
    indices: list[int | None] = [
        *sorted({c.index for c in candidates if c.symbol in symbols}
                - {i for _, i in drafts if all((s, i) in drafts or (s, i) not in cand_map
                                               for s in symbols)})
    ] or [None]  # a question about models only has no function candidates
    scored = [
        _score_candidate(question, i, cand_map, by_check, record_map, cache, models,
                         answers or {}, missing)
        for i in indices
    ]
    best = max(reversed(scored), key=lambda s: s.points)
    feedback = list(best.feedback)
    chosen = cand_map.get((symbols[0], best.candidate)) \
        if symbols and best.candidate is not None else None
    definitions = sum(1 for c in candidates
                      if symbols and c.symbol == symbols[0] and c.variant == "final")
    if chosen is not None and definitions > 1:
        where = f" in cell {chosen.cell + 1}" if chosen.cell is not None else ""
        rewritten = sorted(c.cell + 1 for c in candidates
                           if (c.symbol, c.index) in drafts and c.symbol == symbols[0]
                           and c.variant == "final" and c.cell is not None)
        drafted = ("; a definition rewritten later in the same part is a draft and is not "
                   f"graded (cell {', '.join(map(str, rewritten))})") if rewritten else ""
        feedback.append(f"`{symbols[0]}` is defined {definitions} times in your notebook; "
                        f"graded the definition{where}, which answers this question"
                        + drafted)
    if chosen is not None and chosen.variant == "as defined":
        feedback.append(f"graded `{symbols[0]}` with the helpers it used when it was defined: "
                        "a later cell rebinds a name it calls")
    pending = sum(c.max_points for c in best.checks if c.pending)
    if pending >= question.points - 1e-9:
        # nothing here is the student's doing: the question waits for the grader's data
        return QuestionResult(
            id=question.id, title=question.title, points=0.0, max_points=question.points,
            outcome=Outcome.UNGRADED, feedback=feedback, visibility=question.visibility,
            candidate=best.candidate, checks=best.checks)
    if pending:
        feedback.append(f"{pending:g} of this question's {question.points:g} points are not "
                        "graded yet (see above); the rest are")
    budget = _budget_overrun(question, models) \
        if best.points < question.points - pending - 1e-9 else None
    if budget is not None:
        outcome, line = budget
        return QuestionResult(
            id=question.id, title=question.title, points=best.points,
            max_points=question.points, outcome=outcome, feedback=[line, *feedback],
            visibility=question.visibility, candidate=best.candidate, checks=best.checks)
    if best.points >= question.points - pending - 1e-9:
        outcome = Outcome.PASSED
    elif best.points > 0:
        outcome = Outcome.PARTIAL
    elif Fault.MISSING in best.faults:
        outcome = Outcome.MISSING
        for symbol in symbols:
            reason = why_missing(symbol, models)
            if reason:
                feedback = [reason if line == f"`{symbol}` is not defined in your submission"
                            else line for line in feedback]
    elif Fault.TIMED_OUT in best.faults:
        outcome = Outcome.TIMED_OUT
    elif Fault.ERRORED in best.faults:
        outcome = Outcome.ERRORED
    else:
        outcome = Outcome.FAILED
    return QuestionResult(
        id=question.id, title=question.title, points=best.points, max_points=question.points,
        outcome=outcome, feedback=feedback, visibility=question.visibility,
        candidate=best.candidate, checks=best.checks,
    )
