"""Checks of what the notebook shows and writes, without running it again: plots under a
question's section, optimizer settings in its code."""

from __future__ import annotations

import ast
import contextlib
from typing import Any

from graders.results import CellSummary
from graders.scoring.function import CheckScore
from graders.scoring.models.context import (
    ModelContext,
)
from graders.spec import (
    CallsCheck,
    OptimizerCheck,
    PlotCheck,
)


def score_plot(check: PlotCheck, ctx: ModelContext) -> CheckScore:
    section = ctx.section(check.section)
    images = sum(c.images for c in section.cells)
    if check.saved:
        ran = {r.index for r in ctx.records if r.status.value == "ok"}
        images += sum(_savefig_calls(c.source) for c in section.cells
                      if c.kind == "code" and c.index in ran)
    where = "this question's part of the notebook" if section.found else "the notebook"
    notes = [section.note] if section.note else []
    if images >= check.min_images:
        return CheckScore(1.0, [f"{images} plot(s) in {where} (kept for your instructor)",
                                *notes])
    return CheckScore(0.0, [f"expected at least {check.min_images} plot(s) in {where}; "
                            f"found {images}", *notes])


# torch.optim's defaults: Adam(params) is Adam with lr=1e-3, as the handout may ask
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "Adam": {"lr": 1e-3, "weight_decay": 0, "amsgrad": False},
    "AdamW": {"lr": 1e-3, "weight_decay": 1e-2},
    "SGD": {"momentum": 0, "weight_decay": 0, "nesterov": False, "dampening": 0},
    "RMSprop": {"lr": 1e-2, "momentum": 0, "weight_decay": 0},
}


def _literal(node: ast.AST, constants: dict[str, Any]) -> Any:
    """A literal, or a name bound to one earlier (``lr = 1e-3`` ... ``lr=lr``)."""
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return ast.literal_eval(node)


def _constructed(cells: list[CellSummary]) -> list[tuple[str, dict[str, Any]]]:
    """(class or function name, literal keyword arguments) of every call in the code
    cells; a keyword given as a constant's name (``lr=LEARNING_RATE``) is resolved."""
    calls = []
    constants: dict[str, Any] = {}
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for statement in tree.body:
            if isinstance(statement, ast.Assign):
                with contextlib.suppress(ValueError, TypeError, SyntaxError):
                    value = _literal(statement.value, constants)
                    for target in statement.targets:
                        if isinstance(target, ast.Name):
                            constants[target.id] = value
            for node in ast.walk(statement):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                kwargs: dict[str, Any] = {}
                for kw in node.keywords:
                    with contextlib.suppress(ValueError, TypeError, SyntaxError):
                        kwargs[str(kw.arg)] = _literal(kw.value, constants)
                if len(node.args) > 1 and "lr" not in kwargs:  # SGD(params, 0.01)
                    with contextlib.suppress(ValueError, TypeError, SyntaxError):
                        kwargs["lr"] = _literal(node.args[1], constants)
                calls.append((name, kwargs))
    return calls


def score_optimizers(check: OptimizerCheck, ctx: ModelContext) -> CheckScore:
    calls = _constructed([c for c in ctx.cells if c.kind == "code"])
    missing = []
    for setting in check.settings:
        want = dict(setting.kwargs)
        defaults = OPTIMIZER_DEFAULTS.get(setting.name, {})
        if not any(name == setting.name and all(
                kwargs.get(k, defaults.get(k)) == v for k, v in want.items())
                for name, kwargs in calls):
            args = ", ".join(f"{k}={v}" for k, v in setting.kwargs)
            missing.append(f"{setting.name}({args})")
    if not missing:
        return CheckScore(1.0, ["all the optimizer settings the handout lists are used"])
    found = sum(1 for _ in check.settings) - len(missing)
    return CheckScore(found / len(check.settings),
                      [f"no optimizer constructed as {', '.join(missing)}"])


def score_calls(check: CallsCheck, ctx: ModelContext) -> CheckScore:
    called = {name for name, _ in _constructed([c for c in ctx.cells if c.kind == "code"])}
    missing = [name for name in check.calls if name not in called]
    if not missing:
        return CheckScore(1.0, [f"{', '.join(f'{n}()' for n in check.calls)} used"])
    why = f" ({check.why})" if check.why else ""
    return CheckScore(1.0 - len(missing) / len(check.calls),
                      [f"{', '.join(f'{n}()' for n in missing)} never called{why}"])


def _savefig_calls(source: str) -> int:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return 0
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
               and getattr(node.func, "attr", getattr(node.func, "id", "")) == "savefig")
