"""Checks of what the notebook shows and writes, without running it again: plots under a
question's section, optimizer settings and method calls in its code."""

from __future__ import annotations

import builtins
from typing import Any

from graders.results import CellStatus
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.code import Call, read, savefig_calls
from graders.scoring.models.context import ModelContext
from graders.scoring.models.figures import shown
from graders.spec import CallsCheck, Drawing, OptimizerCheck, PlotCheck

_LOOKED_FOR = {
    Drawing.CURVES: "curve(s) drawn with plot, semilogy, errorbar or the like",
    Drawing.PICTURES: "image(s) drawn with imshow or the like",
    Drawing.ANY: "plot(s)",
}


def score_plot(check: PlotCheck, ctx: ModelContext) -> CheckScore:
    section = ctx.section(check.section)
    ran = {r.index for r in ctx.records if r.status is CellStatus.OK}
    # no heading of its own: the whole notebook, less what other questions' headings claim
    others = ctx.claimed_elsewhere() if not section.found else frozenset()
    found = figures = 0
    for cell in section.cells:
        if cell.kind != "code" or cell.index in others:
            continue
        # a figure both shown and saved is one figure
        made = max(cell.images, savefig_calls(cell.source) if check.saved
                   and cell.index in ran else 0)
        figures += made
        found += shown(ctx.cells, cell, made, check.shows)
    where = "this question's part of the notebook" if section.found else "the notebook"
    notes = [section.note] if section.note else []
    looked_for = f"at least {check.min_images} {_LOOKED_FOR[check.shows]} in {where}"
    if found >= check.min_images:
        return CheckScore(1.0, [f"looked for {looked_for}: found {found} (kept for your "
                                "instructor)", *notes])
    # a plot is missing because a cell of this part stopped: say so (errored, timed out)
    cells = {c.index for c in section.cells if c.kind == "code"}
    stopped = next((r for r in ctx.records if r.index in cells
                    and r.status is not CellStatus.OK), None)
    fault, why = Fault.NONE, []
    if stopped is not None:
        fault = Fault.TIMED_OUT if stopped.status is CellStatus.TIMEOUT else Fault.ERRORED
        why = [f"cell {stopped.index + 1} did not complete "
               f"({stopped.error or stopped.status.value})"]
    elif figures > found:
        why = [f"{figures} figure(s) there, but their code draws something else"]
    return CheckScore(0.0, [f"looked for {looked_for}: found {found}", *why, *notes], fault)


# torch.optim's defaults: Adam(params) is Adam with lr=1e-3, as the handout may ask
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "Adam": {"lr": 1e-3, "weight_decay": 0, "amsgrad": False},
    "AdamW": {"lr": 1e-3, "weight_decay": 1e-2},
    "SGD": {"momentum": 0, "weight_decay": 0, "nesterov": False, "dampening": 0},
    "RMSprop": {"lr": 1e-2, "momentum": 0, "weight_decay": 0},
}


def score_optimizers(check: OptimizerCheck, ctx: ModelContext) -> CheckScore:
    code = read(ctx.cells)
    missing, idle = [], []
    for setting in check.settings:
        want = dict(setting.kwargs)
        defaults = OPTIMIZER_DEFAULTS.get(setting.name, {})
        built = [call for call in code.calls if call.name == setting.name and all(
            call.kwargs.get(k, defaults.get(k)) == v for k, v in want.items())]
        args = ", ".join(f"{k}={v}" for k, v in setting.kwargs)
        if not built:
            missing.append(f"{setting.name}({args})")
        elif all(code.unused(call) for call in built):
            # built and assigned, then never read: nothing was trained with it
            idle.append(f"{setting.name}({args}) as `{built[0].bound_to}`")
    if not missing and not idle:
        return CheckScore(1.0, ["all the optimizer settings the handout lists are used"])
    found = len(check.settings) - len(missing) - len(idle)
    problem = code.problem()
    lines = ([f"no optimizer constructed as {', '.join(missing)}"] if missing else []) + \
        ([f"constructed but never used: {', '.join(idle)}"] if idle else [])
    return CheckScore(found / len(check.settings), [*lines, *([problem] if problem else [])],
                      Fault.ERRORED if problem else Fault.NONE)


def _mode(call: Call) -> str:
    # ``model.train(False)`` (or mode=False) switches to evaluation: it is an eval()
    if call.name == "train" and (call.args[:1] == (False,) or call.kwargs.get("mode") is False):
        return "eval"
    return call.name


def score_calls(check: CallsCheck, ctx: ModelContext) -> CheckScore:
    code = read(ctx.cells)
    # `train(net, loader)` calling the notebook's own train() is no `model.train()`, nor
    # is Python's eval() a `model.eval()`
    called = {_mode(call) for call in code.calls if call.method or (
        call.name not in code.defined and not hasattr(builtins, call.name))}
    missing = [name for name in check.calls if name not in called]
    if not missing:
        return CheckScore(1.0, [f"{', '.join(f'{n}()' for n in check.calls)} used"])
    why = f" ({check.why})" if check.why else ""
    problem = code.problem()
    return CheckScore(1.0 - len(missing) / len(check.calls),
                      [f"{', '.join(f'{n}()' for n in missing)} never called{why}",
                       *([problem] if problem else [])],
                      Fault.ERRORED if problem else Fault.NONE)
