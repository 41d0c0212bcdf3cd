"""Methods the notebook must call (``model.train()`` and ``model.eval()``)."""

from __future__ import annotations

from graders.checks.base import CheckKind
from graders.scoring.models.static import score_calls
from graders.spec import CallsCheck

CALLS = CheckKind(spec=CallsCheck, name="calls", label=lambda c: "calls",
                  score=lambda c, ev: score_calls(c, ev.context()), grades_models=True)
