"""Value answers scored against the reference's value, read where a TA would read them.

Sightings of an answer are gathered in order of authority: the variables the spec names,
the last expressions of the answer's cells, then lines of markdown, comments and printed
text that state it ("(c) ... = 5,133,600 multiply-adds"). Where the student declares the
answer ("**Answer:** 1,800"; struck-out text withdrawn), the last declaration alone is
the answer; otherwise the first sighting that matches earns the points. When none does,
the feedback quotes the first one, and the answer key (what was expected) is kept apart,
for students to see once results are released.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np

from graders.errors import SpecError
from graders.results import CellSummary, ProbeRecord
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.code import definitions, finite_difference, parse, python, walk
from graders.scoring.models.context import ModelContext, _payload
from graders.scoring.sections import prompt_cell, quotes
from graders.spec import AnswerForm, ValueCheck

_REGION_CELLS = 8
_NUM = (r"[-+\u2212]?(?:\d{1,3}(?:[,\u2009\u202f]\d{3})+|\d+)(?:\.\d+)?|[-+\u2212]?\.\d+")
_EXP = r"(?:\s*[eE][-+]?\d+|\s*(?:x|\u00d7|\*|\\times|\\cdot)\s*10\s*\^\s*\{?\s*[-+]?\d+\s*\}?)?"
_SCALE = r"(?:\s*(?:million|billion|thousand)\b)?"
# 0,1411 or -13,7240: a decimal comma (German, French), never a thousands group of 3
_DECIMAL_COMMA = r"(?<![\d,])[-+\u2212]?(?:0,\d+|\d+,(?:\d{1,2}|\d{4,}))(?![\d,])"
NUMBER = re.compile(rf"(?<![\w.{{\\])(?:{_DECIMAL_COMMA}|{_NUM}){_EXP}(?![\w]){_SCALE}")
# a count has no decimals: "3,10" there is two numbers, not 3.1
WHOLE = re.compile(rf"(?<![\w.{{\\])(?:{_NUM}){_EXP}(?![\w]){_SCALE}")
_ITEM = rf"(?:{_NUM})"
SEQUENCE = re.compile(
    rf"[(\[]\s*{_ITEM}(?:\s*,\s*{_ITEM})+\s*,?\s*[)\]]"
    rf"|(?<![\w.]){_ITEM}(?:\s*(?:x|\u00d7|\\times)\s*{_ITEM})+(?![\w.]|\s*\^)")


_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}


@dataclass(frozen=True)
class Sighting:
    where: str  # for feedback: "`Z_shape`", "the output of cell 4", "cell 3's text"
    value: Any
    name: str | None = None  # the variable that holds it, when one does


# ------------------------------------------------------------------ reading values
def parse_number(text: str) -> float | None:
    """A number as people write it: 5133600, 5,133,600, 5.1336e6, 5.1336 x 10^6."""
    match = NUMBER.fullmatch(text.strip().rstrip(".;"))
    return _number_of(match.group(0)) if match else None


def _number_of(token: str, decimal_comma: bool = True) -> float | None:
    scale = re.search(r"\s*(million|billion|thousand)$", token)
    if scale:
        base = _number_of(token[:scale.start()])
        return None if base is None else base * _SCALES[scale.group(1)]
    if decimal_comma and re.fullmatch(_DECIMAL_COMMA, token.strip()):
        token = token.replace(",", ".")
    token = token.replace("\u2212", "-").replace(",", "").replace("\u2009", "") \
        .replace("\u202f", "")
    power = re.search(r"(?:x|\u00d7|\*|\\times|\\cdot)\s*10\s*\^\s*\{?\s*([-+]?\d+)", token)
    try:
        if power:
            mantissa = token[:power.start()].strip()
            return float(mantissa) * 10.0 ** int(power.group(1))
        return float(token.replace(" ", ""))
    except ValueError:
        return None


def parse_sequence(text: str) -> tuple[float, ...] | None:
    match = SEQUENCE.fullmatch(text.strip().rstrip(".;"))
    return _sequence_of(match.group(0)) if match else None


def _sequence_of(token: str) -> tuple[float, ...] | None:
    parts = re.split(r"\s*(?:,|x|\u00d7|\\times)\s*", token.strip("()[] \t"))
    numbers = [_number_of(p) for p in parts if p]
    return tuple(n for n in numbers if n is not None) \
        if numbers and None not in numbers else None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.size == 1 and value.dtype.kind in "biuf":
            return float(value.reshape(-1)[0])
        return None
    if isinstance(value, list | tuple) and len(value) == 1:
        return as_number(value[0])
    if isinstance(value, str):
        return parse_number(value)
    return None


def as_sequence(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.dtype.kind in "biuf":
            return tuple(float(v) for v in value)
        return None
    if isinstance(value, list | tuple):
        numbers = [as_number(v) for v in value]
        return tuple(numbers) if numbers and None not in numbers else None  # type: ignore[arg-type]
    if isinstance(value, str):
        return parse_sequence(value)
    return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"[^a-z0-9]+", "", value.lower())


def matches(check: ValueCheck, expected: Any, got: Any) -> bool:
    """Whether ``got`` is the answer (or one the spec also accepts), in any equivalent
    form: a tuple, list or array for a shape; an int, a float or a written number."""
    tol = check.tolerance
    for want in (expected, *check.accept):
        if check.form is AnswerForm.TEXT:
            if _text(got) is not None and _text(got) == _text(str(want)):
                return True
            continue
        if check.form is AnswerForm.SEQUENCE:
            a, b = as_sequence(got), as_sequence(want)
            if a is not None and b is not None and len(a) == len(b) and all(
                    math.isclose(x, y, rel_tol=tol.rtol, abs_tol=tol.atol)
                    for x, y in zip(a, b, strict=True)):
                return True
            continue
        x, y = as_number(got), as_number(want)
        if x is not None and y is not None and math.isclose(x, y, rel_tol=tol.rtol,
                                                              abs_tol=tol.atol):
            return True
    return False


def describe(value: Any, form: AnswerForm) -> str:
    if form is AnswerForm.COUNT and (n := as_number(value)) is not None and n == int(n):
        return f"{int(n):,}"
    if form is AnswerForm.SEQUENCE and (s := as_sequence(value)) is not None:
        return "(" + ", ".join(f"{v:g}" for v in s) + ")"
    if form is AnswerForm.NUMBER and (n := as_number(value)) is not None:
        return f"{n:.6g}"
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=20, precision=6)
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def reference_value(check: ValueCheck, solution: ModuleType) -> Any:
    value = getattr(solution, check.reference, None)
    if value is None:
        raise SpecError(f"the reference solution has no {check.reference!r}")
    return value() if callable(value) else value


# ------------------------------------------------------------- where answers are
def region(check: ValueCheck, ctx: ModelContext) -> tuple[list[CellSummary], bool]:
    """The answer's cells: from its own prompt to the next heading (or the next prompt of
    the same question), else the question's section. The flag: whether it was found."""
    cells = ctx.cells
    if check.prompt:
        start = prompt_cell(cells, check.prompt)
        if start is not None:
            others = [c.prompt for c in (ctx.question.checks if ctx.question else ())
                      if type(c) is type(check) and c.prompt and c.prompt != check.prompt]
            found = [cells[start]]
            for cell in cells[start + 1:start + 1 + _REGION_CELLS]:
                if cell.heading or (cell.kind == "markdown" and any(
                        quotes(cell, p) for p in others)):
                    break
                found.append(cell)
            return found, True
    section = ctx.section(None)
    found = list(section.cells)
    if section.how == "prompt" and section.start is not None and not section.start.heading:
        # a prompt in running text: its answer ends where the next heading, or the next
        # question's prompt ("(b) What are ..."), starts
        own = ctx.question.prompt if ctx.question else None
        others = [p for p in ctx.prompts if p != own]
        ends = [i for i, c in enumerate(found) if c.heading or (c.kind == "markdown" and any(
            quotes(c, p) for p in others))]
        found = found[:ends[0]] if ends else found
    return ([section.start] if section.start else []) + found, section.found


