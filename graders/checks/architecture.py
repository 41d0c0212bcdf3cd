"""A model's layers in order, its parameter count and what its forward uses."""

from __future__ import annotations

from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind
from graders.scoring.models.architecture import score_architecture
from graders.spec import ArchitectureCheck

ARCHITECTURE = CheckKind(
    spec=ArchitectureCheck, name="architecture", label=lambda c: "architecture",
    score=from_payload(lambda c, ev, p: score_architecture(c, p, ev.context())),
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=False),
    needs_data=True, grades_models=True)
