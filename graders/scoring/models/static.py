"""Checks of what the notebook shows and writes, without running it again: plots under a
question's section, optimizer settings and method calls in its code."""

from __future__ import annotations

import builtins
import math
from typing import Any

from graders.results import CellStatus
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.code import UNKNOWN, Call, Code, read, savefig_calls
from graders.scoring.models.context import ModelContext
from graders.scoring.models.figures import Plotted, literal_spans, shown
from graders.spec import CallsCheck, Drawing, OptimizerCheck, PlotCheck

_LOOKED_FOR = {
    Drawing.CURVES: "curve(s) drawn with plot, semilogy, errorbar or the like",
    Drawing.PICTURES: "image(s) drawn with imshow or the like",
    Drawing.ANY: "plot(s)",
}


def score_plot(check: PlotCheck, ctx: ModelContext,
               seen: dict[int, Plotted] | None = None) -> CheckScore:
    """Figures under the question's section, counted by what their code draws; with
    ``seen`` (what the kernel saw each cell's figures plot), a cell's curves are at most
    those that change: a flat line drawn where a curve of training is asked is none."""
    seen = seen or {}
    section = ctx.section(check.section)
    # other questions' parts were found: the notebook is laid out by question, and this
    # one's is not there (a notebook whose layout is not recognised is read whole)
    laid_out = bool(ctx.claimed_elsewhere())
    if (not section.found or section.how == "whole notebook") and laid_out:
        # a notebook with headings, none of them this question's: a figure elsewhere
        # answers the question under whose heading it stands, or none
        return CheckScore(0.0, [f"looked for {check.min_images} "
                                f"{_LOOKED_FOR[check.shows]} under this question's heading "
                                "or prompt, and found no part of your notebook that answers "
                                "it (keep the handout's headings, or number your answers "
                                "as the handout does)"])
    ran = {r.index for r in ctx.records if r.status is CellStatus.OK}
    # a notebook without any headings (a script): all of it, less what other questions'
    # prompts claim
    others = ctx.claimed_elsewhere() if not section.found else frozenset()
    found = figures = 0
    flat_lines: list[tuple[int, Plotted]] = []
    empty: list[int] = []  # cells whose figures the kernel saw hold no line
    typed: list[int] = []  # cells whose every changing curve is a list typed in the code
    literals = literal_spans(ctx.cells) if check.shows is Drawing.CURVES and seen \
        else frozenset()
    witnessed = 0  # curves the kernel saw change
    static = 0  # what the code alone counts
    for cell in section.cells:
        if cell.kind != "code" or cell.index in others:
            continue
        # a figure both shown and saved is one figure; a cell that raised shows the
        # figure it had begun (empty axes, half the curves), which answers nothing
        made = max(cell.images if cell.index in ran else 0,
                   savefig_calls(cell.source) if check.saved and cell.index in ran else 0)
        figures += made
        count = shown(ctx.cells, cell, made, check.shows)
        static += count
        data = seen.get(cell.index)
        if count and check.shows is Drawing.CURVES and data is not None:
            if data.empty() and "stairs" not in cell.source:
                empty.append(cell.index)
                count = 0
            elif data.all_flat(count):
                flat_lines.append((cell.index, data))
                count = 0
            elif data.complete and data.changing and \
                    data.typed_in(literals) >= data.changing:
                # a history written as numbers in the code (the handout's, or "from a
                # lost run") is drawn, not recorded: no curve of this notebook's training
                typed.append(cell.index)
                count = 0
            elif data.complete:
                witnessed += min(count, data.changing)
        found += count
    where = "this question's part of the notebook" if section.found else "the notebook"
    notes = [section.note] if section.note else []
    looked_for = f"at least {check.min_images} {_LOOKED_FOR[check.shows]} in {where}"
    if found >= check.min_images:
        checked = (f"; {witnessed} of them seen to change over their points, not flat"
                   if witnessed else "")
        return CheckScore(1.0, [f"looked for {looked_for}: found {found}{checked} (kept for "
                                "your instructor)", *notes])
    # a plot is missing because a cell of this part stopped: say so (errored, timed out)
    cells = {c.index for c in section.cells if c.kind == "code"}
    stopped = next((r for r in ctx.records if r.index in cells
                    and r.status is not CellStatus.OK), None)
    fault, why = Fault.NONE, []
    if typed and static >= check.min_images:
        why = [f"the curves cell {typed[0] + 1} draws are lists of numbers written in the "
               "notebook's code, not histories its training recorded"]
    elif flat_lines and static >= check.min_images:
        # the code alone would have earned it: the flat lines are why it did not
        why = [_flat_note(index, data) for index, data in flat_lines]
    elif stopped is not None:
        fault = Fault.TIMED_OUT if stopped.status is CellStatus.TIMEOUT else Fault.ERRORED
        why = [f"cell {stopped.index + 1} did not complete "
               f"({stopped.error or stopped.status.value})"]
    elif flat_lines:
        why = [_flat_note(index, data) for index, data in flat_lines]
    elif empty:
        why = [f"the figure of cell {empty[0] + 1} has no curve on it (its plotting code "
               "ran over nothing: were the histories recorded?)"]
    elif figures > found:
        why = [f"{figures} figure(s) there, but their code draws something else"]
    return CheckScore(0.0, [f"looked for {looked_for}: found {found}", *why, *notes], fault)