def _lines(cell: CellSummary) -> list[tuple[str, bool]]:
    """(line, written by hand) for what a cell says: markdown and code comments are
    written; printed output is shown."""
    if cell.kind == "markdown":
        return [(_withdrawn(line), True) for line in cell.markdown.splitlines()]
    comments = [(_withdrawn(line.split("#", 1)[1]), True) for line in cell.source.splitlines()
                if line.lstrip().startswith("#")]
    return comments + [(line, False) for line in cell.text.splitlines()]


def _withdrawn(line: str) -> str:
    """The written line without what the student withdrew: a value struck out, and a
    sentence that states one only to dismiss it ("with a bias per filter it would be
    1,820, but the bias is not trained")."""
    line = _STRUCK.sub(" ", line)
    return " ".join(" " if _DISMISSED.search(sentence) else sentence
                    for sentence in re.split(r"(?<=[.!?;])\s+", line))


# ~~5,133,600~~, <del>...</del>: a value the student struck out is withdrawn
_STRUCK = re.compile(r"~~.*?~~|<(del|s|strike)>.*?</\1>", re.IGNORECASE)
# a conditional set aside in the same sentence: "it would be X, but ..."
_DISMISSED = re.compile(r"\bwould\b.*\b(?:but|however)\b", re.IGNORECASE)
# where a line declares the student's own answer: "**Answer (d):** 1,800", "so my
# answer is 256,680" (not a prompt's "give your answer to 3 decimals")
# "**Answer:** 1,820": under a prompt that asks for one value, the answer line states it
_ANSWER = ("answer", "solution", "ans")
_DECLARES = re.compile(rf"^[\s>*_#\-]*(?:{'|'.join(_ANSWER)})\b|\b(?:my|the|final) answer\b",
                       re.IGNORECASE)


