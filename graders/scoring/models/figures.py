"""What a cell's figures draw, read from its code on the host: curves (``plot``,
``semilogy``, ...), pictures (``imshow``, ...) or other charts, counted by drawing call
rather than by figure, so two panels of one figure are two curves and a picture of digits
is not a loss curve. The kernel's summary of the figures it showed (``plotted``) can only
take a curve away: a flat line is no curve of training. It is never asked to add one, as
it could describe figures it never drew."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

from graders.results import CellSummary
from graders.scoring.models.code import definitions, index, python, walked
from graders.spec import Drawing

# a curve's (finite points, lowest, highest, sum: None where the kernel sent none)
Span = tuple[int, float, float, float | None]

CURVE_CALLS = frozenset({"plot", "semilogy", "semilogx", "loglog", "errorbar", "step",
                         "lineplot", "relplot", "plot_date", "stairs"})
PICTURE_CALLS = frozenset({"imshow", "matshow", "pcolormesh", "pcolor", "spy", "heatmap",
                           "imshow_grid"})
OTHER_CALLS = frozenset({"bar", "barh", "hist", "scatter", "pie", "boxplot", "violinplot",
                         "barplot", "histplot", "scatterplot", "contour", "contourf"})
# a function the notebook did not define (a course helper, an import, a trainer's method)
# whose name says it draws: what it draws cannot be read here, so its name decides
_DRAWING_NAME = re.compile(r"(?i)plot|show|curve|draw|visuali|display_images")
_PICTURE_NAME = re.compile(r"(?i)image|img|picture|grid|sample|digit|example|predict")
_CURVE_NAME = re.compile(r"(?i)curve|loss|history|learning|accurac|metric|train")
# matplotlib's and IPython's own calls: they show what other calls drew
_PLUMBING = frozenset({"show", "display", "draw", "draw_idle", "savefig", "figure",
                       "subplots", "subplot", "set_visible", "show_config", "display_data"})
# ``df.plot(kind="bar")`` draws no line
_NOT_LINES = frozenset({"bar", "barh", "hist", "pie", "scatter", "box", "kde", "density",
                        "area", "hexbin"})


@dataclass(frozen=True)
class Drawn:
    curves: int = 0
    pictures: int = 0
    other: int = 0
    helpers: tuple[str, ...] = ()  # drawing helpers the notebook does not define

    def count(self, kind: Drawing) -> int:
        return {Drawing.CURVES: self.curves, Drawing.PICTURES: self.pictures,
                Drawing.ANY: self.curves + self.pictures + self.other}[kind]

    def helps(self, kind: Drawing) -> bool:
        """A helper whose name fits ``kind`` (or names no kind in particular)."""
        for name in self.helpers:
            picture, curve = _PICTURE_NAME.search(name), _CURVE_NAME.search(name)
            if kind is Drawing.ANY or (picture is None and curve is None) or (
                    picture if kind is Drawing.PICTURES else curve):
                return True
        return False


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
        counts, called = _calls(pending.pop())
        curves, pictures, other = curves + counts[0], pictures + counts[1], other + counts[2]
        for name in called:
            if name in seen:
                continue
            seen.add(name)
            if name in every:
                pending.append(every[name])
            elif name not in _PLUMBING and _DRAWING_NAME.search(name):
                helpers.append(name)
    return Drawn(curves, pictures, other, tuple(helpers))


@lru_cache(maxsize=1024)
def _calls(source: str) -> tuple[tuple[int, int, int], tuple[str, ...]]:
    """(curves, pictures, other charts) drawn, a drawing call in a loop counting two (it
    draws once per pass); and the names of the other functions and methods called."""
    code = python(source)
    if code is None:
        return (0, 0, 0), ()
    cell_index = index(code)
    counts = [0, 0, 0]
    called: list[str] = []
    # in the order of the text; a call's weight is 2 inside a loop
    for node in sorted(cell_index.of(ast.Call), key=lambda n: (n.lineno, n.col_offset)):
        kind = _kind(node)
        if kind is None:
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name:
                called.append(name)
        else:
            counts[kind] += 2 if id(node) in cell_index.looped else 1
    return (counts[0], counts[1], counts[2]), tuple(called)


def _kind(call: ast.Call) -> int | None:
    """0 a curve, 1 a picture, 2 another chart, None not a drawing call."""
    name = getattr(call.func, "attr", getattr(call.func, "id", ""))
    if name == "plot":
        style = next((k.value for k in call.keywords if k.arg == "kind"), None)
        if isinstance(style, ast.Constant) and style.value in _NOT_LINES:
            return 2
        return 0
    if name in CURVE_CALLS:
        return 0
    if name in PICTURE_CALLS:
        return 1
    if name in OTHER_CALLS:
        return 2
    return None


def shown(cells: Sequence[CellSummary], cell: CellSummary, figures: int,
          kind: Drawing) -> int:
    """How many drawings of ``kind`` the cell's ``figures`` (shown or saved) hold: one
    drawing call is at least one drawing, and figures beyond the cell's drawing calls of
    other kinds hold this kind too (a ``plot`` in a loop draws one per figure). A figure
    drawn by no call at all (a PIL image shown as it is) is a picture."""
    if figures <= 0:
        return 0
    what = drawn(cells, cell)
    total = what.count(Drawing.ANY)
    if kind is Drawing.ANY:
        return max(total, figures)
    found = what.count(kind)
    if found:
        return max(found, figures - (total - found))
    if what.helps(kind):
        return figures  # drawn by code the host cannot read: given the benefit of it
    if kind is Drawing.PICTURES and total == 0 and not what.helpers:
        return figures
    return 0


# ----------------------------------------------------------- what the kernel saw plotted
_FLAT = 1e-9  # relative spread under which a line is one value drawn again and again
# a flat line must have this many points: an accuracy can stay put for two or three
# epochs (saturated, or a collapsed model's), while a learning rate drawn per step or
# per epoch has many
MIN_FLAT_POINTS = 5


@dataclass(frozen=True)
class Plotted:
    """What the figures one cell showed plot, as the kernel summarised them."""

    changing: int  # curves whose values change, or that cannot be judged (few points)
    flat: tuple[float, ...]  # the value of each flat curve (every point the same)
    complete: bool = True  # False: some figure went past the kernel's caps
    # each changing curve's (finite points, lowest, highest), where the kernel said (what
    # a curve drew, not what the cell's figures were: not compared)
    spans: tuple[Span, ...] = field(default=(), compare=False)

    def typed_in(self, literals: frozenset[Span]) -> int:
        """How many of the changing curves draw a list of numbers written in the code
        (as many points, the same lowest, highest and sum): a history typed in, not
        recorded. (A summary without a sum, from an older kernel, is read by the rest.)"""
        def drawn(span: Span) -> bool:
            return any(span[:3] == literal[:3] and (span[3] is None or literal[3] is None or
                       math.isclose(span[3], literal[3], rel_tol=1e-6, abs_tol=1e-9))
                       for literal in literals)
        return sum(1 for span in self.spans if drawn(span))

    @property
    def curves(self) -> int:
        return self.changing + len(self.flat)

    def empty(self) -> bool:
        """The cell's figures, all summarised, hold no line of two points or more (a
        loop over an empty dict of histories draws axes and nothing on them)."""
        return self.complete and self.curves == 0

    def all_flat(self, counted: int) -> bool:
        """Whether the cell's ``counted`` curves (as its code counts them) are all flat
        lines: every curve the kernel saw is flat, and it saw at least as many (a kind
        it does not summarise, such as ``stairs``, is then not judged)."""
        return self.complete and bool(self.flat) and self.changing == 0 \
            and self.curves >= counted


def plotted(payload: Any, ran: Iterable[int]) -> dict[int, Plotted]:
    """The kernel's figure summaries (``{"figures": [...]}``), by the cell that showed
    them: each was shown after the cell it names ran, so during the next cell that ran.
    Anything that does not fit the shape is left out: what is missing is not judged."""
    order = sorted(set(ran))
    figures = payload.get("figures") if isinstance(payload, dict) else None
    found: dict[int, tuple[int, list[float], bool]] = {}
    spans: dict[int, list[Span]] = {}
    for figure in figures if isinstance(figures, list) else ():
        if not isinstance(figure, dict) or not isinstance(figure.get("axes"), list):
            continue
        after = figure.get("after_cell")
        if not isinstance(after, int) or isinstance(after, bool):
            continue
        cell = next((i for i in order if i > after), None)
        if cell is None:
            continue
        changing, flat, complete = found.get(cell, (0, [], True))
        complete = complete and figure.get("truncated") is not True
        for axes in figure["axes"]:
            curves = axes.get("curves") if isinstance(axes, dict) else None
            for curve in curves if isinstance(curves, list) else ():
                finite = curve.get("finite") if isinstance(curve, dict) else None
                if isinstance(finite, int) and finite < 1:
                    continue  # no line at all: an empty history drawn
                value = _flat(curve)
                if value is None:
                    changing += isinstance(curve, dict)
                    span = _span(curve)
                    if span is not None:
                        total = curve.get("sum")
                        spans.setdefault(cell, []).append(
                            (*span, float(total) if _real(total) else None))
                else:
                    flat.append(value)
        found[cell] = (changing, flat, complete)
    return {cell: Plotted(changing, tuple(flat), complete, tuple(spans.get(cell, ())))
            for cell, (changing, flat, complete) in found.items()}


def _span(curve: Any) -> tuple[int, float, float] | None:
    """A curve's (finite points, lowest, highest), where the kernel sent them as numbers
    and it has three points or more; None for anything else."""
    if not isinstance(curve, dict):
        return None
    finite, lo, hi = curve.get("finite"), curve.get("lo"), curve.get("hi")
    if isinstance(finite, int) and not isinstance(finite, bool) and finite >= 3 \
            and _real(lo) and _real(hi):
        return finite, float(lo), float(hi)
    return None


def literal_spans(cells: Sequence[CellSummary]) -> frozenset[Span]:
    """Each list or tuple of three numbers or more written in the notebook's code, as
    (length, lowest, highest, sum): what a curve drawn from it spans."""
    found = set()
    for cell in cells:
        source = python(cell.source) if cell.kind == "code" else None
        cell_index = walked(source) if source else None
        sequences: list[ast.List | ast.Tuple] = [
            *cell_index.of(ast.List), *cell_index.of(ast.Tuple)] if cell_index else []
        for node in sequences:
            if len(node.elts) >= 3:
                values = [_number(e) for e in node.elts]
                if all(v is not None for v in values):
                    numbers = [v for v in values if v is not None]
                    found.add((len(numbers), float(min(numbers)), float(max(numbers)),
                               math.fsum(numbers)))
    return frozenset(found)


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
            and not isinstance(node.value, bool) and math.isfinite(node.value):
        return float(node.value)
    return None


def _flat(curve: Any) -> float | None:
    """The one value a flat curve draws (MIN_FLAT_POINTS finite points or more, all the
    same); None for a curve that changes or cannot be judged."""
    span = _span(curve)
    if span is None or span[0] < MIN_FLAT_POINTS:
        return None
    _, lo, hi = span
    return lo if hi - lo <= _FLAT * max(abs(lo), abs(hi)) else None


def _real(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