def _flat_note(index: int, data: Plotted) -> str:
    values = ", ".join(f"{v:.4g}" for v in sorted(set(data.flat))[:4])
    return (f"the figure(s) cell {index + 1} showed draw {len(data.flat)} flat line(s), "
            f"each one value over and over ({values}): a curve of training changes from "
            "step to step, so this is not the curve asked for")


# torch.optim's defaults: Adam(params) is Adam with lr=1e-3, as the handout may ask
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "Adam": {"lr": 1e-3, "weight_decay": 0, "amsgrad": False},
    "AdamW": {"lr": 1e-3, "weight_decay": 1e-2},
    "SGD": {"momentum": 0, "weight_decay": 0, "nesterov": False, "dampening": 0},
    "RMSprop": {"lr": 1e-2, "momentum": 0, "weight_decay": 0},
}


def score_optimizers(check: OptimizerCheck, ctx: ModelContext,
                     steps: list[dict[str, Any]] | None = None,
                     network: tuple[str, Network] | None = None) -> CheckScore:
    """The settings built in the code (and not left unused there); with the kernel's
    step counts (``steps``), only those of an optimizer that stepped with gradients
    present, and (``network``: what the question's network's first layer is, and its
    weight's dimensions and input size) on that network."""
    code = read(ctx.cells)
    missing, idle, near = [], [], []
    # each constructor call answers the most specific setting it fits: SGD(lr=0.01,
    # momentum=0.9, nesterov=True) is the handout's Nesterov SGD, not also its plain one
    constructed = [call for call in code.calls
                   if any(_answers_class(s, call.name) for s in check.settings)]
    fits = {id(call): [s for s in check.settings if _fits(call, s)] for call in constructed}
    answers = {key: [s for s in found if len(s.kwargs) == max(len(f.kwargs) for f in found)]
               for key, found in fits.items() if found}
    # a notebook that writes its own training loop (zero_grad(), backward()) and never steps
    # an optimizer (the step commented out "as too slow") trained nothing with it, however
    # it was built; training in a helper module of the course's is not judged this way
    methods = {call.name for call in code.calls if call.method}
    stepped = "step" in methods or not {"zero_grad", "backward"} <= methods
    model, first = network if network is not None else (None, None)
    kept = _in_this_part(ctx, steps)
    stepped_settings = _stepped(check, kept or [], first)
    elsewhere = _stepped(check, steps or [], first) - stepped_settings \
        if kept is not steps else set()
    carried_on, carried = _carried_on(check, kept, first), []
    for setting in check.settings:
        built = [call for call in constructed if setting in answers.get(id(call), ())]
        args = ", ".join(f"{k}={v}" for k, v in setting.kwargs)
        if not built and setting in stepped_settings and _unread(code, setting.name):
            # built in a way the text cannot be read (settings from a loop's variables,
            # ``cls(params, **kw)`` over a list of classes): torch's own step, as the
            # kernel counted it, says which settings trained
            continue
        if not built:
            # a call that answers another setting exactly is that setting's, not this
            # one's near miss (plain SGD is not half of Nesterov SGD)
            spare = [call for call in constructed if id(call) not in answers]
            other = _near(check, setting, spare, code, kept, first) if stepped else None
            if other is not None:
                near.append(f"{setting.name}({args}): {other}")
                continue
            missing.append(f"{setting.name}({args})")
        elif not stepped:
            idle.append(f"{setting.name}({args}), never stepped (no optimizer.step() "
                        "anywhere in the notebook)")
        elif all(code.unused(call) for call in built):
            # built and assigned, then never read: nothing was trained with it
            idle.append(f"{setting.name}({args}) as `{built[0].bound_to}`")
        elif setting in elsewhere:
            idle.append(f"{setting.name}({args}) stepped only under another question's "
                        "heading: that trained for that question, not this one (whose own "
                        "part trained with other settings)")
        elif kept is not None and setting not in stepped_settings:
            least, most = max((floor(check, kept, r) for r in kept if isinstance(r, dict)
                               and r.get("class") == setting.name
                               and _trained(check, r, first) is not None),
                              default=(check.min_steps, 0))
            idle.append(f"{setting.name}({args}) never took "
                        + (f"{least} steps" if least > 1 else "a step")
                        + " with gradients"
                        + (f" on this question's network ({model})"
                           if model else "") + " while the notebook ran"
                        + (f" (a twentieth of the {most:,} another optimizer took on it: "
                           "a few steps before another optimizer takes over train nothing)"
                           if least > check.min_steps else ""))
        elif setting in carried_on:
            carried.append(f"{setting.name}({args})")
    if not missing and not idle and not near and not carried:
        return CheckScore(1.0, ["all the optimizer settings the handout lists are used"])
    found = len(check.settings) - len(missing) - len(idle) - (len(near) + len(carried)) / 2
    problem = code.problem()
    lines = ([f"no optimizer constructed as {', '.join(missing)}"] if missing else []) + \
        ([f"constructed but nothing was trained with it: {'; '.join(idle)}"] if idle else []) \
        + ([f"half the credit for each setting trained with the right optimizer and "
            f"learning rate, another setting otherwise: {'; '.join(near)}"] if near else []) \
        + ([f"half the credit for {', '.join(carried)}: trained on from exactly where "
            "another setting's run had left the network, so it was never trained from "
            "fresh weights (a comparison of optimizers starts each from new weights, or "
            "the same initial ones reloaded)"] if carried else [])
    return CheckScore(found / len(check.settings), [*lines, *([problem] if problem else [])],
                      Fault.ERRORED if problem else Fault.NONE)