def _label_spans(line: str, word: str) -> list[re.Match[str]]:
    """Where ``word`` stands in ``line``: whole words, ignoring case (``$v_{3}$`` has
    been read as ``v_3`` by then)."""
    pattern = re.escape(word) if not word[:1].isalnum() else \
        rf"(?<![\w]){re.escape(word)}(?![\w])"
    # "Y" the tensor, not "y" the label vector
    return list(re.finditer(pattern, line, 0 if len(word) == 1 else re.IGNORECASE))


def _plain(line: str) -> str:
    # LaTeX's \times is a multiplication sign ("\mathbb{R}^{46 \times 62 \times 20}"), as
    # \cdot is; an underbrace's label (_{\text{outputs}}) names, it counts nothing
    line = re.sub(r"\\times(?![A-Za-z])", " \u00d7 ", line)
    line = re.sub(r"\\cdot(?![A-Za-z])", " \u00b7 ", line)
    line = re.sub(r"\\approx(?![A-Za-z])", " \u2248 ", line)
    line = re.sub(r"\}_\{\\text\{[^{}]*\}\}", "}", line)
    line = re.sub(r"\\(?:underbrace|overbrace|mathrm|text|mathbf|left|right)(?![A-Za-z])",
                  "", line)
    return re.sub(r"[${}\\]", "", line)


def _tokens(text: str, form: AnswerForm) -> list[tuple[int, int, Any]]:
    """(start, end, value) of each number, or each sequence, written in ``text``."""
    if form is AnswerForm.SEQUENCE:
        return [(m.start(), m.end(), _sequence_of(m.group(0)))
                for m in SEQUENCE.finditer(text)]
    if form is AnswerForm.TEXT:
        return [(0, len(text), text.strip())]
    masked = SEQUENCE.sub(lambda m: " " * len(m.group(0)), text)  # (46,62,20) is no number
    pattern = WHOLE if form is AnswerForm.COUNT else NUMBER
    return [(m.start(), m.end(), _number_of(m.group(0), form is not AnswerForm.COUNT))
            for m in pattern.finditer(masked)]


_NAME_EQUALS = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*=(?!=)")


def _equated(line: str, end: int, tokens: list[tuple[int, int, Any]],
             others: frozenset[str]) -> list[Any]:
    """The value a label's own '=' gives ("n_params = 10*20*9 + 20 = 1820"): after the
    last '=' of its clause, which ends where the line binds another quantity, after a
    comma or by another answer's name ("in_channels = 20, out_channels = 10": the 10 is
    the output channels, not the input channels)."""
    stop = len(line)
    for other in _NAME_EQUALS.finditer(line, end):
        if other.group(1) in others or line[:other.start()].rstrip()[-1:] in (",", ";"):
            stop = other.start()
            break
    tail = line.rfind("=", end, stop)
    return [v for p, _e, v in tokens if tail < p < stop][:1] if tail >= 0 else []


def _stated(line: str, words: tuple[str, ...], form: AnswerForm,
            others: frozenset[str] = frozenset()) -> list[Any]:
    """The values a line states for a labelled answer: the one each label's '=' gives,
    then the one nearest each label ("10 input channels", "input channels: 10"; on a tie
    the one after it)."""
    line = _plain(line)
    every = {(m.start(), m.end()) for w in words for m in _label_spans(line, w)}
    # "output" inside "output channels" is the same label
    spans = sorted(a for a in every if not any(b != a and b[0] <= a[0] and a[1] <= b[1]
                                               for b in every))
    if not spans:
        return []
    tokens = [(p, e, v) for p, e, v in _tokens(line, form) if v is not None]
    found = [v for _start, end in spans for v in _equated(line, end, tokens, others)]
    for start, end in spans:
        # a short word ("in", "out") is a label only beside its number ("10 in"): "the
        # filters in W" says nothing about input channels
        short = 2 <= end - start <= 3 and line[start:end].isalpha() \
            and line[start:end].lower() not in _ANSWER
        # "in: 10 out: 20": a label its colon follows gives the number after it, unless
        # a number stands right before it ("20 output channels: one per filter")
        # (one that itself follows a colon is another label's: "in: 10 out: 20")
        after = re.match(r"[\s*_]*:", line[end:]) is not None and not any(
            e <= start and re.fullmatch(r"[\s*_]{0,4}", line[e:start])
            and not line[:p].rstrip(" *_").endswith(":") for p, e, _v in tokens)
        near = [(p - end if p >= end else start - e, p < end, v) for p, e, v in tokens
                if (p >= end or (e <= start and not after))
                and (not short or _beside(line, start, end, p, e))]
        if near:
            found.append(min(near, key=lambda n: (n[0], n[1]))[2])
    return found


