"""Which cells answer a question: located as a TA would find them.

In order: a distinctive phrase of the handout's prompt (``Question.prompt``), matched
fuzzily against markdown cells; a numbered heading (``## 2``, ``### 2)``, ``2.2``,
``Exercise 2``, ``Question 2``) for the question's number; the spec's heading pattern;
then content anchors (the code cells that mention what the question grades). When
nothing matches, the whole notebook answers, and the feedback says so.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from graders.results import CellSummary
from graders.spec import Question


@dataclass(frozen=True)
class Section:
    cells: Sequence[CellSummary]
    how: str  # "prompt", "number", "heading", "anchor", "whole notebook"
    found: bool = True
    # the cell that matched (the prompt, the heading): answers may be written into it
    start: CellSummary | None = None

    @property
    def note(self) -> str | None:
        if self.found:
            return None
        return "found no part of your notebook that clearly answers this question; " \
               "checked the whole notebook instead"


def _under(cells: Sequence[CellSummary], start: int) -> list[CellSummary]:
    """The cells after ``start`` up to the next heading of the same or a higher level."""
    level = cells[start].level or 6
    out = []
    for cell in cells[start + 1:]:
        if cell.heading and cell.level and cell.level <= level:
            break
        out.append(cell)
    return out


def section_cells(cells: Sequence[CellSummary], section: str | None) -> list[CellSummary]:
    """The cells under the first markdown heading matching ``section`` (all: None)."""
    if section is None:
        return list(cells)
    pattern = re.compile(section, re.IGNORECASE)
    for i, cell in enumerate(cells):
        if cell.heading and pattern.search(cell.heading):
            return _under(cells, i)
    return []


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def prompt_cell(cells: Sequence[CellSummary], prompt: str) -> int | None:
    """The markdown cell that quotes the prompt best (at least 80% of its words in order)."""
    return _prompt_cell(tuple(cells), prompt)


def quotes(cell: CellSummary, prompt: str) -> bool:
    """Whether this one cell quotes the prompt (not memoised: one cell is cheap, and
    asked for each cell after a question, it would crowd the notebooks out of the memo)."""
    return _best_cell((cell,), prompt) is not None


# a memo by content, not state between scorers: every check of a question looks for its
# prompt again, and the matching was a sixth of scoring a Heidelberg grading
@lru_cache(maxsize=64)
def _prompt_cell(cells: tuple[CellSummary, ...], prompt: str) -> int | None:
    return _best_cell(cells, prompt)


def _best_cell(cells: Sequence[CellSummary], prompt: str) -> int | None:
    wanted = _words(prompt)
    if not wanted:
        return None
    best, best_ratio = None, 0.8
    counts = Counter(wanted)
    for i, cell in enumerate(cells):
        if cell.kind != "markdown" or not cell.markdown:
            continue
        words = _words(cell.markdown)
        # the words matched in order are at most the words the two have in common: most
        # cells cannot beat the best so far, and are not aligned at all
        have = Counter(words)
        if sum(min(n, have[w]) for w, n in counts.items()) / len(wanted) <= best_ratio:
            continue
        matcher = difflib.SequenceMatcher(None, wanted, words, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        ratio = matched / len(wanted)
        if ratio > best_ratio:
            best, best_ratio = i, ratio
    return best


_WORD = r"(?:exercise|question|problem|task|part|aufgabe|\u00fcbung|q|ex\.?)"


def _heading_number(heading: str, number: str) -> bool:
    """``## 2.2 ...``, ``2.2)``, ``Exercise 2.2``, ``Question 2.2:`` for "2.2"."""
    n = re.escape(number)
    return bool(re.match(rf"^\s*(?:{_WORD}\s*)?\(?{n}(?![\d.]\d)\s*(?:[).:\-]|\s|$)",
                         heading, re.IGNORECASE))


def _part_cells(cells: Sequence[CellSummary], top: int, parent: str) -> list[CellSummary]:
    """The cells of part ``parent`` (from its heading at ``top``): up to a heading of a
    higher level or the heading of the next part. Sub-questions often share the part's
    heading level ("### Exercise 2" then "### 1)"), so the same level does not end it."""
    level = cells[top].level or 6
    following = str(int(parent) + 1) if parent.isdigit() else None
    # "## 1) Autodiff" then "## 2) MNIST": parts numbered the way sub-questions often
    # are; the next part's number in the part's own style ends it
    top_heading = cells[top].heading
    own_style = bool(top_heading and _sub_numbered(top_heading))
    out = []
    for cell in cells[top + 1:]:
        heading = cell.heading
        if heading and cell.level and (cell.level < level or (
                following is not None and _heading_number(heading, following)
                and cell.level <= level and (own_style or not _sub_numbered(heading)))):
            break
        out.append(cell)
    return out


