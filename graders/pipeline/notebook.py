"""What the trusted side reads from a notebook's cells: headings, printed text, images,
sources; the per-cell budgets of questions' sections; the artifact kept for staff."""

from __future__ import annotations

import copy
import re

from nbformat import NotebookNode

from graders.results import CellSummary

ARTIFACT_TEXT_CAP = 20_000
CELL_TEXT_CAP = 8_000
CELL_SOURCE_CAP = 20_000
MARKDOWN_CAP = 4_000
# A markdown line that works as a heading without '#': "**Exercise 2: ...**", "Question 3".
_BOLD_HEADING = re.compile(r"^\s*(\*\*|__)(?P<text>[^*_\n]{1,120})\1\s*:?\s*$")
_WORD_HEADING = re.compile(r"^\s*(exercise|question|problem|task|part)\s*\d", re.IGNORECASE)


def _heading(source: str) -> tuple[str | None, int]:
    """The cell's last heading (the cells below belong to the most specific one)."""
    lines = source.splitlines()
    for line in reversed(lines):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            level = len(stripped) - len(stripped.lstrip("#"))
            return stripped.strip("# ").strip() or None, level
    for line in lines[:2]:
        bold = _BOLD_HEADING.match(line)
        if bold:
            return bold.group("text").strip(), 6
        if _WORD_HEADING.match(line):
            return line.strip()[:200], 6
    return None, 0


def summarise_cells(nb: NotebookNode) -> list[CellSummary]:
    """Headings, image counts and printed text per cell (text capped, its end kept)."""
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            heading, level = _heading(cell.source)
            out.append(CellSummary(index=index, kind="markdown", heading=heading, level=level,
                                   markdown=cell.source[:MARKDOWN_CAP]))
            continue
        if cell.cell_type != "code":
            continue
        images, text = 0, []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            images += sum(1 for mime in data if mime.startswith("image/"))
            if output.get("output_type") == "stream":
                text.append(output.get("text", ""))
            elif "text/plain" in data:
                text.append(str(data["text/plain"]))
        out.append(CellSummary(index=index, kind="code", images=images,
                               text="".join(text)[-CELL_TEXT_CAP:],
                               source=cell.source[:CELL_SOURCE_CAP]))
    return out


def truncate_outputs(nb: NotebookNode) -> NotebookNode:
    """The executed notebook kept as an artifact, with long text outputs cut."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and len(out.get("text", "")) > ARTIFACT_TEXT_CAP:
                out["text"] = out["text"][:ARTIFACT_TEXT_CAP] + "\n[... output truncated ...]\n"
            if out.get("output_type") == "error":
                out["traceback"] = out.get("traceback", [])[-20:]
    return nb