def _declared(line: str, form: AnswerForm, others: frozenset[str]) -> list[Any]:
    """What a line that declares the answer gives for it: the value right after the
    answer word ("**Answer:** 1,800") or after its '=', then the number it ends with;
    nothing when the line names no value at once ("Solution: by the formula of lecture
    7" states none: the value comes elsewhere)."""
    line = _plain(line)
    tokens = [(p, e, v) for p, e, v in _tokens(line, form) if v is not None]
    spans = [m for w in _ANSWER for m in _label_spans(line, w)]
    at_once = [v for m in spans for p, _e, v in tokens if p >= m.end()
               and re.fullmatch(r"[\s*_:=]*(?:\(\w{1,3}\))?[\s*_:=]*(?:is|was|of)?[\s*_:=]*",
                                line[m.end():p])]
    equated = [v for m in spans for v in _equated(line, m.end(), tokens, others)]
    if not at_once and not equated:
        # "**Answer:** each of the 46*62*20 outputs needs 90 multiply-adds: 5,133,600."
        # the sentence ends on its value, given after a colon (or "is"): that value
        if spans and tokens and tokens[-1][0] > max(m.end() for m in spans) and \
                re.fullmatch(r"[\s*_.!)]*", line[tokens[-1][1]:]) and re.search(
                    r"(?::|=|\bis|\bare|\bgives?|\btotal)[\s*_]*$",
                    line[:tokens[-1][0]]):
            return [tokens[-1][2]]
        return []
    return list(dict.fromkeys([*equated, *at_once, tokens[-1][2]]))


def _paired(line: str, own: tuple[str, ...], neighbours: tuple[str, ...],
            form: AnswerForm) -> list[Any]:
    """The value a line gives this answer in a pair, respectively: "input / output
    channels | 10 / 20" gives the input 10 and the output 20, as does "(input channels,
    output channels): (10, 20)"."""
    if form not in (AnswerForm.COUNT, AnswerForm.NUMBER) or ("/" not in line
                                                             and "," not in line):
        return []
    line = _plain(line)
    for mine in own:
        for theirs in neighbours:
            if mine.lower() == theirs.lower():
                continue
            a, b = re.escape(mine), re.escape(theirs)
            labels = re.search(rf"(?<!\w)(?:({a})\s*([/,])\s*{b}|{b}\s*([/,])\s*({a}))(?!\w)",
                               line, re.IGNORECASE)
            if labels is None:
                continue
            # "10 / 20", or with commas a tuple "(10, 20)" (never "10,200", one number)
            between = r"\s*/\s*" if "/" in (labels.group(2), labels.group(3)) else None
            pair = re.search(rf"(?<![\w.])({_NUM})\s*/\s*({_NUM})(?![\w.])", line[labels.end():]) \
                if between else re.search(rf"\(\s*({_NUM}),\s*({_NUM})\s*\)", line[labels.end():])
            if pair is None:
                return []
            token = pair.group(1) if labels.group(1) is not None else pair.group(2)
            if between is None and "," in pair.group(1) + pair.group(2):
                return []  # "(1,800, 20)": a thousands group makes the pair unclear
            value = _number_of(token, form is not AnswerForm.COUNT)
            return [value] if value is not None else []
    return []


def _beside(line: str, start: int, end: int, p: int, e: int) -> bool:
    """Nothing but spaces, emphasis and a colon between a label and a number."""
    gap = line[end:p] if p >= end else line[e:start]
    return re.fullmatch(r"[\s*_:=]{0,4}", gap) is not None


def _listed(line: str, written: bool) -> list[float]:
    """Every value a line of a worked trace gives: in markdown and comments, a table row's
    last cell or what follows the last '='; in printed output, every number."""
    line = _plain(line)
    if written:
        if line.strip().startswith("|"):
            cells = [c for c in line.split("|") if c.strip()]
            line = cells[-1] if cells else ""
        elif "=" in line:
            line = line.rsplit("=", 1)[1]
        else:
            return []
    return [v for _, _, v in _tokens(line, AnswerForm.NUMBER) if v is not None]


