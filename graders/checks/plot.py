"""Plots the notebook showed (or saved) in the question's cells."""

from __future__ import annotations

from dataclasses import replace

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control
from graders.results import CellStatus, CellSummary
from graders.scoring.function import Fault
from graders.scoring.models.static import score_plot
from graders.spec import Drawing, PlotCheck

CURVES = PlotCheck(points=1, section=r"training curves", shows=Drawing.CURVES)
TWO_CURVES = PlotCheck(points=1, section=r"training curves", min_images=2,
                       shows=Drawing.CURVES)
PICTURES = PlotCheck(points=1, section=r"training curves", shows=Drawing.PICTURES)
SAVED = PlotCheck(points=2, min_images=2, saved=True, shows=Drawing.CURVES)
_PLOT = "plt.plot(losses)\nplt.xlabel('epoch')\nplt.show()"


def controls() -> list[Control[PlotCheck]]:
    """What the plot check can tell apart: figures (shown, or saved by savefig calls that
    ran) in the question's cells, counted by what their code draws: curves, pictures or
    other charts. Not whether a curve is the right one: any line plot under the heading
    counts as the loss curve."""

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
    two_panels = ("fig, (left, right) = plt.subplots(1, 2)\nleft.plot(train_losses)\n"
                  "right.plot(val_losses)\nplt.show()")
    return [
        control("the loss curve under its heading", CURVES, part(ctl.code(_PLOT, images=1)),
                1.0),
        control("two curves in two panels of one figure", TWO_CURVES,
                part(ctl.code(two_panels, images=1)), 1.0),
        control("one curve where two are asked", TWO_CURVES, part(ctl.code(_PLOT, images=1)),
                0.0),
        control("a picture of digits under the curves' heading", CURVES, part(ctl.code(
            "plt.imshow(x[0].squeeze(), cmap='gray')\nplt.show()", images=1)), 0.0),
        control("a bar chart of accuracies for the curves", CURVES, part(ctl.code(
            "plt.bar(names, accuracies)\nplt.show()", images=1)), 0.0),
        control("the curve drawn by the notebook's own helper", CURVES, part(
            ctl.code("def show_history(h):\n    plt.semilogy(h['loss'])\n    plt.show()"),
            ctl.code("show_history(history)", images=1)), 1.0),
        control("a course helper that draws (its code is not the notebook's)", CURVES,
                part(ctl.code("from utils import plot_curves\nplot_curves(history)",
                              images=1)), 1.0),
        control("one curve per optimizer, drawn in a loop", TWO_CURVES, part(ctl.code(
            "for name, losses in results.items():\n    plt.figure()\n"
            "    plt.plot(losses)\n    plt.title(name)\n    plt.show()", images=4)), 1.0),
        control("sample images shown", PICTURES, part(ctl.code(
            "plt.imshow(x[0].squeeze())\nplt.show()", images=1)), 1.0),
        control("a loss curve where the samples are asked", PICTURES,
                part(ctl.code(_PLOT, images=1)), 0.0),
        control("a course module's helper called through the module", CURVES, part(
            ctl.code("import utils\nutils.plot_curves(history)", images=1)), 1.0),
        control("a trainer's own plotting method", CURVES, part(
            ctl.code("trainer.plot_losses()", images=1)), 1.0),
        control("an undefined helper that shows images, for the curves", CURVES, part(
            ctl.code("show_images(x[:8])", images=1)), 0.0),
        control("a pandas bar chart for the curves", CURVES, part(
            ctl.code("pd.DataFrame(results).plot(kind='bar')", images=1)), 0.0),
        control("two panels drawn in a loop", TWO_CURVES, part(ctl.code(
            "fig, axes = plt.subplots(1, 2)\nfor ax, h in zip(axes, (train, val)):\n"
            "    ax.plot(h)\nplt.show()", images=1)), 1.0),
        control("a PIL image shown as it is", PICTURES, part(ctl.code(
            "to_pil(x[0])", images=1)), 1.0),
        control("one curve both saved and shown, where two are asked", SAVED,
                ctl.notebook(ctl.code("plt.plot(losses)\nplt.savefig('loss.png')\n"
                                      "plt.show()", images=1)), 0.0),
        # a notebook with headings, none of them this question's: the curve answers the
        # part it stands in, not this question (no whole-notebook fallback)
        Control("no heading of its own: a curve under a heading of no question",
                CURVES, ctl.evidence(ctl.question_for(CURVES), models=replace(ctl.context(
                    cells=ctl.notebook(ctl.md("## 2.1 Loading the data"), ctl.code("x = 1"),
                                       ctl.md("## Training"), ctl.code(_PLOT, images=1))),
                    claimed=(("2.1", frozenset({1})),))), 0.0),
        # a script without headings is read whole, as a TA reads it
        Control("a notebook without any headings: its only curve",
                CURVES, ctl.evidence(ctl.question_for(CURVES), models=ctl.context(
                    cells=ctl.notebook(ctl.code(_PLOT, images=1)))), 1.0),
        # (the notebook's cell 2 is claimed by another question's heading)
        Control("no heading of its own: the curve another question's heading claims",
                CURVES, ctl.evidence(ctl.question_for(CURVES), models=replace(ctl.context(
                    cells=ctl.notebook(ctl.md("## 2.3 CNN"), ctl.code(_PLOT, images=1))),
                    claimed=(("2.3", frozenset({1})),))), 0.0),
        control("code that draws a curve but showed nothing", CURVES,
                part(ctl.code("plt.plot(losses)")), 0.0),
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
        # the inline backend shows the figure a raising cell had begun: empty axes
        control("the curves' cell raised, its empty axes shown", CURVES,
                part(ctl.code(f"fig, ax = plt.subplots(1, 2)\n{_PLOT}", images=1)), 0.0,
                Fault.ERRORED, failures={3: (CellStatus.ERROR, "RuntimeError: mat1 and "
                                                               "mat2 shapes cannot be "
                                                               "multiplied")}),
        control("the plotting cell timed out", CURVES, part(ctl.code(f"train(net)\n{_PLOT}")),
                0.0, Fault.TIMED_OUT,
                failures={3: (CellStatus.TIMEOUT, "stopped after 600 s")}),
    ]


PLOT = CheckKind(spec=PlotCheck, name="plot", label=lambda c: "plot",
                 score=lambda c, ev: score_plot(c, ev.context()), grades_models=True,
                 controls=controls, kernel="")
