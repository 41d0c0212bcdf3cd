"""Similarity over a class: N hand-ins compared pairwise, by our background job's
``compare`` (copydetect's fingerprints, an inverted index to skip pairs that share
nothing) and by copydetect's own ``CopyDetector`` on the same files (what staff would
run by hand), one run each, the handout left out in both.

The class is made from the EE-411 fixture hand-ins (68 notebooks, many of them variants
of each other, so the class shares more code than a real one): every student starts from
one of them, drops a fifth of its cells, shuffles the rest, renames its variables and
adds a few lines of their own. Ten pairs are planted copies; the bench reports where
they rank.

    .venv/bin/python bench/similarity.py [-n 500] [--no-peer]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import SubmissionFormatError  # noqa: E402
from service.similarity.compare import (  # noqa: E402
    NOISE,
    WINDOW,
    Source,
    boilerplate_texts,
    compare,
    notebook_code,
)

FIXTURES = ROOT / "tests" / "fixtures" / "notebooks" / "ee411_hw3"
HANDOUT = ROOT / "reference" / "ee411_hw3"
PLANTED = 10


def _bases() -> list[str]:
    bases = []
    for path in sorted(FIXTURES.glob("*.ipynb")):
        try:
            code = notebook_code(path.read_bytes(), path.name)
        except SubmissionFormatError:
            continue
        if len(code) > 300:
            bases.append(code)
    return bases


def _student(rng: random.Random, base: str, i: int) -> str:
    cells = [c for c in base.split("\n\n") if c.strip()]
    kept = [c for c in cells if rng.random() > 0.2]
    rng.shuffle(kept)
    names = sorted(set(re.findall(r"\b([a-z_][a-z0-9_]{2,})\s*=", "\n\n".join(kept))))
    text = "\n\n".join(kept)
    for name in rng.sample(names, k=min(len(names), 6)):
        text = re.sub(rf"\b{name}\b", f"{name}_{i}", text)
    own = "\n".join(f"note_{i}_{j} = {rng.randint(0, 10**6)} * {rng.random():.5f}"
                    for j in range(rng.randint(2, 8)))
    return f"{text}\n\n# my own\n{own}\n"


def make_class(n: int, seed: int = 0) -> list[Source]:
    rng = random.Random(seed)
    bases = _bases()
    sources = [Source(f"s{i:04d}", _student(rng, rng.choice(bases), i)) for i in range(n)]
    for k in range(PLANTED):  # s{k} hands in s{n-1-k}'s work with a new comment on top
        sources[k] = Source(sources[k].key, "# my work\n" + sources[n - 1 - k].code)
    return sources


def peer(sources: list[Source]) -> float:
    from copydetect import CopyDetector

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for source in sources:
            folder = root / "class" / source.key
            folder.mkdir(parents=True)
            (folder / "hand_in.py").write_text(source.code)
        detector = CopyDetector(test_dirs=[str(root / "class")],
                                boilerplate_dirs=[str(HANDOUT / "handout")],
                                extensions=["py"], noise_t=NOISE,
                                guarantee_t=NOISE + WINDOW - 1, silent=True,
                                display_t=0.0, autoopen=False)
        started = time.perf_counter()
        detector.run()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    sources = make_class(args.n)
    chars = sum(len(s.code) for s in sources)
    print(f"{len(sources)} hand-ins, {chars / len(sources) / 1000:.1f} kB of code each")
    planted = {frozenset((f"s{k:04d}", f"s{args.n - 1 - k:04d}")) for k in range(PLANTED)}
    kept = {}
    for exhaustive in (False, True):
        started = time.perf_counter()
        pairs = compare(sources, boilerplate_texts(HANDOUT), limit=200, exhaustive=exhaustive)
        took = time.perf_counter() - started
        ranks = sorted(i + 1 for i, p in enumerate(pairs) if frozenset((p.a, p.b)) in planted)
        kept[exhaustive] = [frozenset((p.a, p.b)) for p in pairs]
        print(f"ours{' (every pair in full)' if exhaustive else ''}: {took:.1f} s; planted "
              f"copies at ranks {ranks} of {len(pairs)} kept")
        if not exhaustive:
            ours = took
    same = len(set(kept[False]) & set(kept[True]))
    print(f"the top {len(kept[True])} pairs of comparing every pair: {same} also kept by "
          f"the estimate-first ranking (same order: {kept[False] == kept[True]})")
    if not args.no_peer:
        theirs = peer(sources)
        print(f"copydetect's CopyDetector: {theirs:.1f} s; ours / theirs = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
