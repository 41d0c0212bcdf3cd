"""Autograd ops (a course library's Op classes): forward and backward on seeded inputs
against the reference op and finite differences of the student's own forward."""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.checks.base import CheckKind, Evidence, Planning, Request
from graders.protocol import ModelRequestKind
from graders.scoring.function import CheckScore
from graders.scoring.ops import reference_gradients, score_op
from graders.spec import OpCheck


def score(check: OpCheck, ev: Evidence) -> CheckScore:
    return score_op(check, ev.key, ev.record, ev.cache.solution)


def request(check: OpCheck, planning: Planning) -> Request | None:
    if planning.solution is None:
        return None  # the output gradients are sized by the reference's outputs
    return {"kind": ModelRequestKind.OPS.value, "ops": list(planning.op_trials)}, None


def op_trial(key: str, check: OpCheck, solution: Any) -> dict[str, Any]:
    """One op's seeded inputs and output gradient, as the ops request carries them."""
    from graders.inputs import op_case

    case = op_case(check, solution)
    return {"id": key, "names": list(check.names), "inputs": [x.tolist() for x in case.inputs],
            "kwargs": case.kwargs, "goutput": case.goutput.tolist(),
            "wrt": list(check.graded_inputs)}


def validate(check: OpCheck, solution: Any) -> str | None:
    """The reference op's backward is the gradient of its forward (central differences)."""
    from graders.inputs import op_case

    for suffix in ("forward", "backward"):
        if not callable(getattr(solution, f"{check.reference}_{suffix}", None)):
            return f"the reference solution has no {check.reference}_{suffix}"
    case = op_case(check, solution)
    forward = getattr(solution, f"{check.reference}_forward")
    _, grads = reference_gradients(check, solution)
    for index in check.graded_inputs:
        numeric = np.zeros(case.inputs[index].shape)
        for k in range(numeric.size):
            values = []
            for sign in (1.0, -1.0):
                trial = [x.copy() for x in case.inputs]
                trial[index].reshape(-1)[k] += sign * 1e-6
                values.append(float(np.sum(forward(*trial, **case.kwargs) * case.goutput)))
            numeric.reshape(-1)[k] = (values[0] - values[1]) / 2e-6
        if not np.allclose(grads[index], numeric, rtol=1e-4, atol=1e-6):
            return (f"the reference {check.reference}_backward disagrees with finite "
                    f"differences for input {index + 1}")
    return None


OP = CheckKind(spec=OpCheck, name="op", score=score, request=request, validate=validate,
               label=lambda c: f"{c.label}: forward and backward")
