"""Turn an uploaded file into the notebook we execute.

Outputs already in a submitted notebook are dropped first: a student can pre-fill any
output they like. A ``.py`` module becomes a notebook too, split into cells at ``# %%``
markers or, failing those, at top-level statements, so that one failing statement does
not hide the definitions after it (as with a notebook's cells).
"""

from __future__ import annotations

import ast
import hashlib
import io
import itertools
import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import nbformat
from nbformat import NotebookNode

from graders.errors import SubmissionFormatError

MAX_SUBMISSION_BYTES = 20 * 1024 * 1024
_CELL_MARKER = re.compile(r"^# ?%%.*$", re.MULTILINE)


MAX_ZIP_MEMBERS = 200
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ZIP_RATIO = 100


@dataclass(frozen=True)
class Submission:
    notebook: NotebookNode
    sha256: str
    kind: str  # "ipynb", "py" or "zip"
    # helper files and saved weights from a zip, by relative path; copied into the
    # sandbox's home directory next to the notebook
    attachments: dict[str, bytes] = field(default_factory=dict)


def load_submission(data: bytes, filename: str, *, sha256: str | None = None) -> Submission:
    """Parse and sanitise a submission; raise ``SubmissionFormatError`` with a clear reason.

    ``sha256``: the bytes' hash when the caller has it already (it read them from storage
    under that name, verified): the submit-to-grade path hashes a submission once."""
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionFormatError("the file is larger than the 20 MiB limit")
    if not data.strip():
        raise SubmissionFormatError("the file is empty")
    digest = sha256 or hashlib.sha256(data).hexdigest()
    lower = filename.lower()
    if lower.endswith(".ipynb"):
        return Submission(notebook=parse_notebook(data), sha256=digest, kind="ipynb")
    if lower.endswith(".py"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SubmissionFormatError("the .py file is not UTF-8 text") from None
        return Submission(notebook=module_to_notebook(text), sha256=digest, kind="py")
    if lower.endswith(".zip"):
        main_name, main, attachments = unpack_zip(data)
        notebook = library_notebook(sorted(attachments)) if main is None else \
            load_submission(main, main_name).notebook
        return Submission(notebook=notebook, sha256=digest, kind="zip",
                          attachments=attachments)
    raise SubmissionFormatError(
        "expected a Jupyter notebook (.ipynb), a Python file (.py) or a .zip holding one"
    )


def library_notebook(files: list[str]) -> NotebookNode:
    """What runs for a hand-in of library files alone (a course package's edited
    ``ops.py``): nothing of the student's; the graders import the files themselves."""
    listed = "\n".join(f"- `{name}`" for name in files[:50])
    return new_notebook([("markdown", f"Files handed in, no notebook:\n{listed}")])


def unpack_zip(data: bytes) -> tuple[str, bytes | None, dict[str, bytes]]:
    """The zip's one notebook (or one .py) and its other files, refusing anything unsafe.
    A zip of several .py files and no notebook (a course library's edited files) has no
    main file: ``None``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SubmissionFormatError("the .zip file is damaged or not a zip") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(archive.infolist()) > MAX_ZIP_MEMBERS:
        raise SubmissionFormatError(f"the zip holds more than {MAX_ZIP_MEMBERS} files")
    total = 0
    for m in members:
        path = PurePosixPath(m.filename)
        if m.filename.startswith(("/", "\\")) or path.is_absolute() or ":" in path.parts[0]:
            raise SubmissionFormatError(f"the zip member {m.filename!r} has an absolute path")
        if ".." in path.parts or "\\" in m.filename:
            raise SubmissionFormatError(f"the zip member {m.filename!r} points outside the zip")
        if stat.S_ISLNK(m.external_attr >> 16):
            raise SubmissionFormatError(f"the zip member {m.filename!r} is a symbolic link")
        total += m.file_size
        if total > MAX_ZIP_UNCOMPRESSED:
            raise SubmissionFormatError("the zip is too large once uncompressed (200 MiB limit)")
        if m.compress_size and m.file_size / m.compress_size > MAX_ZIP_RATIO:
            raise SubmissionFormatError(f"the zip member {m.filename!r} is compressed "
                                        "suspiciously well (a zip bomb?)")
    visible = [m for m in members if not PurePosixPath(m.filename).name.startswith(".")
               and "__MACOSX" not in m.filename]
    notebooks = [m for m in visible if m.filename.lower().endswith(".ipynb")
                 and ".ipynb_checkpoints" not in m.filename]
    modules = [m for m in visible if m.filename.lower().endswith(".py")]
    if len(notebooks) == 1:
        main = notebooks[0]
    elif not notebooks and len(modules) == 1:
        main = modules[0]
    elif notebooks:
        raise SubmissionFormatError("the zip holds several notebooks; include exactly one")
    elif len(modules) > 1:
        main = None
    else:
        raise SubmissionFormatError("the zip holds no notebook (.ipynb) to grade")
    files = {}
    base = PurePosixPath(main.filename).parent if main is not None else _common_folder(visible)
    for m in visible:
        with archive.open(m) as fh:
            content = fh.read(m.file_size + 1)
        if len(content) != m.file_size:
            raise SubmissionFormatError(f"the zip member {m.filename!r} is not what it claims")
        if m is not main:
            # laid out relative to the notebook, as the student's own folder was
            path = PurePosixPath(m.filename)
            files[str(path.relative_to(base) if path.is_relative_to(base) else path)] = content
    if main is None:
        return "", None, files
    with archive.open(main) as fh:
        main_bytes = fh.read(main.file_size + 1)
    return PurePosixPath(main.filename).name, main_bytes, files


def _common_folder(members: list[zipfile.ZipInfo]) -> PurePosixPath:
    """The one folder every file sits in (``vugrad-master/`` of a repository's zip), or
    the zip's root."""
    tops = {PurePosixPath(m.filename).parts[0] for m in members
            if len(PurePosixPath(m.filename).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(m.filename).parts) > 1 for m in members):
        return PurePosixPath(tops.pop())
    return PurePosixPath(".")


MAX_JSON_DEPTH = 64
# Each cell costs a kernel round trip and a snapshot: far more than any handout has is an
# attempt to hold a worker, refused before it is queued.
MAX_CELLS = 2000


def _too_deep(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests deeper than ``limit`` (iteratively: a hostile
    file must not exhaust the stack here either)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def parse_notebook(data: bytes) -> NotebookNode:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SubmissionFormatError("the .ipynb file is not valid JSON") from None
    except ValueError as exc:  # an integer literal of thousands of digits, say
        raise SubmissionFormatError(f"the notebook could not be read: {exc}") from None
    except RecursionError:
        raw = deep = True
    else:
        deep = _too_deep(raw)
    if deep:
        raise SubmissionFormatError(
            "the notebook could not be read: its JSON is nested far deeper than any "
            f"notebook ({MAX_JSON_DEPTH} levels at most)")
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise SubmissionFormatError("the .ipynb file has no list of cells: is it a notebook?")
    if len(raw["cells"]) > MAX_CELLS:
        raise SubmissionFormatError(
            f"the notebook has {len(raw['cells']):,} cells; at most {MAX_CELLS:,} are graded "
            "(a handout has a few hundred at most): hand in the notebook itself")
    if raw.get("nbformat") == 4 and _plain_cells(raw["cells"]):
        # a v4 notebook: nothing of it but its cells' kinds and sources is kept, so its
        # JSON schema is not validated (that cost most of an upload's accept time)
        found = raw.get("metadata")
        metadata: dict = found if isinstance(found, dict) else {}  # type: ignore[type-arg]
        cells = raw["cells"]
    else:
        try:
            nb = nbformat.reads(json.dumps(raw), as_version=4)
        except Exception as exc:  # nbformat raises a wide variety on malformed input
            raise SubmissionFormatError(f"the notebook could not be read: {exc}") from None
        metadata, cells = nb.metadata, nb.cells
    kernelspec, info = metadata.get("kernelspec"), metadata.get("language_info")
    language = (kernelspec.get("language") if isinstance(kernelspec, dict) else None) or (
        info.get("name") if isinstance(info, dict) else None)
    if language and str(language).lower() not in ("python", "python3"):
        raise SubmissionFormatError(
            f"the notebook's kernel language is {language!r}; only Python notebooks are graded"
        )
    return strip_outputs(cells)


def _plain_cells(cells: list[object]) -> bool:
    """Every cell a mapping whose source is text or a list of text (nbformat's v4)."""
    for cell in cells:
        if not isinstance(cell, dict):
            return False
        source = cell.get("source", "")
        if not isinstance(source, str) and not (
                isinstance(source, list) and all(isinstance(line, str) for line in source)):
            return False
    return True


def strip_outputs(cells: list) -> NotebookNode:  # type: ignore[type-arg]
    """A fresh notebook of the cells' kinds and sources: every output, execution count
    and piece of metadata is dropped (we keep only what we execute)."""
    made = []
    for cell in cells:
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # JSON can escape a lone surrogate; no kernel takes it
            raise SubmissionFormatError("the notebook holds text that is not valid Unicode "
                                        "(a lone surrogate escape)") from None
        made.append((cell.get("cell_type"), text))
    return new_notebook(made)


def new_notebook(cells: list[tuple[str | None, str]]) -> NotebookNode:
    """A v4 notebook of (kind, source) cells, built as plain data: nbformat's cell
    constructors validate every cell against the schema, which cost most of an upload's
    accept time."""
    made = []
    for i, (kind, source) in enumerate(cells):
        node: dict[str, object] = {"id": f"cell-{i}", "metadata": {}, "source": source,
                                   "cell_type": kind if kind in ("code", "markdown")
                                   else "raw"}
        if kind == "code":
            node.update(execution_count=None, outputs=[])
        made.append(node)
    return nbformat.from_dict({
        "cells": made, "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}}})


def module_to_notebook(text: str) -> NotebookNode:
    """Cells of a module; ``# %% [markdown]`` cells (jupytext's percent format) become
    markdown, so a .py submission has headings like a notebook."""
    chunks = split_module(text)
    if len(chunks) > MAX_CELLS:
        raise SubmissionFormatError(
            f"the module splits into {len(chunks):,} cells; at most {MAX_CELLS:,} are graded")
    cells: list[tuple[str | None, str]] = []
    for chunk in chunks:
        if chunk.startswith(_MARKDOWN):
            body = chunk[len(_MARKDOWN):].strip("\n").splitlines()
            cells.append(("markdown", "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#") for line in body)))
        else:
            cells.append(("code", chunk))
    return new_notebook(cells)


_MARKDOWN = "\x00markdown\x00"


def split_module(text: str) -> list[str]:
    if _CELL_MARKER.search(text):
        chunks: list[str] = []
        current: list[str] = []
        markdown = False
        for line in text.splitlines():
            if _CELL_MARKER.match(line):
                if "".join(current).strip():
                    chunks.append((_MARKDOWN if markdown else "") + "\n".join(current))
                current, markdown = [], "[markdown]" in line
                continue
            current.append(line)
        if "".join(current).strip():
            chunks.append((_MARKDOWN if markdown else "") + "\n".join(current))
        return [c.strip("\n") for c in chunks]
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return _split_blocks(text)
    lines = text.splitlines(keepends=True)
    starts = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        starts.append(first - 1)
    if not starts:
        return [text] if text.strip() else []
    starts[0] = 0  # keep a leading comment or docstring with the first statement
    bounds = [*starts, len(lines)]
    return ["".join(lines[a:b]).strip("\n") for a, b in itertools.pairwise(bounds)
            if "".join(lines[a:b]).strip()]


def _split_blocks(text: str) -> list[str]:
    """A module that does not parse: split at unindented lines after a blank line."""
    blocks: list[list[str]] = [[]]
    previous_blank = False
    for line in text.splitlines(keepends=True):
        starts_block = line[:1] not in (" ", "\t", "\n", "#", ")", "]", "}", "")
        if starts_block and previous_blank and blocks[-1]:
            blocks.append([])
        blocks[-1].append(line)
        previous_blank = not line.strip()
    return ["".join(b).strip("\n") for b in blocks if "".join(b).strip()]
