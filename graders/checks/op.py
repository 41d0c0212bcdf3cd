"""Autograd ops (a course library's Op classes): forward and backward on seeded inputs
against the reference op and finite differences of the student's own forward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence, Planning, Request
from graders.protocol import ModelRequestKind
from graders.scoring.function import CheckScore, Fault
from graders.scoring.ops import reference_gradients, score_op
from graders.spec import Normal, OpCheck


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


# ------------------------------------------------------------------------- controls
RELU = OpCheck(points=6, label="ReLU", names=("ReLU", "relu"), reference="relu",
               inputs=(Normal((4, 5)),))
Forward = Callable[[np.ndarray], np.ndarray]
Backward = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _relu_backward(x: np.ndarray, goutput: np.ndarray) -> np.ndarray:
    return goutput * (x > 0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _masks_in_place(x: np.ndarray, goutput: np.ndarray) -> np.ndarray:
    goutput[x <= 0] = 0  # the incoming array itself, which other ops share
    return goutput


def _finite(forward: Forward, x: np.ndarray, goutput: np.ndarray) -> np.ndarray:
    """d sum(forward(x) * goutput) / dx by central differences, as probe_ops does."""
    grad = np.zeros(x.shape)
    for k in range(x.size):
        values = []
        for sign in (1.0, -1.0):
            trial = x.copy()
            trial.reshape(-1)[k] += sign * 1e-6
            values.append(float(np.sum(forward(trial) * goutput)))
        grad.reshape(-1)[k] = (values[0] - values[1]) / 2e-6
    return grad


def _trial(key: str, solution: Any, forward: Forward, backward: Backward) -> dict[str, Any]:
    """What probe_ops reports for an op of these forward and backward functions."""
    from graders.inputs import op_case

    case = op_case(RELU, solution)
    (x,) = case.inputs
    incoming = case.goutput.copy()
    grad = backward(x.copy(), incoming)
    given = x.copy()
    value = np.asarray(forward(given), dtype=float)
    return {"id": key, "op": "ReLU", "found": "ReLU", "where": "the notebook",
            "forward": value, "inputs_changed": [not np.array_equal(given, x)],
            "stored": ["input"], "read": ["input"],
            "goutput_changed": not np.array_equal(incoming, case.goutput),
            "grads": [np.asarray(grad, dtype=float)],
            "finite": [_finite(forward, x, case.goutput)], "do_forward": True}


def controls() -> list[Control[OpCheck]]:
    question = ctl.question_for(RELU)
    key = f"{question.id}:0"
    solution = ctl.reference(relu_forward=_relu, relu_backward=_relu_backward)

    def control(name: str, entry: dict[str, Any], credit: float,
                fault: Fault | None = None) -> Control[OpCheck]:
        return Control(name, RELU, ctl.evidence(
            question, solution=solution, records=ctl.answered({"ops": [entry]}, "ops")),
            credit, fault)

    def op(forward: Forward, backward: Backward) -> dict[str, Any]:
        return _trial(key, solution, forward, backward)

    return [
        control("ReLU: goutput masked where x > 0", op(_relu, _relu_backward), 1.0),
        # forward values are worth forward_share (0.4); the gradient the rest
        control("backward passes goutput through unmasked", op(_relu, lambda x, g: g), 0.4),
        control("backward with the sign flipped", op(_relu, lambda x, g: -g * (x > 0)), 0.4),
        control("a sigmoid, with the gradient of its own forward",
                op(_sigmoid, lambda x, g: g * _sigmoid(x) * (1 - _sigmoid(x))), 0.0),
        control("backward masks goutput in place", op(_relu, _masks_in_place), 0.4 + 0.6 * 0.75),
        # np.maximum(x, 0, out=x): the graph's node for x now holds relu(x)
        control("forward overwrites its input", op(lambda x: np.maximum(x, 0, out=x),
                                                   _relu_backward), 0.4 * 0.75 + 0.6),
        control("forward raises", {"id": key, "op": "ReLU", "found": "relu",
                                   "where": "the notebook", "stage": "forward",
                                   "error": "TypeError: '>' not supported between instances "
                                            "of 'TensorNode' and 'int'"}, 0.0, Fault.ERRORED),
        control("no ReLU op anywhere", {"id": key, "missing": True}, 0.0, Fault.MISSING),
    ]


OP = CheckKind(spec=OpCheck, name="op", score=score, request=request, validate=validate,
               label=lambda c: f"{c.label}: forward and backward", controls=controls,
               kernel="probe_ops")
