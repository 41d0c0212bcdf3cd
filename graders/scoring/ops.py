"""Autograd op checks: the student's forward against the reference, each graded
gradient against the reference and against finite differences of their own forward,
with feedback on the mistakes seen in real hand-ins (an incoming gradient or an input
changed in place, a context key backward reads but forward never stored)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from graders.inputs import op_case
from graders.results import ProbeRecord
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.context import _payload
from graders.spec import OpCheck

# of the share whose function changes an array it was given (backward's goutput, forward's
# inputs): the op itself still computes right
_MUTATION_COST = 0.25


def reference_gradients(check: OpCheck, solution: ModuleType) -> tuple[np.ndarray, list[Any]]:
    case = op_case(check, solution)
    forward = getattr(solution, f"{check.reference}_forward")
    backward = getattr(solution, f"{check.reference}_backward")
    value = np.asarray(forward(*[x.copy() for x in case.inputs], **case.kwargs))
    grads = backward(*[x.copy() for x in case.inputs], case.goutput.copy(), **case.kwargs)
    grads = list(grads) if isinstance(grads, tuple | list) else [grads]
    return value, [np.asarray(g, dtype=float) for g in grads]


def _close(got: Any, want: np.ndarray, check: OpCheck, *, fd: bool = False) -> bool:
    tol = check.fd_tolerance if fd else check.tolerance
    if not isinstance(got, np.ndarray) or got.shape != want.shape:
        return False
    return bool(np.allclose(got, want, rtol=tol.rtol, atol=tol.atol))


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if isinstance(value, np.ndarray) else type(value).__name__


def _trial(payload: Any, key: str) -> dict[str, Any] | None:
    if not isinstance(payload, dict):
        return None
    for entry in payload.get("ops", []):
        if isinstance(entry, dict) and entry.get("id") == key:
            return entry
    return None


def score_op(check: OpCheck, key: str, record: ProbeRecord | None,
             solution: ModuleType) -> CheckScore:
    payload, failure = _payload(record)
    if failure is not None:
        return failure
    found = _trial(payload, key)
    label = check.label
    if found is None or found.get("missing"):
        spellings = ", ".join(check.names[:4])
        return CheckScore(0.0, [f"{label}: no op found (looked for {spellings} in the "
                                "notebook and in your vugrad files)"], Fault.MISSING)
    where = f"`{found.get('found')}` ({found.get('where')})"
    if found.get("stage") == "forward":
        return CheckScore(0.0, [f"{label}: {where} forward raised {found.get('error')}"],
                          Fault.ERRORED)
    want_value, want_grads = reference_gradients(check, solution)
    feedback = [f"{label}: graded {where}"]
    fraction = 0.0
    if _close(found.get("forward"), want_value, check):
        fraction += check.forward_share
    else:
        feedback.append(f"{label}: forward gives wrong values (shape "
                        f"{_shape(found.get('forward'))}; expected {tuple(want_value.shape)})")
    share = (1.0 - check.forward_share) / max(1, len(check.graded_inputs))
    if found.get("stage") == "backward":
        error = str(found.get("error"))
        stored, read = found.get("stored") or [], found.get("read") or []
        unknown = [k for k in read if k not in stored]
        if error.startswith("KeyError") and unknown:
            feedback.append(f"{label}: backward reads context[{unknown[-1]!r}], which forward "
                            f"never stored (forward stored: {', '.join(stored) or 'nothing'})")
        else:
            feedback.append(f"{label}: backward raised {error}")
        return CheckScore(round(fraction, 6), feedback, Fault.ERRORED if not fraction else
                          Fault.NONE)
    grads = found.get("grads") or []
    finite = found.get("finite") or []
    gradient_fraction = 0.0
    for slot, index in enumerate(check.graded_inputs):
        got = grads[index] if index < len(grads) else None
        name = f"input {index + 1}" if len(check.inputs) > 1 else "its input"
        if got is None:
            feedback.append(f"{label}: backward returns {len(grads)} gradient(s); no gradient "
                            f"for {name}")
            continue
        right = _close(got, want_grads[index], check)
        consistent = slot < len(finite) and _close(got, finite[slot], check, fd=True)
        if right:
            gradient_fraction += share
        elif consistent:
            feedback.append(f"{label}: the gradient for {name} matches finite differences of "
                            "your forward, but your forward is not the op's")
        else:
            feedback.append(f"{label}: the gradient for {name} is wrong (shape {_shape(got)}; "
                            "it is neither the reference gradient nor what finite "
                            "differences of your forward give)")
    if found.get("goutput_changed"):
        gradient_fraction *= 1.0 - _MUTATION_COST
        feedback.append(f"{label}: backward changes its incoming gradient in place (as "
                        "`goutput[x <= 0] = 0` does): other ops that share that array see "
                        "the change; compute on a copy")
    if any(found.get("inputs_changed") or []) and fraction:
        fraction *= 1.0 - _MUTATION_COST
        feedback.append(f"{label}: forward changes its input arrays in place (as `x /= y` or "
                        "`np.maximum(x, 0, out=x)` do): the node that holds x now holds "
                        "something else, for every op that reads it; compute a new array")
    elif any(found.get("inputs_changed") or []):
        feedback.append(f"{label}: forward changes its input arrays in place")
    if found.get("do_forward_error"):
        feedback.append(f"{label}: {found.get('op')}.do_forward failed: "
                        f"{found.get('do_forward_error')}")
    return CheckScore(round(fraction + gradient_fraction, 6), feedback)