def _tree(source: str) -> ast.Module | None:
    """A code cell parsed once per scoring, however many answers look at it (read only)."""
    tree = parse(source)
    return tree if isinstance(tree, ast.Module) else None


def _nodes(cells: list[CellSummary]) -> Iterator[ast.AST]:
    """Every syntax node of the code cells that parse."""
    for cell in cells:
        tree = _tree(python(cell.source) or "") if cell.kind == "code" else None
        if tree is not None:
            yield from walk(tree)


def _assigned(cells: list[CellSummary]) -> set[str]:
    return {node.id for node in _nodes(cells)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def _flatten(value: Any, out: list[float], limit: int = 200) -> None:
    if len(out) >= limit:
        return
    number = as_number(value)
    if number is not None:
        out.append(number)
    elif isinstance(value, list | tuple):
        for item in value:
            _flatten(item, out, limit)
    elif isinstance(value, dict):
        for item in value.values():
            _flatten(item, out, limit)
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        out.extend(float(v) for v in value.reshape(-1)[:limit - len(out)])


def sightings(check: ValueCheck, payload: dict[str, Any], cells: list[CellSummary],
              position: tuple[int, int] = (0, 1),
              neighbours: tuple[str, ...] = (), symbolic: bool = False,
              notebook: Sequence[CellSummary] = ()) -> list[Sighting]:
    """Where the notebook states this answer, most authoritative first. ``position``:
    this answer's place among the values its prompt asks for (one alone: an "Answer:"
    line states it; several: a cell showing them as a tuple gives them in order).
    ``neighbours``: the labels of the other answers of that prompt. A line naming one
    only they have ("Z" for Y's shape), and none only this answer has, states theirs."""
    single = position[1] == 1
    found: list[Sighting] = []
    variables = payload.get("variables")
    variables = variables if isinstance(variables, dict) else {}
    # by hand: a variable bound to autograd's result (x.grad, autograd.grad) is not, nor
    # anything a cell that runs autograd or takes finite differences binds
    # (the notebook's functions wherever they are defined: a helper in an earlier cell)
    functions = frozenset(n for c in (notebook or cells) if c.kind == "code"
                          for n in definitions(c.source)) if check.by_hand else frozenset()
    machine = _by_machine(cells, functions, symbolic, notebook) if check.by_hand else set()
    automatic = _from_machine(cells, machine, functions, symbolic) if check.by_hand else set()
    for name in check.names:
        if name in variables and name not in automatic:
            found.append(Sighting(f"`{name}`", variables[name], name))
    shown = {}
    for entry in payload.get("outputs") or []:
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int):
            shown[entry[0]] = entry[1]
    code = [c for c in cells if c.kind == "code"]
    if check.by_hand:
        # what a cell that runs autograd (or finite differences) shows or prints is the
        # machine's, not the working
        shown_by = machine
        cells = [c for c in cells if c.index not in shown_by]
    else:
        shown_by = set()
    if check.among:
        scalars = payload.get("scalars")
        scalars = scalars if isinstance(scalars, dict) else {}
        for name in sorted(_assigned(code) - automatic):
            if isinstance(scalars.get(name), int | float):
                found.append(Sighting(f"`{name}`", scalars[name], name))
        for cell in code:
            if cell.index in shown and cell.index not in shown_by:
                numbers: list[float] = []
                _flatten(shown[cell.index], numbers)
                found += [Sighting(f"the output of cell {cell.index + 1}", n) for n in numbers]
        for cell in cells:
            for line, written in _lines(cell):
                found += [Sighting(f"cell {cell.index + 1}", v) for v in _listed(line, written)]
        return found
    others = frozenset(variables) - set(check.names)  # the other answers' variables
    for cell in code:
        if cell.index in shown and _shown_name(cell.source) not in others:
            value = shown[cell.index]
            index, count = position
            if count > 1 and isinstance(value, list | tuple) and len(value) == count:
                value = value[index]  # `C, M` answering "the input and output channels"
            found.append(Sighting(f"the output of cell {cell.index + 1}", value))
    words = check.words + (_ANSWER if single else ())
    declared: list[list[Sighting]] = []
    # a preposition ("in", "out") is too common a word to say whose line it is
    rivals = tuple(w for w in neighbours if w not in check.words
                   and not (w.isalpha() and w.islower() and len(w) <= 3))
    own = tuple(w for w in check.words if w not in neighbours)
    for cell in cells:
        for line, written in _lines(cell):
            plain = _plain(line)
            if any(_label_spans(plain, w) for w in rivals) and \
                    not any(_label_spans(plain, w) for w in own):
                continue
            # a pair read respectively says all this line says of this answer
            stated = _paired(line, check.labels, neighbours, check.form) or \
                _stated(line, words, check.form, others)
            found += [Sighting(f"cell {cell.index + 1}", v) for v in stated]
            if single and written and _DECLARES.search(_plain(line)):
                declared.append([Sighting(f"cell {cell.index + 1}'s answer", v)
                                 for v in _declared(line, check.form, others)])
    # the student's own "Answer: ..." is the answer: a value in a draft's comment, a
    # sanity check's variable or an earlier line does not answer for it. The last line
    # that states one decides; its values are those it states at once ("Answer: 1,800"),
    # equates it to, and concludes with
    stating = [d for d in declared if d]
    return stating[-1] if stating else found


