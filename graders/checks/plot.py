"""Plots the notebook showed (or saved) in the question's cells."""

from __future__ import annotations

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control
from graders.results import CellStatus, CellSummary
from graders.scoring.function import Fault
from graders.scoring.models.static import score_plot
from graders.spec import PlotCheck

CURVES = PlotCheck(points=1, section=r"training curves")
SAVED = PlotCheck(points=2, min_images=2, saved=True)
_PLOT = "plt.plot(losses)\nplt.xlabel('epoch')\nplt.show()"


def controls() -> list[Control[PlotCheck]]:
    """What the plot check can tell apart: images (or savefig calls that ran) in the
    question's cells. Not what an image shows: a picture of digits under the heading
    counts as the curve."""

    def control(name: str, check: PlotCheck, cells: tuple[CellSummary, ...], credit: float,
                fault: Fault | None = None, *,
                failures: dict[int, tuple[CellStatus, str]] | None = None
                ) -> Control[PlotCheck]:
        return Control(name, check, ctl.evidence(ctl.question_for(check), models=ctl.context(
            cells=cells, records=ctl.ran(cells, failures))), credit, fault)

    def part(plot: CellSummary, *after: CellSummary) -> tuple[CellSummary, ...]:
        return ctl.notebook(ctl.md("## 2.1 Loading the data"), ctl.code("x, y = next(it)"),
                            ctl.md("## 2.2 Training curves"), plot, *after)

    saving = "plt.plot(train_losses)\nplt.savefig('loss.png')\n" \
             "plt.plot(val_losses)\nplt.savefig('val_loss.png')"
    return [
        control("the loss curve under its heading", CURVES, part(ctl.code(_PLOT, images=1)),
                1.0),
        control("an empty figure: printed, never drawn", CURVES, part(ctl.code(
            "plt.figure()", text="<Figure size 640x480 with 0 Axes>")), 0.0),
        control("the curve shown under another question's heading", CURVES, ctl.notebook(
            ctl.md("## 2.1 Loading the data"), ctl.code(_PLOT, images=1),
            ctl.md("## 2.2 Training curves"), ctl.code("train(net)")), 0.0),
        control("two figures saved with savefig", SAVED, ctl.notebook(ctl.code(saving)), 1.0),
        # a savefig in a cell that raised wrote no file
        control("savefig in a cell that raised", SAVED, ctl.notebook(ctl.code(saving)), 0.0,
                Fault.ERRORED, failures={0: (CellStatus.ERROR, "NameError: name "
                                                               "'val_losses' is not defined")}),
        control("the plotting cell timed out", CURVES, part(ctl.code(f"train(net)\n{_PLOT}")),
                0.0, Fault.TIMED_OUT,
                failures={3: (CellStatus.TIMEOUT, "stopped after 600 s")}),
    ]


PLOT = CheckKind(spec=PlotCheck, name="plot", label=lambda c: "plot",
                 score=lambda c, ev: score_plot(c, ev.context()), grades_models=True,
                 controls=controls, kernel="")
