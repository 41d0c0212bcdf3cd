"""Function, stability and gradient checks: student outputs against the reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any

import numpy as np

from graders.checks.diagnoses import apply_mistake
from graders.compare import compare_leaves, reference_leaves, structure
from graders.errors import SpecError
from graders.inputs import PlannedCall
from graders.results import CallStatus, ProbeRecord
from graders.spec import FunctionCheck, GradientCheck, Keyed, StabilityCheck
from graders.values import WireFormatError, decode


class Fault(StrEnum):
    NONE = "none"
    MISSING = "missing"
    ERRORED = "errored"
    TIMED_OUT = "timed_out"


@dataclass
class CheckScore:
    fraction: float
    feedback: list[str] = field(default_factory=list)
    fault: Fault = Fault.NONE


def _case_label(call: PlannedCall) -> str:
    if call.label:
        return f"on the case {call.label}"
    if call.dims:
        return "on inputs with " + ", ".join(f"{k}={v}" for k, v in call.dims.items())
    return f"on test case {call.case_index + 1}"


class ReferenceCache:
    """Reference outputs per call, computed once on fresh copies of the inputs."""

    def __init__(self, solution: ModuleType) -> None:
        self.solution = solution
        self._values: dict[tuple[str, str], Any] = {}

    def value(self, name: str, call: PlannedCall) -> Any:
        key = (name, call.call_id)
        if key not in self._values:
            fn = getattr(self.solution, name, None)
            if fn is None:
                raise SpecError(f"the reference solution has no {name!r}")
            self._values[key] = fn(*call.fresh_args())
        return self._values[key]


def verify_gradient(check: GradientCheck, call: PlannedCall, cache: ReferenceCache) -> None:
    """The reference gradient must agree with central differences of the reference loss."""
    loss = getattr(cache.solution, check.loss, None)
    if loss is None:
        raise SpecError(f"the reference solution has no loss {check.loss!r}")
    expected = cache.value(check.reference_name, call)
    args = list(call.fresh_args())
    params = args[check.wrt]
    keys = check.output.keys if isinstance(check.output, Keyed) else list(params)
    h = check.fd_step
    for key in keys:
        grad = np.asarray(expected[key], dtype=np.float64)
        param = params[key]
        numeric = np.zeros(param.shape)
        for idx in np.ndindex(param.shape):
            saved = param[idx]
            param[idx] = saved + h
            up = loss(*args)
            param[idx] = saved - h
            down = loss(*args)
            param[idx] = saved
            numeric[idx] = (up - down) / (2 * h)
        tol = check.fd_tolerance
        if not np.allclose(grad.reshape(numeric.shape), numeric, rtol=tol.rtol, atol=tol.atol):
            raise SpecError(
                f"reference gradient {key!r} disagrees with finite differences of {check.loss}"
            )


def score_function_check(
    check: FunctionCheck,
    calls: list[PlannedCall],
    records: dict[str, ProbeRecord],
    cache: ReferenceCache,
) -> CheckScore:
    """Average credit over the check's cases; feedback from the first case that failed."""
    credits: list[float] = []
    problems: list[str] = []
    notes: list[str] = []
    fault = Fault.NONE
    for call in calls:
        record = records.get(call.call_id)
        label = _case_label(call)
        if record is None or record.status is CallStatus.MISSING:
            return CheckScore(0.0, [f"`{check.symbol}` is not defined in your submission"],
                              Fault.MISSING)
        if record.status is CallStatus.NOT_CALLABLE:
            return CheckScore(0.0, [record.error or f"`{check.symbol}` is not a function"],
                              Fault.ERRORED)
        if record.status is CallStatus.TIMEOUT:
            credits.append(0.0)
            problems.append(f"{check.symbol}() {label} {record.error or 'timed out'}")
            fault = Fault.TIMED_OUT
            continue
        if record.status in (CallStatus.ERROR, CallStatus.CRASHED, CallStatus.UNSERIALIZABLE):
            credits.append(0.0)
            problems.append(f"{check.symbol}() raised {record.error} {label}"
                            if record.status is CallStatus.ERROR
                            else f"{check.symbol}() {label}: {record.error}")
            if fault is Fault.NONE:
                fault = Fault.ERRORED
            continue
        credit, message, call_notes = _score_value(check, call, record, cache)
        credits.append(credit)
        notes += [n for n in call_notes if n not in notes]
        if message:
            problems.append(message)
    fraction = sum(credits) / len(credits) if credits else 0.0
    feedback = []
    if problems:
        failed = sum(1 for c in credits if c < 1.0)
        feedback.append(problems[0])
        if failed > 1 or len(problems) > 1:
            feedback.append(f"{check.symbol}() was not fully correct on {failed} of "
                            f"{len(credits)} test inputs")
    if fraction > 0.0:
        fault = Fault.NONE
    feedback += notes
    if isinstance(check, StabilityCheck) and fraction == 1.0:
        feedback.append(f"{check.symbol}() is numerically stable on extreme inputs")
    return CheckScore(fraction, feedback, fault)


def _score_value(
    check: FunctionCheck, call: PlannedCall, record: ProbeRecord, cache: ReferenceCache
) -> tuple[float, str | None, list[str]]:
    label = _case_label(call)
    try:
        decoded = decode(record.value)
    except WireFormatError as exc:
        return 0.0, f"{check.symbol}() {label} returned a value we could not read ({exc})", []
    leaves, notes, mismatch = structure(decoded, check.output, check.symbol)
    if mismatch is not None or leaves is None:
        return 0.0, f"{mismatch.message if mismatch else 'unreadable result'} ({label})", notes
    if isinstance(check, GradientCheck) and call.case_index == 0:
        verify_gradient(check, call, cache)
    expected = reference_leaves(cache.value(check.reference_name, call), check.output)
    result = compare_leaves(
        expected, leaves, output=check.output, tolerance=check.tolerance,
        symbol=check.symbol, require_finite=check.require_finite,
    )
    notes += result.notes
    if result.ok:
        return 1.0, None, notes
    for diagnosis in check.diagnoses:
        mistaken = apply_mistake(diagnosis, expected, call.dims)
        if mistaken is None:
            continue
        flexible_output = check.output
        if compare_leaves(mistaken, leaves, output=flexible_output, tolerance=check.tolerance,
                          symbol=check.symbol, require_finite=True).ok:
            return diagnosis.credit, f"{diagnosis.feedback} ({label})", notes
    assert result.mismatch is not None
    message = f"{result.mismatch.message} ({label})"
    if isinstance(check, GradientCheck):
        message += "; it also disagrees with a finite-difference estimate of the loss's gradient"
    return 0.0, message, notes
