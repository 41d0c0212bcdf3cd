"""The datasets' transforms (normalisation, a fixed permutation as the last step)."""

from __future__ import annotations

from graders.checks._model import from_payload, loaders
from graders.checks.base import CheckKind
from graders.scoring.models.loaders import score_transform
from graders.spec import TransformCheck

TRANSFORM = CheckKind(
    spec=TransformCheck, name="transform", label=lambda c: "transform",
    score=from_payload(lambda c, _ev, p: score_transform(c, p)),
    request=lambda c, _: loaders(), needs_data=True, grades_models=True)
