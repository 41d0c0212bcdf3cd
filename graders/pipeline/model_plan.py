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
from typing import Any

import numpy as np

from graders.hidden import hidden_labels
from graders.inputs import op_case
from graders.protocol import ModelRequestKind
from graders.spec import (
    ArchitectureCheck,
    Assignment,
    HiddenSet,
    LoaderCheck,
    ModelAccuracyCheck,
    OpCheck,
    ParamCountCheck,
    PretrainedCheck,
    ReportedAccuracyCheck,
    SavedModelCheck,
    TransformCheck,
    ValueCheck,
    layer_wire,
)

MODEL_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ModelRequest:
    id: str
    body: dict[str, Any]
    hidden: HiddenSet | None = None


def hidden_file(data: HiddenSet) -> str:
    """A neutral name: the sandbox learns nothing from it but that it holds images."""
    import hashlib

    digest = hashlib.sha256(f"{data.name}:{data.classes}".encode()).hexdigest()[:10]
    return f"images-{digest}.npy"


def _body(check: object) -> tuple[dict[str, Any], HiddenSet | None] | None:
    if isinstance(check, ModelAccuracyCheck) and check.locate.framework == "vugrad":
        return {"kind": ModelRequestKind.EVALUATE.value, "framework": "vugrad",
                "images": hidden_file(check.data)}, check.data
    if isinstance(check, ModelAccuracyCheck):
        return {"kind": ModelRequestKind.EVALUATE.value, "images": hidden_file(check.data),
                "saved": check.locate.source != "memory",
                "memory": check.locate.source != "saved", "public": False,
                "fallback_transform": [t.wire() for t in check.fallback_transform]}, check.data
    if isinstance(check, ArchitectureCheck | SavedModelCheck | ReportedAccuracyCheck):
        saved = isinstance(check, SavedModelCheck) or check.locate.source != "memory"
        public = isinstance(check, SavedModelCheck | ReportedAccuracyCheck)
        return {"kind": ModelRequestKind.EVALUATE.value, "images": None, "saved": saved,
                "memory": True, "public": public, "fallback_transform": [["ToTensor"]]}, None
    if isinstance(check, PretrainedCheck):
        return {"kind": ModelRequestKind.EVALUATE.value, "images": None,
                "saved": check.locate.source != "memory", "memory": True, "public": False,
                "pretrained": True, "fallback_transform": [["ToTensor"]]}, None
    if isinstance(check, LoaderCheck | TransformCheck):
        return {"kind": ModelRequestKind.LOADERS.value}, None
    if isinstance(check, ParamCountCheck):
        return {"kind": ModelRequestKind.PARAM_COUNT.value, "pattern": check.pattern,
                "models": [[layer_wire(layer) for layer in model]
                           for model in check.models]}, None
    return None


def _value_names(assignment: Assignment) -> list[str]:
    return sorted({name for q in assignment.questions for c in q.checks
                   if isinstance(c, ValueCheck) for name in c.names})


def _op_trials(assignment: Assignment, solution: Any) -> list[dict[str, Any]]:
    trials = []
    for question in assignment.questions:
        for index, check in enumerate(question.checks):
            if isinstance(check, OpCheck):
                case = op_case(check, solution)
                trials.append({"id": f"{question.id}:{index}", "names": list(check.names),
                               "inputs": [x.tolist() for x in case.inputs],
                               "kwargs": case.kwargs, "goutput": case.goutput.tolist(),
                               "wrt": list(check.graded_inputs)})
    return trials


def plan_models(assignment: Assignment, solution: Any = None
                ) -> tuple[list[ModelRequest], dict[tuple[str, int], str]]:
    """The requests, and for each (question id, check index) the request answering it.
    ``solution`` sizes the op checks' output gradients (their reference's output)."""
    names = _value_names(assignment)
    ops = _op_trials(assignment, solution) if solution is not None else []
    requests: dict[str, ModelRequest] = {}
    by_key: dict[str, str] = {}
    answers: dict[tuple[str, int], str] = {}
    for question in assignment.questions:
        for index, check in enumerate(question.checks):
            if isinstance(check, ValueCheck):
                made: tuple[dict[str, Any], HiddenSet | None] | None = (
                    {"kind": ModelRequestKind.VALUES.value, "names": names}, None)
            elif isinstance(check, OpCheck):
                if solution is None:
                    continue
                made = ({"kind": ModelRequestKind.OPS.value, "ops": ops}, None)
            else:
                made = _body(check)
            if made is None:
                continue
            body, hidden = made
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
        if request.hidden is not None:
            if hidden_dir is None:
                from graders.errors import SpecError

                raise SpecError("this assignment needs the hidden test sets "
                                "(configure the hidden data directory)")
            images, _ = hidden_labels(hidden_dir, request.hidden)
            target = directory / body["images"]
            if not target.exists():
                np.save(target, images, allow_pickle=False)
        entries.append(body)
    return entries
