"""Seeded probe inputs, derived from a spec and a per-submission seed.

Generation is deterministic: the same spec and seed give the same inputs, which is what
lets a stored report be re-scored later without executing anything again.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

from graders.spec import (
    Assignment,
    Case,
    Fixed,
    FunctionCheck,
    Generator,
    Labels,
    Layout,
    Mapping,
    Normal,
    OpCheck,
    Shape,
    Uniform,
)


@dataclass(frozen=True)
class PlannedCall:
    call_id: str
    question_id: str
    check_index: int
    case_index: int
    symbol: str
    args: tuple[Any, ...]
    dims: dict[str, int]
    timeout_s: float
    label: str = ""
    # an alternative input layout (index into the check's layouts) of the call ``base``
    layout: int | None = None
    base: str | None = None

    def fresh_args(self) -> tuple[Any, ...]:
        """A deep copy: a function that mutates its arguments corrupts nothing else."""
        return copy.deepcopy(self.args)


def derive_seed(submission_sha256: str, assignment_id: str) -> int:
    digest = hashlib.sha256(f"{assignment_id}:{submission_sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _stream(seed: int, call_id: str) -> np.random.Generator:
    salt = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    return np.random.default_rng([seed, salt])


def _shape(shape: Shape, dims: dict[str, int]) -> tuple[int, ...]:
    return tuple(dims[d] if isinstance(d, str) else d for d in shape)


def generate(gen: Generator, rng: np.random.Generator, dims: dict[str, int]) -> Any:
    if isinstance(gen, Normal):
        return rng.normal(gen.mean, gen.scale, size=_shape(gen.shape, dims))
    if isinstance(gen, Uniform):
        return rng.uniform(gen.low, gen.high, size=_shape(gen.shape, dims))
    if isinstance(gen, Labels):
        labels = rng.integers(0, gen.classes, size=_shape(gen.shape, dims))
        flat = labels.reshape(-1)
        if gen.every_class and flat.size >= gen.classes:
            slots = rng.choice(flat.size, size=gen.classes, replace=False)
            flat[slots] = np.arange(gen.classes)
        return labels.astype(np.float64) if gen.as_float else labels
    if isinstance(gen, Fixed):
        value = gen.value
        return float(value) if isinstance(value, int | float) else np.asarray(value, float)
    if isinstance(gen, Mapping):
        return {key: generate(sub, rng, dims) for key, sub in gen.fields}
    raise TypeError(f"unknown generator {gen!r}")


def plan_calls(
    assignment: Assignment, seed: int, *, max_call_s: float | None = None
) -> list[PlannedCall]:
    """Every call the probes will make, in a stable order (timeouts capped by the host)."""
    from graders.checks import kind_of  # the kinds plan with this module's generators

    calls = []
    for question in assignment.questions:
        for ci, any_check in enumerate(question.checks):
            if not kind_of(any_check).calls:
                continue
            check = cast(FunctionCheck, any_check)  # the kinds that call are these
            for ki, case in enumerate(check.cases):
                call_id = f"{question.id}:{ci}:{ki}"
                call = _planned(call_id, question.id, ci, ki, check, case, seed)
                if max_call_s is not None and call.timeout_s > max_call_s:
                    call = replace(call, timeout_s=max_call_s)
                calls.append(call)
                for li, layout in enumerate(check.layouts):
                    calls.append(replace(call, call_id=f"{call_id}@{li}", layout=li,
                                         base=call_id, args=relayout(call.args, layout)))
    return calls


def _planned(
    call_id: str, qid: str, ci: int, ki: int, check: FunctionCheck, case: Case, seed: int
) -> PlannedCall:
    rng = _stream(seed, call_id)
    dims = case.dim_map
    args = tuple(generate(g, rng, dims) for g in case.args)
    return PlannedCall(call_id, qid, ci, ki, check.symbol, args, dims, check.call_timeout_s,
                       label=case.name)


def relayout(args: tuple[Any, ...], layout: Layout) -> tuple[Any, ...]:
    """The same values in another layout (copies; the primary arguments are untouched)."""
    out = list(copy.deepcopy(args))
    for index in layout.columns:
        out[index] = np.asarray(out[index]).reshape(-1, 1)
    for index, key in layout.flat:
        if key is None:
            out[index] = np.asarray(out[index]).reshape(-1)
        else:
            out[index][key] = np.asarray(out[index][key]).reshape(-1)
    return tuple(out)


def fingerprint(calls: list[PlannedCall], requests: Sequence[Any] = ()) -> str:
    """Identifies the inputs and what the kernel was asked (each model request's id and
    body: ids are handed out in order, so a new request renumbers the later ones); a
    rescore refuses when they would differ rather than read one answer as another's."""
    h = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, np.ndarray):
            h.update(str(value.shape).encode())
            h.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
        elif isinstance(value, dict):
            for k in value:
                h.update(k.encode())
                feed(value[k])
        elif isinstance(value, tuple | list):
            for v in value:
                feed(v)
        else:
            h.update(repr(value).encode())

    for call in calls:
        h.update(call.call_id.encode())
        feed(call.args)
    for request in requests:
        h.update(f"{request.id}\0{json.dumps(request.body, sort_keys=True)}".encode())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class OpCase:
    """The seeded inputs of an op check, and the gradient flowing into its output (of
    the reference output's shape)."""

    inputs: tuple[np.ndarray, ...]
    kwargs: dict[str, Any]
    goutput: np.ndarray


def op_case(check: OpCheck, solution: Any) -> OpCase:
    """The same case for the plan and for scoring: seeded by the check alone."""
    rng = _stream(check.seed, f"op:{check.reference}:{check.label}")
    inputs = tuple(np.asarray(generate(g, rng, {}), dtype=float) for g in check.inputs)
    kwargs = dict(check.kwargs)
    forward = getattr(solution, f"{check.reference}_forward")
    shape = np.shape(forward(*[x.copy() for x in inputs], **kwargs))
    return OpCase(inputs, kwargs, rng.normal(size=shape))
