"""The notebook's DataLoaders: splits, sizes, batch sizes, shuffling, the dataset."""

from __future__ import annotations

from graders.checks._model import from_payload, loaders
from graders.checks.base import CheckKind
from graders.scoring.models.loaders import score_loaders
from graders.spec import LoaderCheck

LOADER = CheckKind(
    spec=LoaderCheck, name="loader", label=lambda c: "loader",
    score=from_payload(lambda c, _ev, p: score_loaders(c, p)),
    request=lambda c, _: loaders(), needs_data=True, grades_models=True)
