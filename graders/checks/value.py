"""Value answers: numbers, counts, shapes and short texts the notebook gives for a named
quantity (variables, cell results, markdown), against the reference's answer."""

from __future__ import annotations

from typing import Any

from graders.checks.base import CheckKind, Evidence, Planning, Request
from graders.protocol import ModelRequestKind
from graders.scoring.answers import score_value
from graders.scoring.function import CheckScore
from graders.spec import ValueCheck


def score(check: ValueCheck, ev: Evidence) -> CheckScore:
    return score_value(check, ev.record, ev.context(), ev.cache.solution)


def request(check: ValueCheck, planning: Planning) -> Request:
    # one request reads every named variable of the assignment
    return {"kind": ModelRequestKind.VALUES.value, "names": list(planning.value_names)}, None


def validate(check: ValueCheck, solution: Any) -> str | None:
    if not hasattr(solution, check.reference):
        return f"the reference solution has no answer {check.reference!r}"
    return None


VALUE = CheckKind(spec=ValueCheck, name="value", score=score, request=request,
                  validate=validate, label=lambda c: c.label)
