"""What a cell's figures draw, read from its code on the host: curves (``plot``,
``semilogy``, ...), pictures (``imshow``, ...) or other charts, counted by drawing call
rather than by figure, so two panels of one figure are two curves and a picture of digits
is not a loss curve. The kernel is not asked: it could describe figures it never drew."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from graders.results import CellSummary
from graders.scoring.models.code import definitions, python
from graders.spec import Drawing

CURVE_CALLS = frozenset({"plot", "semilogy", "semilogx", "loglog", "errorbar", "step",
                         "lineplot", "relplot", "plot_date", "stairs"})
PICTURE_CALLS = frozenset({"imshow", "matshow", "pcolormesh", "pcolor", "spy", "heatmap",
                           "imshow_grid"})
OTHER_CALLS = frozenset({"bar", "barh", "hist", "scatter", "pie", "boxplot", "violinplot",
                         "barplot", "histplot", "scatterplot", "contour", "contourf"})
# a function the notebook did not define (a course helper, an import) whose name says it
# draws: what it draws cannot be read here, so its figures count for any kind
_DRAWING_NAME = re.compile(r"(?i)plot|show|curve|draw|visuali|display_images")


@dataclass(frozen=True)
class Drawn:
    curves: int = 0
    pictures: int = 0
    other: int = 0
    helpers: tuple[str, ...] = ()  # drawing helpers the notebook does not define

    def count(self, kind: Drawing) -> int:
        return {Drawing.CURVES: self.curves, Drawing.PICTURES: self.pictures,
                Drawing.ANY: self.curves + self.pictures + self.other}[kind]


def drawn(cells: Sequence[CellSummary], cell: CellSummary) -> Drawn:
    """The drawing calls of ``cell`` and of the notebook's own functions it calls
    (transitively, as defined by that cell)."""
    every: dict[str, str] = {}
    for c in cells:
        if c.kind == "code" and c.index <= cell.index:
            every.update(definitions(c.source))
    curves = pictures = other = 0
    helpers: list[str] = []
    seen: set[str] = set()
    pending = [cell.source]
    while pending and len(seen) < 30:
        names, called = _calls(pending.pop())
        curves += names.count("c")
        pictures += names.count("p")
        other += names.count("o")
        for name in called:
            if name in seen:
                continue
            seen.add(name)
            if name in every:
                pending.append(every[name])
            elif _DRAWING_NAME.search(name):
                helpers.append(name)
    return Drawn(curves, pictures, other, tuple(helpers))


@lru_cache(maxsize=1024)
def _calls(source: str) -> tuple[str, tuple[str, ...]]:
    """("c"/"p"/"o" per drawing call, names of the bare functions called)."""
    code = python(source)
    if code is None:
        return "", ()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "", ()
    kinds, called = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name in CURVE_CALLS:
            kinds.append("c")
        elif name in PICTURE_CALLS:
            kinds.append("p")
        elif name in OTHER_CALLS:
            kinds.append("o")
        elif isinstance(node.func, ast.Name):
            called.append(name)
    return "".join(kinds), tuple(called)


def shown(cells: Sequence[CellSummary], cell: CellSummary, figures: int,
          kind: Drawing) -> int:
    """How many drawings of ``kind`` the cell's ``figures`` (shown or saved) hold: one
    drawing call is at least one drawing, and figures beyond the cell's drawing calls of
    other kinds hold this kind too (a ``plot`` in a loop draws one per figure)."""
    if figures <= 0:
        return 0
    what = drawn(cells, cell)
    if kind is Drawing.ANY:
        return max(what.count(kind), figures)
    found = what.count(kind)
    if found:
        return max(found, figures - (what.count(Drawing.ANY) - found))
    # drawn by code the host cannot read (a course helper): given the benefit of it
    return figures if what.helpers else 0