def _sub_numbered(heading: str) -> bool:
    """ "1)", "(2)", "a)": how sub-questions are numbered, never a new part."""
    return bool(re.match(r"^\s*\(?(\d+|[a-z])\)", heading, re.IGNORECASE))


def _extent(cells: Sequence[CellSummary], start: int) -> list[CellSummary]:
    """The cells a numbered start holds: under a heading, up to the next of its level;
    after a numbered line ("iii) ..."), up to the next heading or numbered line."""
    if cells[start].heading:
        return _under(cells, start)
    out = []
    for cell in cells[start + 1:]:
        if cell.heading or (cell.kind == "markdown" and cell.markdown
                            and _NUMBERED.match(cell.markdown.lstrip())):
            break
        out.append(cell)
    return out


def _headings(cell: CellSummary) -> list[str]:
    """Every heading a markdown cell holds, in order ("# 3 Image classification" above
    "## i) VGG-16" in one cell: the cell's own heading is the last)."""
    found = [line.lstrip("#").strip() for line in (cell.markdown or "").splitlines()
             if line.startswith("#") and line.lstrip("#").strip()] \
        if cell.kind == "markdown" else []
    return found or ([cell.heading] if cell.heading else [])


def _number_match(cells: Sequence[CellSummary], number: str) -> int | None:
    """The heading that numbers this question: "2.2" itself, or a "2)"-style heading
    within the part headed "2"."""
    for i, cell in enumerate(cells):
        if cell.heading and _heading_number(cell.heading, number) and not (
                "." in number and _sub_numbered(cell.heading)):
            return i
    if "." not in number:
        # a part's heading above a sub-question's in the same cell
        return next((i for i, cell in enumerate(cells) if cell.heading and any(
            _heading_number(h, number) for h in _headings(cell)[:-1])), None)
    parent, child = number.rsplit(".", 1)
    top = _number_match(cells, parent)
    if top is None:
        return None
    own = cells[top].heading
    if own and not _heading_number(own, parent) and _child_heading(own, parent, child):
        return top  # "# 3 Image classification" then "## i) VGG-16" in one cell
    for offset, cell in enumerate(_part_cells(cells, top, parent)):
        if cell.heading and _child_heading(cell.heading, parent, child):
            return top + 1 + offset
        # "iii) accuracies, three right and three wrong images": a line, not a heading
        if not cell.heading and cell.kind == "markdown" and cell.markdown \
                and _child_label(cell.markdown.lstrip().split("\n", 1)[0], child):
            return top + 1 + offset
    return None


_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii")


# a line numbered as some sub-question: "3)", "(iii)", "iv.", "**ii)**"
_NUMBERED = re.compile(rf"^[\s*_]*\(?(?:\d+|{'|'.join(_ROMAN)})\s*[).:](?:[\s*_]|$)",
                       re.IGNORECASE)


def _roman(child: str) -> str | None:
    return _ROMAN[int(child) - 1] if child.isdigit() and 0 < int(child) <= len(_ROMAN) \
        else None


def _sub_heading(heading: str, parent: str) -> bool:
    """A heading numbering one of part ``parent``'s sub-questions: "2.3", "Q2.1", "iii)",
    "b)"."""
    return bool(re.match(rf"^\s*(?:{_WORD}\s*)?{re.escape(parent)}\.\d", heading,
                         re.IGNORECASE)) or _sub_numbered(heading) or bool(
        _NUMBERED.match(heading))


def _child_label(line: str, child: str) -> bool:
    """A line numbered as the part's sub-question ``child``: "3)", "(iii)", "iii.",
    "**iv)**"."""
    labels = "|".join(re.escape(x) for x in (child, _roman(child)) if x)
    return bool(re.match(rf"^[\s*_]*\(?(?:{labels})\s*[).:](?:[\s*_]|$)", line,
                         re.IGNORECASE))


def _child_heading(heading: str, parent: str, child: str) -> bool:
    """The heading of sub-question ``child`` inside part ``parent``: "3)", "iii) Results",
    "Question 2" under "Exercise 3", "Task 3 iv"; not "Task 3 iv" for sub-question 3 (the
    part's own number, with another sub-question's after it)."""
    if _child_label(heading, child):
        return True
    roman = _roman(child)
    if roman and re.match(rf"^\s*(?:{_WORD}\s*)?{re.escape(parent)}\s*[.)]?\s*\(?{roman}"
                          rf"\)?(?:[\s).:]|$)", heading, re.IGNORECASE):
        return True
    # "Question 2" under "Exercise 2" is 2.2; "Task 3 iv" (the part's number, then
    # another sub-question's label) is not 3.3
    labelled = re.match(rf"^\s*(?:{_WORD}\s*)?{re.escape(parent)}\s*[.)]?\s*\(?"
                        rf"(?:{'|'.join(_ROMAN)}|[a-h])\)?(?:[\s).:]|$)", heading,
                        re.IGNORECASE)
    return _heading_number(heading, child) and not labelled


