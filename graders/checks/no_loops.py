"""Vectorised code: the graded function's source (and its helpers') has no loops.
Credited only on top of correct values: an empty function has no loops either."""

from __future__ import annotations

from graders.checks.base import CheckKind, Evidence
from graders.scoring.function import CheckScore, Fault
from graders.scoring.style import find_loops
from graders.spec import NoLoops


def score(check: NoLoops, ev: Evidence) -> CheckScore:
    candidate = ev.candidates.get((check.symbol, ev.candidate)) \
        if ev.candidate is not None else None
    if candidate is None:
        return CheckScore(0.0, [], Fault.MISSING)
    if not ev.correct_so_far:
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


NO_LOOPS = CheckKind(spec=NoLoops, name="no_loops", score=score,
                     label=lambda c: f"{c.symbol}() vectorised (no loops)")
