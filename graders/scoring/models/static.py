"""Checks of what the notebook shows and writes, without running it again: plots under a
question's section, optimizer settings in its code."""

from __future__ import annotations

import contextlib
from typing import Any

from graders.results import CellSummary
from graders.scoring.function import CheckScore
from graders.scoring.models.context import (
    ModelContext,
)
from graders.spec import (
    OptimizerCheck,
    PlotCheck,
)


def score_plot(check: PlotCheck, ctx: ModelContext) -> CheckScore:
    section = ctx.section(check.section)
    images = sum(c.images for c in section.cells)
    where = "this question's part of the notebook" if section.found else "the notebook"
    notes = [section.note] if section.note else []
    if images >= check.min_images:
        return CheckScore(1.0, [f"{images} plot(s) in {where} (kept for your instructor)",
                                *notes])
    return CheckScore(0.0, [f"expected at least {check.min_images} plot(s) in {where}; "
                            f"found {images}", *notes])


def _constructed(cells: list[CellSummary]) -> list[tuple[str, dict[str, Any]]]:
    """(class name, literal keyword arguments) of every call in the code cells."""
    import ast

    calls = []
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            kwargs: dict[str, Any] = {}
            for kw in node.keywords:
                try:
                    kwargs[str(kw.arg)] = ast.literal_eval(kw.value)
                except (ValueError, TypeError, SyntaxError):
                    continue
            if len(node.args) > 1 and "lr" not in kwargs:  # SGD(params, 0.01)
                with contextlib.suppress(ValueError, TypeError, SyntaxError):
                    kwargs["lr"] = ast.literal_eval(node.args[1])
            calls.append((name, kwargs))
    return calls


def score_optimizers(check: OptimizerCheck, ctx: ModelContext) -> CheckScore:
    calls = _constructed([c for c in ctx.cells if c.kind == "code"])
    missing = []
    for setting in check.settings:
        want = dict(setting.kwargs)
        if not any(name == setting.name and all(kwargs.get(k) == v for k, v in want.items())
                   for name, kwargs in calls):
            args = ", ".join(f"{k}={v}" for k, v in setting.kwargs)
            missing.append(f"{setting.name}({args})")
    if not missing:
        return CheckScore(1.0, ["all the optimizer settings the handout lists are used"])
    found = sum(1 for _ in check.settings) - len(missing)
    return CheckScore(found / len(check.settings),
                      [f"no optimizer constructed as {', '.join(missing)}"])
