"""Plots the notebook showed (or saved) in the question's cells."""

from __future__ import annotations

from graders.checks.base import CheckKind
from graders.scoring.models.static import score_plot
from graders.spec import PlotCheck

PLOT = CheckKind(spec=PlotCheck, name="plot", label=lambda c: "plot",
                 score=lambda c, ev: score_plot(c, ev.context()), grades_models=True)