# calls whose result a machine derived: autograd in its spellings, numerical and symbolic
# differentiation ("grad(" only when the notebook does not define a grad of its own)
_MACHINE_CALL = re.compile(
    r"\.grad\b|autograd|jacobian|\bjac(?:rev|fwd)\b|hessian|\bv[jh]p\b|\bjvp\b|"
    r"approx_fprime|approx_derivative|check_grad|\.diff\s*\(|GradientTape|"
    r"\.gradient\s*\(")


def _from_machine(cells: list[CellSummary], machine: set[int],
                  functions: frozenset[str], symbolic: bool = False) -> set[str]:
    """Names whose last binding is what a machine derived: autograd's result (also
    unpacked: ``d1, d2 = x.grad.tolist()``), a call of a notebook function in a cell that
    takes a difference quotient of it (``fp = y(x1 + h, x2)``), or anything computed
    from those (``dx1 = float(J[0])``), in the notebook's order: a name bound again by
    hand afterwards is the student's."""
    own_grad = "grad" in functions
    tainted: set[str] = set()
    for cell in cells:
        tree = _tree(python(cell.source) or "") if cell.kind == "code" else None
        if tree is None:
            continue
        assigns = sorted((n for n in walk(tree) if isinstance(n, ast.Assign)),
                         key=lambda n: (n.lineno, n.col_offset))
        for node in assigns:
            text = ast.unparse(node.value)
            names = {n.id for t in node.targets for n in walk(t) if isinstance(n, ast.Name)}
            derived = bool(_machine_call(text, symbolic)) or (
                not own_grad and re.search(r"\bgrad\s*\(", text) is not None) or (
                cell.index in machine and any(
                    isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                    and c.func.id in functions for c in walk(node.value))) or any(
                isinstance(n, ast.Name) and n.id in tainted for n in walk(node.value))
            tainted = tainted | names if derived else tainted - names
    return tainted


def _by_machine(cells: list[CellSummary], functions: frozenset[str],
                symbolic: bool = False, notebook: Sequence[CellSummary] = ()) -> set[int]:
    """The code cells whose numbers a machine derived: autograd run, or a difference
    quotient of a notebook function (``(y(x1 + h, x2) - y(x1 - h, x2)) / (2 * h)``);
    sympy too, unless ``symbolic`` (a worked trace shown beside: sympy took its local
    derivatives)."""
    code = [c for c in cells if c.kind == "code"]

    def machine(text: str) -> bool:
        return bool(_AUTOGRAD.search(text) or _machine_call(text, symbolic)
                    or (not symbolic and "sympy" in text))

    # a helper of the notebook's (in any cell) that runs autograd: a cell calling it has
    # a machine derive its numbers as surely as one calling .backward() itself
    defined = {name: text for c in (notebook or cells) if c.kind == "code"
               for name, text in definitions(c.source).items()}
    helpers = [name for name, text in defined.items() if machine(text)]
    # and the helpers that call those, and so on (adjoints() calling _run())
    while True:
        calling = re.compile(r"\b(?:" + "|".join(map(re.escape, helpers)) + r")\s*\(") \
            if helpers else None
        more = [name for name, text in defined.items() if name not in helpers
                and calling is not None and calling.search(text)]
        if not more:
            break
        helpers += more
    calls = re.compile(r"\b(?:" + "|".join(map(re.escape, helpers)) + r")\s*\(") \
        if helpers else None
    return {c.index for c in code if machine(c.source)
            or (calls is not None and calls.search(c.source))
            or finite_difference(python(c.source) or "", functions)}


def _machine_call(text: str, symbolic: bool) -> bool:
    found = [m.group(0) for m in _MACHINE_CALL.finditer(text)]
    # sympy's .diff( is a symbolic local derivative where a worked trace is shown
    return any(not (symbolic and re.fullmatch(r"\.diff\s*\(", f)) for f in found)


