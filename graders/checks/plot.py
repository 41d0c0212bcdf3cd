"""Plots the notebook showed (or saved) in the question's cells."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence
from graders.protocol import ModelRequestKind
from graders.results import CallStatus, CellStatus, CellSummary
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.context import decoded
from graders.scoring.models.figures import plotted
from graders.scoring.models.static import score_plot
from graders.scoring.values import WireFormatError
from graders.spec import Drawing, PlotCheck

CURVES = PlotCheck(points=1, section=r"training curves", shows=Drawing.CURVES)
TWO_CURVES = PlotCheck(points=1, section=r"training curves", min_images=2,
                       shows=Drawing.CURVES)
PICTURES = PlotCheck(points=1, section=r"training curves", shows=Drawing.PICTURES)
SAVED = PlotCheck(points=2, min_images=2, saved=True, shows=Drawing.CURVES)
TRAINING = replace(CURVES, of_training=True)
_PLOT = "plt.plot(losses)\nplt.xlabel('epoch')\nplt.show()"


def controls() -> list[Control[PlotCheck]]:
    """What the plot check can tell apart: figures (shown, or saved by savefig calls that
    ran) in the question's cells, counted by what their code draws: curves, pictures or
    other charts; and, where the kernel saw the figures shown, whether a curve changes
    over its points (a flat line, say the learning rate drawn again and again, is no curve
    of training). Not whether a changing curve is the right one: any line plot under the
    heading that changes counts as the loss curve."""

    def control(name: str, check: PlotCheck, cells: tuple[CellSummary, ...], credit: float,
                fault: Fault | None = None, *,
                failures: dict[int, tuple[CellStatus, str]] | None = None,
                seen: Any = None) -> Control[PlotCheck]:
        """``seen``: the kernel's answer about the figures shown (none by default: the
        code alone decides, as for a recording made before the kernel was asked)."""
        records = ctl.answered(seen) if seen is not None else None
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), records=records, models=ctl.context(
                cells=cells, records=ctl.ran(cells, failures))), credit, fault)

    def figure(after_cell: int, *curves: tuple[float, float, int]) -> dict[str, Any]:
        """One figure with one panel per curve (lowest, highest, points), shown after
        ``after_cell``."""
        return {"after_cell": after_cell, "axes": [
            {"curves": [{"kind": "line", "n": n, "finite": n, "lo": lo, "hi": hi}],
             "images": 0} for lo, hi, n in curves]}

    # the part's plotting cell is cell 3; the cell that ran before it is cell 1
    loss, lr, lrs = (0.31, 2.3, 20), (0.01, 0.01, 20), (1.0, 1.0, 20)

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
        # what the kernel saw the figures plot: it can only take a curve away
        control("the loss curve, seen by the kernel to fall", CURVES,
                part(ctl.code(_PLOT, images=1)), 1.0, seen={"figures": [figure(1, loss)]}),
        # curves of training where no optimizer ever stepped: a log typed in and drawn
        control("training curves drawn where no optimizer ever stepped", TRAINING,
                part(ctl.code(_PLOT, images=1)), 0.0,
                seen={"figures": [figure(1, loss)], "trained_steps": 0}),
        control("training curves after 300 optimizer steps", TRAINING,
                part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, loss)], "trained_steps": 300}),
        # the kernel could not count (no step hooks): the drawing decides, as before
        control("training curves, the steps not counted", TRAINING,
                part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, loss)], "trained_steps": None}),
        control("curves of no training run (the check does not ask for one), no steps",
                CURVES, part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, loss)], "trained_steps": 0}),
        # a history typed in (the handout's example numbers, "from a lost Colab run") and
        # drawn: as many points as a list in the code, the same lowest and highest
        control("a loss history typed in as numbers and drawn", CURVES,
                part(ctl.code("losses = [2.3, 1.1, 0.7, -0.5]\n" + _PLOT, images=1)), 0.0,
                seen={"figures": [figure(1, (-0.5, 2.3, 4))]}),
        control("a recorded history beside a list of numbers that is not it", CURVES,
                part(ctl.code("lrs = [0.1, 0.01, 0.001]\n" + _PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, loss)]}),
        control("flat lines (the learning rate) drawn as the learning curves", CURVES,
                part(ctl.code("for name, h in lrs.items():\n    plt.plot(h, label=name)\n"
                              "plt.ylabel('loss'); plt.show()", images=1)), 0.0,
                seen={"figures": [figure(1, lr, lrs)]}),
        control("two panels, both flat lines, where two curves are asked",
                TWO_CURVES, part(ctl.code(two_panels, images=1)), 0.0,
                seen={"figures": [figure(1, lr, lrs)]}),
        # an accuracy can stay put (saturated at 1.0) next to a loss that falls: a cell
        # with a curve that changes is not judged by its flat ones
        control("a falling loss and a saturated accuracy, where two curves are asked",
                TWO_CURVES, part(ctl.code(two_panels, images=1)), 1.0,
                seen={"figures": [figure(1, loss, (1.0, 1.0, 20))]}),
        # an accuracy equal over three epochs is not yet a flat line
        control("an accuracy the same three epochs running", CURVES,
                part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, (0.1, 0.1, 3))]}),
        # a loss that falls from 1e-12 to 1e-16 changes: tiny values are not flat
        control("a curve of tiny values on a log scale", CURVES,
                part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, (1e-16, 1e-12, 20))]}),
        # a figure summarised only in part (past the kernel's caps) is not judged
        control("flat lines in a figure the kernel summarised in part", CURVES,
                part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [{**figure(1, lr), "truncated": True}]}),
        # a kind of curve the kernel does not summarise (stairs) beside a flat line
        control("stairs beside a flat learning rate", CURVES, part(ctl.code(
            "plt.stairs(losses)\nplt.plot(lrs)\nplt.show()", images=1)), 1.0,
            seen={"figures": [figure(1, lr)]}),
        control("two panels that both change, where two curves are asked", TWO_CURVES,
                part(ctl.code(two_panels, images=1)), 1.0,
                seen={"figures": [figure(1, loss, (0.2, 1.9, 20))]}),
        # axes and nothing on them: a loop over an empty dict of histories, or empty
        # histories drawn (the kernel saw the figure, and no point in it)
        control("a figure with no curve on it", CURVES, part(ctl.code(_PLOT, images=1)), 0.0,
                seen={"figures": [{"after_cell": 1, "axes": [{"curves": []}]}]}),
        control("two empty histories drawn", TWO_CURVES, part(ctl.code(two_panels, images=1)),
                0.0, seen={"figures": [figure(1, (0.0, 0.0, 0), (0.0, 0.0, 0))]}),
        # a one-point line (one epoch trained) is not judged flat: nothing changes yet
        control("a curve of one point", CURVES, part(ctl.code(_PLOT, images=1)), 1.0,
                seen={"figures": [figure(1, (2.1, 2.1, 1))]}),
        # the plotting cell raised after drawing flat lines: the flat lines are the
        # reason given, not the error, when the code alone would have earned it
        control("flat lines drawn, and a later cell of the part raised", CURVES, part(
            ctl.code("plt.plot(lrs)\nplt.show()", images=1), ctl.code("evaluate(net)")),
            0.0, Fault.NONE, failures={4: (CellStatus.ERROR, "NameError: evaluate")},
            seen={"figures": [figure(1, lr)]}),
        # a flat line shown by another cell does not take this cell's curve away
        control("a flat line shown by another cell", CURVES, part(
            ctl.code(_PLOT, images=1)), 1.0, seen={"figures": [figure(0, lr)]}),
        # the kernel is a witness that can lie: what it says can only take credit away
        control("a bar chart the kernel says is a changing curve", CURVES, part(ctl.code(
            "plt.bar(names, accuracies)\nplt.show()", images=1)), 0.0,
            seen={"figures": [figure(1, loss, loss, loss)]}),
        control("a flat line, the kernel's answer unreadable", CURVES, part(
            ctl.code(_PLOT, images=1)), 1.0, seen={"figures": "flat"}),
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


def _score(check: PlotCheck, ev: Evidence) -> CheckScore:
    """The figures the code shows; what the kernel saw them plot only takes curves away,
    so a kernel that says nothing (or what the notebook made it say) changes nothing."""
    ctx = ev.context()
    record, seen = ev.record, {}
    if record is not None and record.status is CallStatus.OK:
        try:
            payload = decoded(record)
        except WireFormatError:
            payload = None
        # the cells the final kernel ran (a cell left out after it stopped the kernel
        # ran in an earlier one): a figure belongs to the next of them after its cell
        seen = plotted(payload, (r.index for r in ctx.records
                                 if r.status in (CellStatus.OK, CellStatus.ERROR)))
        untrained = _never_trained(check, payload, ctx)
        if untrained is not None:
            return untrained
    return score_plot(check, ctx, seen)


def _never_trained(check: PlotCheck, payload: Any, ctx: Any) -> CheckScore | None:
    """Curves of training where the kernel saw no optimizer step on gradients: drawn
    from numbers typed in, or a log of another run. Not judged where the kernel could
    not count (no step hooks) or a cell ran out of time (the restart lost the counts)."""
    steps = payload.get("trained_steps") if isinstance(payload, dict) else None
    if not check.of_training or not isinstance(steps, int) or isinstance(steps, bool) \
            or steps > 0 or any(r.status is CellStatus.TIMEOUT for r in ctx.records):
        return None
    drawn = score_plot(check, ctx, {})
    if not drawn.fraction:
        return drawn
    return CheckScore(0.0, ["the curves asked for are of a training run, but no optimizer "
                            "took a step on gradients while your notebook ran, so whatever "
                            "they show, no training made them (check that loss.backward() "
                            "is called, and that the optimizer steps the model you train)"])


PLOT = CheckKind(spec=PlotCheck, name="plot", label=lambda c: "plot", score=_score,
                 # only a curves check reads what the kernel saw drawn
                 request=lambda c, _: ({"kind": ModelRequestKind.FIGURES.value}, None)
                 if c.shows is Drawing.CURVES else None,
                 grades_models=True, controls=controls, kernel="probe")
