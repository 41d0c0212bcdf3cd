"""The test accuracy the notebook prints agrees with what its model reaches."""

from __future__ import annotations

from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind
from graders.scoring.models.accuracy import score_reported
from graders.spec import ReportedAccuracyCheck

REPORTED_ACCURACY = CheckKind(
    spec=ReportedAccuracyCheck, name="reported_accuracy", label=lambda c: "reported accuracy",
    score=from_payload(lambda c, ev, p: score_reported(c, p, ev.context())),
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=True),
    needs_data=True, grades_models=True)
