"""The optimizers the notebook constructs and their settings (read from its code)."""

from __future__ import annotations

from graders.checks.base import CheckKind
from graders.scoring.models.static import score_optimizers
from graders.spec import OptimizerCheck

OPTIMIZER = CheckKind(spec=OptimizerCheck, name="optimizer", label=lambda c: "optimizer",
                      score=lambda c, ev: score_optimizers(c, ev.context()),
                      grades_models=True)