def _near(check: OptimizerCheck, setting: Any, constructed: list[Call], code: Code,
          steps: list[dict[str, Any]] | None, first: Network | None) -> str | None:
    """How a used constructor call of the setting's optimizer, with its learning rate,
    sets another of its settings otherwise ("weight_decay=0 (not set)" where 1e-3 is
    asked): half the credit, as a TA gives a forgotten weight decay or momentum. A wrong
    learning rate or class is no near miss. None where no call is that near (or, with
    the kernel's counts, none that near stepped on the question's network)."""
    if len(setting.kwargs) < 2 or "lr" not in dict(setting.kwargs):
        return None
    want = dict(setting.kwargs)
    for call in constructed:
        defaults = OPTIMIZER_DEFAULTS.get(call.name, {})
        if not _answers_class(setting, call.name) or code.unused(call) or not _same(
                call.kwargs.get("lr", defaults.get("lr")), want["lr"]):
            continue
        off = [k for k, v in want.items() if k != "lr"
               and not _same(call.kwargs.get(k, defaults.get(k)), v)]
        if not off or any(call.kwargs.get(k) is UNKNOWN for k in off):
            continue
        if steps is not None and not any(
                settings is not None and _answers_class(setting, r.get("class"))
                and _same(settings.get("lr"), want["lr"])
                for r in steps if (settings := _trained(
                check, r, first, floor(check, steps, r)[0])) is not None):
            continue
        return ", ".join(f"{k}={call.kwargs.get(k, defaults.get(k))!r}"
                         + (" (not set)" if k not in call.kwargs else "")
                         + f" where {v!r} is asked" for k, v in want.items() if k in off)
    return None


def _carried_on(check: OptimizerCheck, kept: list[dict[str, Any]] | None,
                first: Network | None) -> set[Any]:
    """The settings (of a check comparing several) whose every run the kernel saw start
    from exactly the weights another setting's run had left: "continued" and never
    "fresh" (the kernel compares a run's first values with the other's last, so a model
    reset with load_state_dict(initial) starts fresh)."""
    if len(check.settings) < 2 or not kept:
        return set()
    on: set[Any] = set()
    fresh: set[Any] = set()
    for record in kept:
        only_carried = isinstance(record, dict) and record.get("continued") is True \
            and record.get("fresh") is not True
        (on if only_carried else fresh).update(_answered(check, record, kept, first))
    return on - fresh


