"""Pairwise similarity of hand-ins: copydetect's winnowed fingerprints of the code students
wrote, with the code they were given (the handout's cells, the course's support library)
removed as boilerplate before anything is compared.

copydetect hashes with Python's ``hash``, which differs between processes: every
fingerprint of one comparison is made in one process, and only character offsets (which
do not depend on the hash) are kept.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files

from graders import load_submission

# copydetect's defaults: a match is at least 25 characters of normalised code (names
# become V/F/O, strings S), and every match of 30 or more is guaranteed to be seen
NOISE = 25
GUARANTEE = 30
WINDOW = GUARANTEE - NOISE + 1
# pairs that share less than this (normalised characters) are not worth a look
MIN_OVERLAP = 60
# a notebook's code beyond this is not compared (a pasted dataset, generated code)
MAX_CODE_CHARS = 300_000
BOILERPLATE_FOLDERS = ("support", "handout")
# pairs compared in full per pair kept (see ``compare``)
CANDIDATES_PER_PAIR = 10

logging.getLogger("copydetect").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Source:
    """One hand-in's code, under the key the caller knows it by (a submission id)."""

    key: str
    code: str


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    # the share of each side's compared code found in the other (0..1)
    similarity_a: float
    similarity_b: float
    overlap: int  # normalised characters the two share
    # matching regions as [start, end) character offsets into each side's code
    regions_a: list[tuple[int, int]]
    regions_b: list[tuple[int, int]]

    @property
    def score(self) -> float:
        # the mean: a near-empty hand-in whose few lines all appear elsewhere is not a
        # copy of the whole of the other
        return (self.similarity_a + self.similarity_b) / 2


def notebook_code(data: bytes, filename: str) -> str:
    """The code a hand-in holds, as one Python text: its notebook's code cells (or its
    module), then the Python files of a zip, in name order. IPython's ``%``/``!`` lines
    are kept; the tokenizer treats them as noise."""
    submission = load_submission(data, filename)
    parts = [cell.source for cell in submission.notebook.cells if cell.cell_type == "code"]
    for name, blob in sorted(submission.attachments.items()):
        if name.endswith(".py"):
            parts.append(f"# {name}\n" + blob.decode("utf-8", "replace"))
        elif name.endswith(".ipynb"):
            parts.extend(_cells_of(blob))
    return "\n\n".join(parts)[:MAX_CODE_CHARS]


def _cells_of(blob: bytes) -> list[str]:
    """The code cells of a second notebook in a zip (a checkpoint, a draft), read
    leniently: a malformed one contributes nothing."""
    try:
        cells = json.loads(blob).get("cells", [])
    except (ValueError, AttributeError, RecursionError):
        return []
    if not isinstance(cells, list):
        return []
    found = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            found.append("".join(source))
        elif isinstance(source, str):
            found.append(source)
    return found


def boilerplate_texts(assignment_folder: Path) -> list[str]:
    """What students were given: the assignment's ``support/`` files (the course's
    library) and ``handout/`` files (the handout's code cells)."""
    texts = []
    for sub in BOILERPLATE_FOLDERS:
        folder = assignment_folder / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix == ".py":
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
            elif path.suffix == ".ipynb":
                texts.append(notebook_code(path.read_bytes(), path.name))
    return texts


def _fingerprint(code: str, boilerplate: np.ndarray | None = None,
                 window: int = WINDOW) -> CodeFingerprint:
    return CodeFingerprint("submission.py", NOISE, window, boilerplate=boilerplate,
                           fp=io.StringIO(code), language="python")


def _regions(slices: np.ndarray) -> list[tuple[int, int]]:
    if slices.size == 0:
        return []
    return [(int(s), int(e)) for s, e in zip(slices[0], slices[1], strict=True)]


def compare(sources: Sequence[Source], boilerplate: Iterable[str] = (), *,
            limit: int = 200, exhaustive: bool = False,
            progress: Callable[[int, int], None] | None = None) -> list[Pair]:
    """The ``limit`` most similar pairs among ``sources``, most similar first.

    An inverted index of fingerprints counts what each pair shares; the pairs whose
    shared fingerprints make up the largest share of their own (winnowing's estimate of
    similarity, MOSS's ranking) are then compared in full, ``CANDIDATES_PER_PAIR`` times
    as many as are kept (``exhaustive``: every pair that shares one). The bench measures
    what this loses against comparing every pair."""
    given = [_fingerprint(text, window=1).hashes for text in boilerplate]
    excluded = np.unique(np.array([h for hashes in given for h in hashes], dtype=np.int64))
    prints = [_fingerprint(source.code, excluded if excluded.size else None)
              for source in sources]
    owners: dict[int, list[int]] = {}
    for i, fp in enumerate(prints):
        for h in fp.hashes:
            owners.setdefault(h, []).append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for holders in owners.values():
        if len(holders) > 1:
            shared.update(itertools.combinations(holders, 2))
    sizes = [max(len(fp.hashes), 1) for fp in prints]
    ranked = sorted(shared, key=lambda ij: (-(shared[ij] / sizes[ij[0]]
                                              + shared[ij] / sizes[ij[1]]), ij))
    candidates = ranked if exhaustive else ranked[:limit * CANDIDATES_PER_PAIR]
    pairs = []
    for done, (i, j) in enumerate(candidates, 1):
        overlap, (sim_a, sim_b), (slices_a, slices_b) = compare_files(prints[i], prints[j])
        if overlap >= MIN_OVERLAP:
            pairs.append(Pair(a=sources[i].key, b=sources[j].key,
                              similarity_a=float(sim_a), similarity_b=float(sim_b),
                              overlap=int(overlap), regions_a=_regions(slices_a),
                              regions_b=_regions(slices_b)))
        if progress is not None and (done % 2000 == 0 or done == len(candidates)):
            progress(done, len(candidates))
    pairs.sort(key=lambda p: (-p.score, -p.overlap, p.a, p.b))
    return pairs[:limit]


def line_spans(code: str, regions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character regions as 1-based, inclusive line ranges (merged where they touch)."""
    starts = [0]
    starts += [i + 1 for i, ch in enumerate(code) if ch == "\n"]
    spans: list[tuple[int, int]] = []
    for start, end in sorted(regions):
        first = int(np.searchsorted(starts, start, side="right"))
        last = int(np.searchsorted(starts, max(start, end - 1), side="right"))
        if spans and first <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return spans
