"""Function values: the student's function called on inputs the host drew, compared with
the reference's values; the gradient and numerical-stability variants of it."""

from __future__ import annotations

from typing import Any

from graders.checks.base import CheckKind, Evidence
from graders.results import ProbeRecord
from graders.scoring.function import CheckScore, score_function_check
from graders.spec import FunctionCheck, GradientCheck, StabilityCheck


def _records(ev: Evidence) -> dict[str, ProbeRecord]:
    """Each planned call's result for this candidate (or for the one binding, -1)."""
    found = {}
    for call in ev.calls:
        record = ev.records.get((call.call_id, ev.candidate if ev.candidate is not None
                                 else -1)) or ev.records.get((call.call_id, -1))
        if record is not None:
            found[call.call_id] = record
    return found


def score_values(check: FunctionCheck, ev: Evidence) -> CheckScore:
    return score_function_check(check, list(ev.calls), _records(ev), ev.cache)


def score_gradient(check: GradientCheck, ev: Evidence) -> CheckScore:
    return score_function_check(check, list(ev.calls), _records(ev), ev.cache)


def score_stability(check: StabilityCheck, ev: Evidence) -> CheckScore:
    score = score_function_check(check, list(ev.calls), _records(ev), ev.cache,
                                 passed_note=f"{check.symbol}() is numerically stable on "
                                             "extreme inputs")
    if not ev.correct_so_far and score.fraction:
        # Extreme inputs often have trivial answers (a loss of 0): a constant must not
        # collect them. Credited once ordinary inputs are right.
        return CheckScore(0.0, [f"stability of {check.symbol}() on extreme inputs is only "
                                "credited once it returns correct results on ordinary "
                                "inputs"], score.fault)
    return score


def _reference(check: FunctionCheck, solution: Any) -> str | None:
    if not callable(getattr(solution, check.reference_name, None)):
        return f"the reference solution has no function {check.reference_name!r}"
    return None


def _gradient_reference(check: GradientCheck, solution: Any) -> str | None:
    if not callable(getattr(solution, check.loss, None)):
        return f"the reference solution has no loss {check.loss!r}"
    return _reference(check, solution)


FUNCTION = CheckKind(spec=FunctionCheck, name="function", score=score_values,
                     label=lambda c: f"{c.symbol}() values", validate=_reference,
                     calls=True, correctness=True)
GRADIENT = CheckKind(spec=GradientCheck, name="gradient", score=score_gradient,
                     label=lambda c: f"{c.symbol}() against the reference and finite "
                                     "differences",
                     validate=_gradient_reference, calls=True, correctness=True)
STABILITY = CheckKind(spec=StabilityCheck, name="stability", score=score_stability,
                      label=lambda c: f"{c.symbol}() on extreme inputs", validate=_reference,
                      calls=True, correctness=True)
