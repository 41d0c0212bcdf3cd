"""Function, stability and gradient checks: student outputs against the reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any

import numpy as np

from graders.errors import SpecError
from graders.inputs import PlannedCall
from graders.results import CallStatus, ProbeRecord
from graders.scoring.compare import (
    compare_arrays,
    compare_leaves,
    read_by_shape,
    read_flat,
    reference_leaves,
    structure,
)
from graders.scoring.diagnoses import apply_mistake
from graders.scoring.values import WireFormatError, decode
from graders.spec import FunctionCheck, GradientCheck, Keyed


class Fault(StrEnum):
    NONE = "none"
    MISSING = "missing"
    ERRORED = "errored"
    TIMED_OUT = "timed_out"
    # the grader cannot tell right from wrong here yet (its reference is no better than
    # chance on the grader's data): the question waits for staff, it is not failed
    UNCALIBRATED = "uncalibrated"


@dataclass
class CheckScore:
    fraction: float
    feedback: list[str] = field(default_factory=list)
    fault: Fault = Fault.NONE
    expected: list[str] = field(default_factory=list)  # the answer key, shown on release
    # what the check measured (a model's accuracy): the calibration reads it from the
    # reference notebook's report
    measured: float | None = None
    untrained: float | None = None  # an untrained copy of the measured network's accuracy
    # measured on the other data a question allows, by key suffix ("@mnist-hidden")
    measured_elsewhere: dict[str, float] = field(default_factory=dict)


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


@dataclass
class _CallScore:
    credit: float
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    fault: Fault = Fault.NONE


def _score_call(check: FunctionCheck, call: PlannedCall, record: ProbeRecord,
                cache: ReferenceCache, reference_call: PlannedCall) -> _CallScore:
    label = _case_label(call)
    if record.status is CallStatus.TIMEOUT:
        return _CallScore(0.0, f"{check.symbol}() {label} {record.error or 'timed out'}",
                          fault=Fault.TIMED_OUT)
    if record.status in (CallStatus.ERROR, CallStatus.CRASHED, CallStatus.UNSERIALIZABLE):
        problem = (f"{check.symbol}() raised {record.error} {label}"
                   if record.status is CallStatus.ERROR
                   else f"{check.symbol}() {label}: {record.error}")
        return _CallScore(0.0, problem, fault=Fault.ERRORED)
    credit, message, notes = _score_value(check, call, record, cache, reference_call)
    return _CallScore(credit, message, notes)


def _best_layout(check: FunctionCheck, primary: PlannedCall, scored: _CallScore,
                 alternatives: list[PlannedCall], records: dict[str, ProbeRecord],
                 cache: ReferenceCache) -> _CallScore:
    """The primary layout's score, or an alternative layout's where that does better."""
    best, best_layout = scored, None
    for alt in alternatives:
        record = records.get(alt.call_id)
        if record is None or record.status is not CallStatus.OK:
            continue
        other = _score_call(check, alt, record, cache, primary)
        if other.credit > best.credit + 1e-12:
            best, best_layout = other, alt.layout
    if best_layout is None:
        return scored
    name = check.layouts[best_layout].name
    why = "raised an error" if scored.fault is Fault.ERRORED else "did not match"
    note = (f"{check.symbol}() was graded with {name}: with the handout's layout it {why} "
            "on the same values")
    return _CallScore(best.credit, best.problem, [*best.notes, note], best.fault)


def _single_sample_note(check: FunctionCheck, calls: list[PlannedCall],
                        credits: list[float]) -> str | None:
    """Right for one sample and wrong for a batch: code written for a single example."""
    sizes = [(c.dims.get("B"), credit) for c, credit in zip(calls, credits, strict=False)]
    one = [credit for b, credit in sizes if b == 1]
    batches = [credit for b, credit in sizes if b is not None and b > 1]
    if one and min(one) >= 1.0 and batches and max(batches) < 1.0:
        return (f"{check.symbol}() is right for a single sample (B=1) but not for a batch: "
                "the handout asks for a batch of B samples at once (is something written "
                "for one row, such as X[0] or a scalar label?)")
    return None


def score_function_check(
    check: FunctionCheck,
    calls: list[PlannedCall],
    records: dict[str, ProbeRecord],
    cache: ReferenceCache,
    *,
    passed_note: str | None = None,
    weight: Callable[[PlannedCall], float] | None = None,
    coincidence: Callable[[list[PlannedCall], list[float]], tuple[list[int], str] | None]
    | None = None,
) -> CheckScore:
    """Average credit over the check's cases; feedback from the first case that failed.
    Each case is credited on its best layout (the handout's, or a declared alternative);
    ``passed_note`` is said when every case is right. ``coincidence``, given the cases
    and their credits, names the cases right by chance (the function reads a notebook
    global equal to their size) and why: those earn what the other cases earn."""
    alternatives: dict[str, list[PlannedCall]] = {}
    for call in calls:
        if call.base is not None:
            alternatives.setdefault(call.base, []).append(call)
    credits: list[float] = []
    problems: list[str] = []
    problems_by_case: list[str | None] = []
    notes: list[str] = []
    fault = Fault.NONE
    for call in (c for c in calls if c.base is None):
        record = records.get(call.call_id)
        if record is None or record.status is CallStatus.MISSING:
            return CheckScore(0.0, [f"`{check.symbol}` is not defined in your submission"],
                              Fault.MISSING)
        if record.status is CallStatus.NOT_CALLABLE:
            return CheckScore(0.0, [record.error or f"`{check.symbol}` is not a function"],
                              Fault.ERRORED)
        scored = _score_call(check, call, record, cache, call)
        if scored.credit < 1.0 and call.call_id in alternatives:
            scored = _best_layout(check, call, scored, alternatives[call.call_id], records,
                                  cache)
        credits.append(scored.credit)
        notes += [n for n in scored.notes if n not in notes]
        problems_by_case.append(scored.problem)
        if scored.problem:
            problems.append(scored.problem)
        if scored.fault is Fault.TIMED_OUT or fault is Fault.NONE:
            fault = scored.fault if scored.fault is not Fault.NONE else fault
    chance = coincidence([c for c in calls if c.base is None][:len(credits)], credits) \
        if coincidence else None
    if chance is not None:
        zeroed, why = chance
        # what the function earns where the coincidence cannot help it
        floor = max((c for i, c in enumerate(credits) if i not in zeroed), default=0.0)
        for i in zeroed:
            credits[i] = min(credits[i], floor)
        notes.append(why)
    weights = [weight(c) if weight else 1.0 for c in calls if c.base is None][:len(credits)]
    if sum(weights) <= 0:
        weights = [1.0] * len(credits)
    if len(weights) == len(problems_by_case):
        # a case that weighs nothing says nothing about the credit
        problems = [p for p, w in zip(problems_by_case, weights, strict=True) if p and w]
    fraction = sum(c * w for c, w in zip(credits, weights, strict=True)) / sum(weights) \
        if credits else 0.0
    feedback = []
    single = _single_sample_note(check, [c for c in calls if c.base is None], credits)
    if single:
        feedback.append(single)
    if problems:
        failed = sum(1 for c, w in zip(credits, weights, strict=True) if c < 1.0 and w)
        feedback.append(problems[0])
        if failed > 1 or len(problems) > 1:
            feedback.append(f"{check.symbol}() was not fully correct on {failed} of "
                            f"{len(credits)} test inputs")
    if fraction > 0.0:
        fault = Fault.NONE
    feedback += notes
    if passed_note and fraction == 1.0:
        feedback.append(passed_note)
    return CheckScore(fraction, feedback, fault)


def _score_value(
    check: FunctionCheck, call: PlannedCall, record: ProbeRecord, cache: ReferenceCache,
    reference_call: PlannedCall,
) -> tuple[float, str | None, list[str]]:
    label = _case_label(call)
    try:
        decoded = decode(record.value)
    except WireFormatError as exc:
        return 0.0, f"{check.symbol}() {label} returned a value we could not read ({exc})", []
    expected = reference_leaves(cache.value(check.reference_name, reference_call),
                                check.output)
    flat = read_flat(decoded, check.output, check.symbol, expected)
    if flat is not None:
        leaves, notes = flat
    else:
        read, notes, mismatch = structure(decoded, check.output, check.symbol)
        if mismatch is not None or read is None:
            return 0.0, (f"{mismatch.message if mismatch else 'unreadable result'} "
                         f"({label})"), notes
        leaves, notes = read_by_shape(decoded, check.output, check.symbol, expected, read,
                                      notes)
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
    if getattr(check, "loss", None):  # a gradient, whose reference was verified against
        # finite differences of that loss at load
        message += "; it also disagrees with a finite-difference estimate of the loss's gradient"
    if check.shares:
        credit, parts = _by_output(check, call, expected, leaves)
        if credit > 0.0:
            return credit, f"{message}; {parts}", notes
    return 0.0, message, notes


def _by_output(check: FunctionCheck, call: PlannedCall, expected: list[tuple[str, np.ndarray]],
               leaves: list[tuple[str, np.ndarray]]) -> tuple[float, str]:
    """Each output priced on its own at its share: right, or a diagnosed mistake at that
    diagnosis's credit; with the sentence saying which outputs earned what."""
    mistaken = [(d, apply_mistake(d, expected, call.dims)) for d in check.diagnoses]
    credit, said = 0.0, []
    flexible = getattr(check.output, "flexible_vector", True)

    def matches(target: np.ndarray, actual: np.ndarray) -> bool:
        return compare_arrays(target, actual, tolerance=check.tolerance, name="",
                              flexible=flexible, require_finite=check.require_finite).ok
    for i, ((name, exp), (_, act), share) in enumerate(
            zip(expected, leaves, check.shares, strict=True)):
        label = f"{check.symbol}()[{name!r}]" if isinstance(check.output, Keyed) else name
        if matches(exp, act):
            credit += share
            said.append(f"{label} is right")
            continue
        for diagnosis, wrong in mistaken:
            if wrong is not None and matches(wrong[i][1], act):
                credit += share * diagnosis.credit
                said.append(f"{label} has a known mistake ({diagnosis.feedback})")
                break
    if not said:
        return 0.0, ""
    return credit, (", ".join(said) + f": {credit:.0%} of this case's credit, each output "
                    "earning its share")
