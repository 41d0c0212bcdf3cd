"""The "best" model saved to a file: it loads, and it is the best the notebook trained."""

from __future__ import annotations

from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind
from graders.scoring.models.accuracy import score_saved
from graders.spec import SavedModelCheck

SAVED_MODEL = CheckKind(
    spec=SavedModelCheck, name="saved_model", label=lambda c: "saved model",
    score=from_payload(lambda c, ev, p: score_saved(c, p, ev.context())),
    request=lambda c, _: describe_models(saved=True, public=True),
    needs_data=True, grades_models=True)