_AUTOGRAD = re.compile(r"\.backward\s*\(|autograd\.grad\s*\(|\bjax\.grad\s*\(|"
                      r"\bgrad\s*\(\s*\w+\s*\)\s*\(|autograd\.functional|"
                      r"\bjacobian\s*\(|\bjac(?:rev|fwd)\s*\(|\bhessian\s*\(|"
                      r"\bv[jh]p\s*\(|\bjvp\s*\(|GradientTape|\.gradient\s*\(")


def _shown_name(source: str) -> str | None:
    """The variable a cell's last expression shows, when it is a bare name: a cell ending
    in `out_channels` shows the output channels, whatever its value."""
    tree = _tree(source)
    body = tree.body if tree is not None else []
    last = body[-1] if body else None
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Name):
        return last.value.id
    return None


# --------------------------------------------------------------------------- score
def score_value(check: ValueCheck, record: ProbeRecord | None, ctx: ModelContext | None,
                solution: ModuleType) -> CheckScore:
    if ctx is None:
        raise SpecError("value checks need a ModelContext")
    expected = reference_value(check, solution)
    key = [f"{check.label}: expected {describe(expected, check.form)}"]
    payload, failure = _payload(record)
    if failure is not None:
        payload = {}  # the notebook's text can still answer
    cells, located = region(check, ctx)
    # the answers one prompt asks for (the check's own, else the question's)
    question_prompt = ctx.question.prompt if ctx.question else None
    prompt = check.prompt or question_prompt
    siblings = [c for c in (ctx.question.checks if ctx.question else (check,))
                if type(c) is type(check) and (c.prompt or question_prompt) == prompt]
    position = (siblings.index(check) if check in siblings else 0, len(siblings)) \
        if prompt is not None else (0, 0)
    neighbours = tuple(dict.fromkeys(w for c in siblings if c is not check for w in c.labels))
    payload = payload if isinstance(payload, dict) else {}
    worked = _worked(check, payload, cells, solution)
    # the trace is there: a symbolic package taking its local derivatives is no machine
    # deriving the answer (autograd's and finite differences' numbers still are not)
    seen = sightings(check, payload, cells, position, neighbours, symbolic=worked,
                     notebook=ctx.cells)
    if not seen and located and not check.among and position[1] <= 1 and prompt:
        seen = _bare(cells, prompt, check.form)
    note = [] if located else ["(found no part of your notebook that clearly answers this "
                               "question; read the whole notebook instead)"]
    if check.among:
        # all the values shown: those nearer another quantity's answer are shown too.
        # Only in the question's own part: read whole, a notebook's training logs show
        # thousands of numbers that answer nothing and deny nothing
        sprayed = _sprayed(check, expected, seen) if located else None
        # and read anywhere, a cell that prints hundreds of numbers (a thousand logits)
        # answers none of them: a value among so many says nothing (a log of a few losses
        # per epoch is no such cell)
        counts = Counter(s.where for s in seen if s.name is None)
        seen = [s for s in seen if s.name is not None or counts[s.where] < DUMP]
        seen = [s for s in seen if not _answers_another(check, expected, s, ctx, solution)]
        if sprayed:
            return CheckScore(0.0, [f"{check.label}: {sprayed}", *note], expected=key)
    for sighting in seen:
        if matches(check, expected, sighting.value):
            if check.steps and not worked:
                return CheckScore(0.0, [
                    f"{check.label}: {sighting.where} gives the value, but none of the "
                    "worked steps that lead to it is shown beside it (" + ", ".join(
                        f"{n} = {as_number(getattr(solution, n)):.4g}" for n in check.steps)
                    + "): a value alone is no trace (it may come from finite differences)",
                    *note], expected=key)
            return CheckScore(1.0, [f"{check.label}: correct ({sighting.where})"], expected=key)
    for value, credit, misses in check.partial:
        # the answer graded (the first sighting), not any number the part shows
        if seen and not check.among and matches(check, value, seen[0].value):
            return CheckScore(credit, [f"{check.label}: {seen[0].where} gives "
                                       f"{describe(seen[0].value, check.form)}: {misses}",
                                       *note], expected=key)
    if seen and not check.among:
        first = seen[0]
        return CheckScore(0.0, [f"{check.label}: {first.where} gives "
                                f"{describe(first.value, check.form)}, which is not correct",
                                *note], expected=key)
    note += _on_paper(ctx)
    if check.among:
        return CheckScore(0.0, [f"{check.label}: not among the values your answer gives",
                                *note], Fault.MISSING if not seen else Fault.NONE, expected=key)
    where = f"a variable `{check.names[0]}` or " if check.names else ""
    return CheckScore(0.0, [f"{check.label}: no answer found; expected {where}the answer "
                            "written under the question's prompt", *note], Fault.MISSING,
                      expected=key)


