"""The notebook's parameter-count function, run on models the host describes."""

from __future__ import annotations

from graders.checks._model import from_payload
from graders.checks.base import CheckKind, Planning, Request
from graders.protocol import ModelRequestKind
from graders.scoring.models.architecture import score_param_count
from graders.spec import ParamCountCheck, layer_wire


def request(check: ParamCountCheck, planning: Planning) -> Request:
    return {"kind": ModelRequestKind.PARAM_COUNT.value, "pattern": check.pattern,
            "models": [[layer_wire(layer) for layer in model]
                       for model in check.models]}, None


PARAM_COUNT = CheckKind(
    spec=ParamCountCheck, name="param_count", label=lambda c: "param count",
    score=from_payload(lambda c, _ev, p: score_param_count(c, p)), request=request,
    needs_data=True, grades_models=True)
