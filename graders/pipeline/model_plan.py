"""Trained-model checks -> probe requests, deterministically from the spec.

Checks that need the same thing from the kernel share one request (one evaluation of
the models on the hidden images serves the accuracy and the architecture questions).
The same function runs at grading and at re-scoring, so request ids always line up with
the stored probe outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from graders.checks import Planning, kind_of
from graders.checks.op import OP, op_trial
from graders.checks.value import VALUE
from graders.hidden import hidden_file, hidden_labels
from graders.spec import Assignment, HiddenSet, OpCheck, ValueCheck

MODEL_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ModelRequest:
    id: str
    body: dict[str, Any]
    hidden: tuple[HiddenSet, ...] = ()


def _value_names(assignment: Assignment) -> tuple[str, ...]:
    return tuple(sorted({name for q in assignment.questions for c in q.checks
                         if kind_of(c) is VALUE for name in cast(ValueCheck, c).names}))


def _op_trials(assignment: Assignment, solution: Any) -> tuple[dict[str, Any], ...]:
    return tuple(op_trial(f"{q.id}:{index}", cast(OpCheck, c), solution)
                 for q in assignment.questions for index, c in enumerate(q.checks)
                 if kind_of(c) is OP)


def plan_models(assignment: Assignment, solution: Any = None
                ) -> tuple[list[ModelRequest], dict[tuple[str, int], str]]:
    """The requests, and for each (question id, check index) the request answering it.
    ``solution`` sizes the op checks' output gradients (their reference's output)."""
    planning = Planning(solution=solution, value_names=_value_names(assignment),
                        op_trials=_op_trials(assignment, solution) if solution is not None
                        else ())
    requests: dict[str, ModelRequest] = {}
    by_key: dict[str, str] = {}
    answers: dict[tuple[str, int], str] = {}
    for question in assignment.questions:
        for index, check in enumerate(question.checks):
            made = kind_of(check).request(check, planning)
            if made is None:
                continue
            body, hidden = made
            hidden = (hidden,) if isinstance(hidden, HiddenSet) else tuple(hidden or ())
            key = json.dumps(body, sort_keys=True)
            if key not in by_key:
                request_id = f"model:{len(requests)}"
                by_key[key] = request_id
                requests[request_id] = ModelRequest(request_id, body, hidden)
            answers[(question.id, index)] = by_key[key]
    return list(requests.values()), answers


def write_requests(directory: Path, requests: list[ModelRequest],
                   hidden_dir: Path | None) -> list[dict[str, Any]]:
    """Write the hidden images the requests need; return the plan entries."""
    entries = []
    for request in requests:
        body = dict(request.body, id=request.id, timeout_s=MODEL_TIMEOUT_S)
        for data in request.hidden:
            if hidden_dir is None:
                from graders.errors import SpecError

                raise SpecError("this assignment needs the hidden test sets "
                                "(configure the hidden data directory)")
            target = directory / hidden_file(data)
            if not target.exists():
                images, _ = hidden_labels(hidden_dir, data)
                np.save(target, images, allow_pickle=False)
        entries.append(body)
    return entries