def _in_this_part(ctx: ModelContext, steps: list[dict[str, Any]] | None
                  ) -> list[dict[str, Any]] | None:
    """The optimizers that may answer this question: where
    the question's own part (its heading's cells) stepped an optimizer, one stepped only
    in cells another question's heading claims answers that question, not this one (the
    Nesterov SGD a later part trains on permuted digits is no setting of the MLP's part).
    A part that trained nothing itself may have defined what a later cell trains: then
    every optimizer may answer it."""
    mine = next((cells for qid, cells in ctx.claimed
                 if ctx.question is not None and qid == ctx.question.id), frozenset())
    if not steps or not mine:
        return steps
    ran = sorted({r.index for r in ctx.records})

    def cells(record: Any) -> set[int]:
        after = record.get("after_cells") if isinstance(record, dict) else None
        after = after if isinstance(after, list) else []
        # each step was taken after the cell it names ran, so in the next cell that ran
        # (-1: before the watch knew of any cell, so in no cell it can name)
        return {next((i for i in ran if i > a), -1) for a in after or ()
                if isinstance(a, int) and not isinstance(a, bool) and a >= 0}

    where = [cells(record) for record in steps]
    if not any(c & mine for c in where):
        return steps
    others = ctx.claimed_elsewhere()
    return [record for record, c in zip(steps, where, strict=True)
            if c & mine or not c or not c <= others]


# the weights an optimizer of the question's network updates, as (dimensions, size of
# the second): its first layer's ((4, 3) for a convolution taking 3 channels), or its
# last linear layer's ((2, 512) for a head on 512 features: a frozen backbone's new head)
Network = tuple[tuple[int, int], ...]


# an optimizer under study takes a real share of the steps the part's training takes:
# six "warm-up" steps before another optimizer takes over the same network trained
# nothing (the four settings of one experiment differ by a few times at most)
MIN_SHARE = 1 / 20


def floor(check: OptimizerCheck, steps: list[dict[str, Any]], record: Any
          ) -> tuple[int, int]:
    """(the steps with gradients ``record``'s optimizer must take, the most an optimizer
    of the settings under study took on the same network: the same parameter shapes; a
    bonus part's long run with another optimizer sets no floor for them)."""
    shapes = _shapes(record)
    most = _most_by_shapes(check, steps).get(shapes, 0) if shapes is not None else 0
    return max(check.min_steps, math.ceil(MIN_SHARE * most)), most


# the last table made: a question's scorers ask for every record of the same list (the
# entry holds the list, so its identity cannot be reused while it is cached)
_LAST_MOST: tuple[Any, Any, dict[Any, int]] = (None, None, {})


def _most_by_shapes(check: OptimizerCheck, steps: list[dict[str, Any]]) -> dict[Any, int]:
    """The most steps with gradients an optimizer of the settings under study took, by
    the shapes of the parameters it stepped."""
    global _LAST_MOST
    last = _LAST_MOST
    if last[0] is check and last[1] is steps:
        return last[2]
    # an optimizer's runs taken on from another setting's weights are kept apart from
    # its fresh ones (the kernel's "continued"): together they are what it took
    summed: dict[Any, int] = {}
    for r in steps:
        shapes = _shapes(r)
        if shapes is not None and _studied(check, r):
            settings = r.get("settings")
            same = (shapes, str(r.get("class")), repr(sorted(settings.items()))
                    if isinstance(settings, dict) else "")
            summed[same] = summed.get(same, 0) + _count(r.get("with_grad"))
    table: dict[Any, int] = {}
    for (shapes, _, _), count in summed.items():
        table[shapes] = max(table.get(shapes, 0), count)
    _LAST_MOST = (check, steps, table)
    return table


def _studied(check: OptimizerCheck, record: dict[str, Any]) -> bool:
    settings = _trained(check, record, None)
    return settings is not None and bool(_fitting(check, settings, record))


def _answers_class(setting: Any, name: Any) -> bool:
    """An optimizer of class ``name`` is one of the setting's class: AdamW is Adam with
    weight decay (decoupled, as torch's Adam documents it) where the handout asks for
    Adam with weight decay."""
    return name == setting.name or (
        setting.name == "Adam" and name == "AdamW"
        and any(k == "weight_decay" and isinstance(v, int | float) and v > 0
                for k, v in setting.kwargs))


def _fitting(check: OptimizerCheck, settings: dict[str, Any], record: Any) -> list[Any]:
    """The check's settings the record's optimizer class and settings answer."""
    name = record.get("class")
    return [s for s in check.settings if _answers_class(s, name) and all(
        _same(settings.get(k, OPTIMIZER_DEFAULTS.get(str(name), {}).get(k)), v)
        for k, v in s.kwargs)]