def _anchor_cells(cells: Sequence[CellSummary], anchors: tuple[str, ...]) -> list[CellSummary]:
    found = [c for c in cells if c.kind == "code" and c.source and any(
        re.search(a, c.source) for a in anchors)]
    return found


def question_number(question_id: str) -> str | None:
    """The handout's number in a question id ("2.2" in "2.2" or "2.2b"), if it has one."""
    match = re.match(r"^(\d+(?:\.\d+)*)", question_id)
    return match.group(1) if match else None


def question_letter(question_id: str) -> str | None:
    """The sub-question's letter in an id like "2b" (part 2, sub-question (b))."""
    match = re.match(r"^\d+(?:\.\d+)*([a-h])$", question_id)
    return match.group(1) if match else None


_LETTERED = re.compile(r"^\s*(?:\(\s*[a-h]\s*\)|[a-h]\s*[).:])(?:\s|$)", re.IGNORECASE)


def _under_letter(cells: Sequence[CellSummary], start: int) -> list[CellSummary]:
    """The cells of a lettered sub-question: up to the next lettered heading, whatever
    its level (students head "(a)" with ### and "(b)" in bold), or a higher heading."""
    level = cells[start].level or 6
    out = []
    for cell in cells[start + 1:]:
        if cell.heading and (_LETTERED.match(cell.heading) or (cell.level or 6) <= level):
            break
        out.append(cell)
    return out


def _letter_match(cells: Sequence[CellSummary], top: int, number: str,
                  letter: str) -> int | None:
    """The heading "(b)", "b)" or "b." within the part headed at ``top``."""
    pattern = re.compile(rf"^\s*(?:\(\s*{letter}\s*\)|{letter}\s*[).:])(?:\s|$)",
                         re.IGNORECASE)
    part = _part_cells(cells, top, number.split(".")[0]) if cells[top].heading else []
    for offset, cell in enumerate(part):
        if cell.heading and pattern.match(cell.heading):
            return top + 1 + offset
    return None


def locate_question(cells: Sequence[CellSummary], question: Question) -> Section:
    if not (question.section or question.prompt or question.anchors):
        return Section(cells, "whole notebook")
    return locate(cells, section=question.section, number=question_number(question.id),
                  prompt=question.prompt, anchors=question.anchors,
                  letter=question_letter(question.id))


def locate(cells: Sequence[CellSummary], *, section: str | None, number: str | None = None,
           prompt: str | None = None, anchors: tuple[str, ...] = (),
           letter: str | None = None) -> Section:
    """Find a question's cells; see the module docstring for the order."""
    if prompt:
        i = prompt_cell(cells, prompt)
        if i is not None:
            return Section(_under(cells, i) if cells[i].heading else cells[i + 1:], "prompt",
                           start=cells[i])
    if number:
        i = _number_match(cells, number)
        if i is not None and letter:
            # "2b": the "(b)" sub-question of part 2, when the notebook heads it so
            sub = _letter_match(cells, i, number, letter)
            if sub is not None:
                return Section(_under_letter(cells, sub), "number", start=cells[sub])
        if i is not None:
            return Section(_extent(cells, i), "number", start=cells[i])
    if section:
        found = section_cells(cells, section)
        if found:
            before = [c for c in cells if c.index < found[0].index and c.heading]
            return Section(found, "heading", start=before[-1] if before else None)
    if number and "." in number:
        # "## 4" heads the whole of problem 4, its sub-questions unheaded: 4.5's answer
        # is somewhere in that part
        parent = number.rsplit(".", 1)[0]
        i = _number_match(cells, parent)
        # only where the part heads none of its sub-questions: where it heads some
        # (2.1, 2.2, "iii)"), the one not headed is not there
        if i is not None and not any(
                _sub_heading(h, parent) for c in [cells[i], *_part_cells(cells, i, parent)]
                for h in _headings(c) if not _heading_number(h, parent)):
            return Section(_under(cells, i), "number", start=cells[i])
    if anchors:
        found = _anchor_cells(cells, anchors)
        if found:
            return Section(found, "anchor")
    return Section(cells, "whole notebook", found=section is None and number is None
                   and prompt is None and not anchors)
