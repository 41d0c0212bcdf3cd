"""The model started from the mounted pretrained checkpoint (weights' similarity)."""

from __future__ import annotations

from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind
from graders.scoring.models.architecture import score_pretrained
from graders.spec import PretrainedCheck

PRETRAINED = CheckKind(
    spec=PretrainedCheck, name="pretrained", label=lambda c: "pretrained",
    score=from_payload(lambda c, _ev, p: score_pretrained(c, p)),
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=False,
                                         pretrained=True),
    needs_data=True, grades_models=True)