def _bare(cells: list[CellSummary], prompt: str, form: AnswerForm) -> list[Sighting]:
    """Under a prompt that asks for one value, the first written line after it that
    gives a number, though it names nothing ("3 * 3 * 10 * 20 + 20 = **1820**", "There
    are 1,820."): the value after its last '=', or its only number."""
    words = set(re.findall(r"\w+", prompt.lower()))
    for cell in cells:
        if cell.kind != "markdown":
            continue
        for line, _written in _lines(cell):
            plain = _plain(line)
            mine = set(re.findall(r"\w+", plain.lower()))
            if not plain.strip() or plain.rstrip().endswith("?") or (
                    words and len(mine & words) >= 0.6 * len(words)):
                continue  # the prompt itself
            tokens = [(p, e, v) for p, e, v in _tokens(plain, form) if v is not None]
            if not tokens:
                continue
            last = plain.rfind("=")
            after = [v for p, _e, v in tokens if p > last] if last >= 0 else []
            value = after[0] if after else tokens[0][2] if len(tokens) == 1 else None
            return [Sighting(f"cell {cell.index + 1}", value)] if value is not None else []
    return []


def _worked(check: ValueCheck, payload: dict[str, Any], cells: list[CellSummary],
            solution: ModuleType) -> bool:
    """One of the check's worked steps is among the values the question's part shows,
    typed or computed, though not by autograd or finite differences (a symbolic package
    may have taken the trace's local derivatives)."""
    if not check.steps:
        return False
    shown = sightings(replace(check, among=True, names=()), payload, cells, symbolic=True)
    steps = [as_number(getattr(solution, name, None)) for name in check.steps]
    return any(step is not None and matches(check, step, s.value)
               for step in steps for s in shown)


# values near the answer but not it: where the numbers a notebook shows match most of
# these too, they match anything (a printed grid of numbers), and the answer's match is
# chance. Steps of about a seventh of the answer (and a quarter), so that no other
# intermediate of a worked trace sits on them
_DECOYS = tuple(k * sign for k in (1, 2, 3, 4) for sign in (1, -1))
DUMP = 200  # numbers one cell shows, past which none of them answers


def _sprayed(check: ValueCheck, expected: Any, seen: list[Sighting]) -> str | None:
    """Why the values shown cannot answer (None: they can): they match most values near
    the answer as well as the answer."""
    mine = as_number(expected)
    if mine is None or check.form is not AnswerForm.NUMBER or len(seen) < len(_DECOYS):
        return None
    numbers = np.array([n for s in seen if (n := as_number(s.value)) is not None])
    if numbers.size < len(_DECOYS):
        return None
    tol = check.tolerance
    step = 0.137 * abs(mine) + 0.271
    hits = sum(bool(np.any(np.abs(numbers - d) <= tol.atol + tol.rtol * abs(d)))
               for d in (mine + k * step for k in _DECOYS))
    if hits < 6:
        return None
    return (f"your notebook shows {numbers.size:,} numbers, among them most values near the "
            f"answer ({hits} of {len(_DECOYS)} tried): a value found among them says "
            "nothing, so none is credited")


def _answers_another(check: ValueCheck, expected: Any, sighting: Sighting,
                     ctx: ModelContext, solution: ModuleType) -> bool:
    """A value found while looking for one of several listed quantities (a trace's
    intermediates) belongs to another of them when a variable named for that one holds
    it, or when it lies closer to that one's value: `v1 = 3.0` does not answer
    dy/dx1 = 3.0118, nor a printed dy/dx1 = 3.0118 answer v1 = 3, whatever the
    tolerance lets through."""
    if sighting.name is not None and sighting.name in check.names:
        return False  # held in a variable named for this quantity: it is this one's
    others = [c for c in ctx.values if c is not check and c.among]
    if sighting.name is not None and any(
            sighting.name in c.names for c in others):
        return True
    number = as_number(sighting.value)
    if number is None or check.form is not AnswerForm.NUMBER:
        return False
    mine = as_number(expected)
    if mine is None:
        return False
    for other in others:
        theirs = as_number(reference_value(other, solution))
        if theirs is not None and theirs != mine and abs(number - theirs) < abs(number - mine):
            return True
    return False


_PAPER = (".pdf", ".png", ".jpg", ".jpeg", ".tex", ".docx")


def _on_paper(ctx: ModelContext) -> list[str]:
    """Written answers may come as scanned or typeset notes beside the notebook."""
    papers = sorted(n for n in ctx.handed_in if n.lower().endswith(_PAPER))
    if not papers:
        return []
    return [f"your hand-in includes {', '.join(papers[:3])}: if the answer is there, your "
            "course staff grade it from that file"]
