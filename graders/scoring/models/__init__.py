"""Trained-model scorers, split by noun, dispatched by check type.

Labels and reference accuracies stay here, on the trusted side. A check type without a
scorer is a configuration error, never silently scored as another kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graders.errors import SpecError
from graders.results import ProbeRecord
from graders.scoring.function import CheckScore
from graders.scoring.models.accuracy import score_accuracy, score_reported, score_saved
from graders.scoring.models.architecture import (
    score_architecture,
    score_param_count,
    score_pretrained,
)
from graders.scoring.models.context import ModelContext, _payload
from graders.scoring.models.loaders import score_loaders, score_transform
from graders.scoring.models.static import score_calls, score_optimizers, score_plot
from graders.spec import (
    ArchitectureCheck,
    CallsCheck,
    LoaderCheck,
    ModelAccuracyCheck,
    ModelCheck,
    OptimizerCheck,
    ParamCountCheck,
    PlotCheck,
    PretrainedCheck,
    ReportedAccuracyCheck,
    SavedModelCheck,
    TransformCheck,
)

__all__ = ["ModelContext", "score_model_check"]

# Scorers that read only what the notebook showed (cells), and those that read the
# model probe's answer (payload).
_FROM_CELLS: dict[type, Callable[[Any, ModelContext], CheckScore]] = {
    PlotCheck: score_plot,
    OptimizerCheck: score_optimizers,
    CallsCheck: score_calls,
}
_FROM_PAYLOAD: dict[type, Callable[[Any, str, dict[str, Any], ModelContext], CheckScore]] = {
    ModelAccuracyCheck: score_accuracy,
    ArchitectureCheck: lambda c, _k, p, x: score_architecture(c, p, x),
    LoaderCheck: lambda c, _k, p, _x: score_loaders(c, p),
    SavedModelCheck: lambda c, _k, p, x: score_saved(c, p, x),
    ReportedAccuracyCheck: lambda c, _k, p, x: score_reported(c, p, x),
    ParamCountCheck: lambda c, _k, p, _x: score_param_count(c, p),
    TransformCheck: lambda c, _k, p, _x: score_transform(c, p),
    PretrainedCheck: lambda c, _k, p, _x: score_pretrained(c, p),
}


def score_model_check(check: ModelCheck, key: str, record: ProbeRecord | None,
                      ctx: ModelContext) -> CheckScore:
    kind = type(check)
    if kind in _FROM_CELLS:
        return _FROM_CELLS[kind](check, ctx)
    if kind not in _FROM_PAYLOAD:
        raise SpecError(f"no scorer for the check type {kind.__name__}")
    payload, failure = _payload(record)
    if failure is not None:
        return failure
    if not isinstance(payload, dict):
        from graders.scoring.function import Fault

        return CheckScore(0.0, ["the model probe's answer was unreadable"], Fault.ERRORED)
    return _FROM_PAYLOAD[kind](check, key, payload, ctx)