def _shapes(record: Any) -> tuple[tuple[int, ...], ...] | None:
    """A step record's parameter shapes, as plain whole numbers only (the kernel may send
    anything)."""
    shapes = record.get("shapes") if isinstance(record, dict) else None
    if not isinstance(shapes, list) or not all(
            isinstance(s, list) and all(type(v) is int for v in s) for s in shapes):
        return None
    return tuple(tuple(s) for s in shapes)


def _stepped(check: OptimizerCheck, steps: list[dict[str, Any]],
             first: Network | None) -> set[Any]:
    """The settings answered by an optimizer the kernel saw step with gradients (each
    answering its most specific setting, as a constructor call does), as often as the
    training of its network calls for (``floor``)."""
    answered: set[Any] = set()
    for record in steps:
        answered.update(_answered(check, record, steps, first))
    return answered


def _answered(check: OptimizerCheck, record: Any, steps: list[dict[str, Any]],
              first: Network | None) -> list[Any]:
    """The most specific of the check's settings the record's optimizer trained with."""
    settings = _trained(check, record, first, floor(check, steps, record)[0])
    if settings is None:
        return []
    fits = _fitting(check, settings, record)
    most = max((len(f.kwargs) for f in fits), default=0)
    return [f for f in fits if len(f.kwargs) == most]


def _trained(check: OptimizerCheck, record: Any, first: Network | None,
             least: int = 0) -> dict[str, Any] | None:
    """The settings of an optimizer the kernel saw take the check's steps (or ``least``)
    with gradients (on the question's network, where ``first`` names its first layer),
    read as plain numbers only (the kernel may send anything); None for any other
    record."""
    if not isinstance(record, dict) or \
            _count(record.get("with_grad")) < max(1, check.min_steps, least) or \
            _count(record.get("undone")) >= _count(record.get("with_grad")):
        # (``undone``: steps whose weights were loaded back before the next one; as many
        # as counted, or more, and the optimizer trained nothing)
        return None
    shapes = [s for s in record.get("shapes") or () if isinstance(s, list)
              and all(_count(v) or v == 0 for v in s)] \
        if isinstance(record.get("shapes"), list) else []
    if first is not None and not any(len(s) > 1 and (len(s), s[1]) in first
                                     for s in shapes):
        return None
    given = record.get("settings")
    return {k: v for k, v in given.items() if isinstance(v, bool | int | float)} \
        if isinstance(given, dict) else {}


def _unread(code: Code, name: str) -> bool:
    """The code builds an optimizer the static reading cannot settle: ``name(...)`` with
    a setting that is no literal (``lr=lr`` in a loop over settings) or ``**kwargs``, or
    a class held in a variable, or looked up where it is called, called with
    ``**kwargs`` (``opt_cls(p, **kw)``, ``getattr(torch.optim, cfg["cls"])(p, **kw)``,
    ``{"sgd": optim.SGD}[name](p, **kw)``)."""
    for call in code.calls:
        dynamic = any(v is UNKNOWN for v in call.kwargs.values()) or "None" in call.kwargs
        if call.name == name and dynamic:
            return True
        if "None" in call.kwargs and not call.method and (not call.name or (
                call.name not in code.defined and call.name not in OPTIMIZER_DEFAULTS
                and call.name[:1].islower())):
            return True
    return False


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want or (got == want and type(got) is type(want))
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    return bool(got == want)


def _fits(call: Call, setting: Any) -> bool:
    defaults = OPTIMIZER_DEFAULTS.get(call.name, {})
    return _answers_class(setting, call.name) and all(
        call.kwargs.get(k, defaults.get(k)) == v for k, v in setting.kwargs)


def _mode(call: Call) -> str:
    # ``model.train(False)`` (or mode=False) switches to evaluation: it is an eval()
    if call.name == "train" and (call.args[:1] == (False,) or call.kwargs.get("mode") is False):
        return "eval"
    return call.name


def score_calls(check: CallsCheck, ctx: ModelContext) -> CheckScore:
    # the calls may stand anywhere (in the training helpers an earlier part defined), but
    # only for a question the notebook answers: the MNIST part's train() is no answer to
    # a VGG bonus the notebook left out
    section = ctx.section(None)
    if ctx.claimed_elsewhere() and (not section.found or section.how == "whole notebook"):
        return CheckScore(0.0, ["found no part of your notebook that answers this question "
                                "(its heading or prompt): "
                                f"{', '.join(f'{n}()' for n in check.calls)} elsewhere "
                                "answer other questions"])
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
