"""Scoring a question from probe records: pure, so a stored report can be re-scored.

A graded name may have been bound several times while the notebook ran (a later part
redefines ``predict``). Each binding is a candidate; the question is scored for each and
the best one answers it (ties go to the latest definition).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graders.errors import SpecError
from graders.inputs import PlannedCall
from graders.results import Candidate, CheckResult, Outcome, ProbeRecord, QuestionResult
from graders.scoring.answers import score_value
from graders.scoring.function import CheckScore, Fault, ReferenceCache, score_function_check
from graders.scoring.models import ModelContext, score_model_check
from graders.scoring.ops import score_op
from graders.scoring.sections import locate_question
from graders.scoring.style import find_loops
from graders.spec import (
    Check,
    FunctionCheck,
    GradientCheck,
    NoLoops,
    OpCheck,
    Question,
    StabilityCheck,
    ValueCheck,
)

__all__ = ["ModelContext", "ReferenceCache", "score_question"]


@dataclass
class _Scored:
    points: float
    feedback: list[str]
    faults: list[Fault]
    candidate: int | None
    checks: list[CheckResult]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def check_label(check: Check) -> tuple[str, str]:
    """(kind, a name for people) of a check, as the report lists it."""
    kind = _snake(type(check).__name__).removesuffix("_check")
    symbol = getattr(check, "symbol", None)
    if isinstance(check, GradientCheck):
        return kind, f"{symbol}() against the reference and finite differences"
    if isinstance(check, StabilityCheck):
        return kind, f"{symbol}() on extreme inputs"
    if isinstance(check, FunctionCheck):
        return kind, f"{symbol}() values"
    if isinstance(check, NoLoops):
        return kind, f"{symbol}() vectorised (no loops)"
    if isinstance(check, ValueCheck):
        return "value", check.label
    if isinstance(check, OpCheck):
        return "op", f"{check.label}: forward and backward"
    return kind, kind.replace("_", " ")


def _no_loops(check: NoLoops, candidate: Candidate | None, earned_full: bool) -> CheckScore:
    if candidate is None:
        return CheckScore(0.0, [], Fault.MISSING)
    if not earned_full:
        return CheckScore(0.0, [f"vectorisation of {check.symbol}() is only credited once "
                                "it returns correct results"])
    if not candidate.source:
        return CheckScore(0.0, [f"could not read the source of {check.symbol}() to check "
                                "it for loops"])
    findings = []
    for name, source in [(check.symbol, candidate.source), *candidate.helpers.items()]:
        loops = find_loops(source, name)
        if loops is None:
            return CheckScore(0.0, [f"could not parse the source of {name}()"])
        findings += loops
    if findings:
        first = findings[0]
        where = "" if first.function == check.symbol else f" (in helper {first.function}())"
        return CheckScore(0.0, [
            f"{check.symbol}() uses {first.construct} on line {first.line}{where}; the "
            "handout asks for vectorised code without loops"
        ])
    return CheckScore(1.0, [])


def _score_candidate(
    question: Question,
    candidate: int | None,
    candidates: dict[tuple[str, int], Candidate],
    calls: dict[int, list[PlannedCall]],
    records: dict[tuple[str, int], ProbeRecord],
    cache: ReferenceCache,
    models: ModelContext | None,
    answers: dict[tuple[str, int], str],
) -> _Scored:
    points = 0.0
    feedback: list[str] = []
    faults: list[Fault] = []
    results: list[CheckResult] = []
    correctness_full = True
    for index, check in enumerate(question.checks):
        if isinstance(check, FunctionCheck):
            by_call = {}
            for call in calls.get(index, []):
                rec = records.get((call.call_id, candidate if candidate is not None else -1))
                if rec is None:
                    rec = records.get((call.call_id, -1))
                if rec is not None:
                    by_call[call.call_id] = rec
            score = score_function_check(check, calls.get(index, []), by_call, cache)
            if isinstance(check, StabilityCheck) and not correctness_full and score.fraction:
                # Extreme inputs often have trivial answers (a loss of 0): a constant
                # must not collect them. Credited once ordinary inputs are right.
                score = CheckScore(0.0, [f"stability of {check.symbol}() on extreme inputs "
                                         "is only credited once it returns correct results "
                                         "on ordinary inputs"], score.fault)
            correctness_full = correctness_full and score.fraction >= 1.0
        elif isinstance(check, NoLoops):
            cand = candidates.get((check.symbol, candidate)) if candidate is not None else None
            score = _no_loops(check, cand, correctness_full)
        else:
            if models is None:
                raise SpecError("model checks need a ModelContext")
            models.question = question
            request = answers.get((question.id, index))
            record = records.get((request, 0)) if request else None
            if isinstance(check, ValueCheck):
                score = score_value(check, record, models, cache.solution)
            elif isinstance(check, OpCheck):
                score = score_op(check, f"{question.id}:{index}", record, cache.solution)
            else:
                score = score_model_check(check, f"{question.id}:{index}", record, models)
        earned = round(check.points * score.fraction, 6)
        points += earned
        feedback += [line for line in score.feedback if line not in feedback]
        faults.append(score.fault)
        kind, name = check_label(check)
        results.append(CheckResult(kind=kind, name=name, points=earned,
                                   max_points=check.points, feedback=score.feedback,
                                   expected=score.expected))
    return _Scored(round(points, 6), feedback, faults, candidate, results)


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
) -> QuestionResult:
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
    indices: list[int | None] = [
        *sorted({c.index for c in candidates if c.symbol in symbols})
    ] or [None]  # a question about models only has no function candidates
    scored = [
        _score_candidate(question, i, cand_map, by_check, record_map, cache, models,
                         answers or {})
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
        feedback.append(f"`{symbols[0]}` is defined {definitions} times in your notebook; "
                        f"graded the definition{where}, which answers this question")
    if chosen is not None and chosen.variant == "as defined":
        feedback.append(f"graded `{symbols[0]}` with the helpers it used when it was defined: "
                        "a later cell rebinds a name it calls")
    budget = _budget_overrun(question, models) if best.points < question.points else None
    if budget is not None:
        outcome, line = budget
        return QuestionResult(
            id=question.id, title=question.title, points=best.points,
            max_points=question.points, outcome=outcome, feedback=[line, *feedback],
            visibility=question.visibility, candidate=best.candidate, checks=best.checks)
    if best.points >= question.points - 1e-9:
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
