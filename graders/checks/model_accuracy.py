"""Accuracy of the notebook's trained model on grader-held images (the labels never
leave the host), in credit bands below the calibrated reference."""

from __future__ import annotations

from graders.checks._model import from_payload
from graders.checks.base import CheckKind, Planning, Request
from graders.hidden import hidden_file
from graders.protocol import ModelRequestKind
from graders.scoring.models.accuracy import score_accuracy
from graders.spec import ModelAccuracyCheck


def request(check: ModelAccuracyCheck, planning: Planning) -> Request:
    if check.locate.framework == "vugrad":
        return {"kind": ModelRequestKind.EVALUATE.value, "framework": "vugrad",
                "images": hidden_file(check.data)}, check.data
    return {"kind": ModelRequestKind.EVALUATE.value, "images": hidden_file(check.data),
            "saved": check.locate.source != "memory",
            "memory": check.locate.source != "saved", "public": False,
            "fallback_transform": [t.wire() for t in check.fallback_transform]}, check.data


MODEL_ACCURACY = CheckKind(
    spec=ModelAccuracyCheck, name="model_accuracy", label=lambda c: "model accuracy",
    score=from_payload(lambda c, ev, p: score_accuracy(c, ev.key, p, ev.context())),
    request=request, hidden_set=lambda c: c.data, needs_data=True, grades_models=True)
