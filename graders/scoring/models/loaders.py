"""DataLoaders and dataset transforms, as the notebook built them."""

from __future__ import annotations

from typing import Any

from graders.scoring.function import CheckScore, Fault
from graders.spec import (
    LoaderCheck,
    TransformCheck,
)


def score_loaders(check: LoaderCheck, payload: dict[str, Any]) -> CheckScore:
    loaders = [x for x in payload.get("loaders", []) if isinstance(x, dict)
               and (check.dataset is None or x.get("base") == check.dataset)]
    if not check.splits and check.batch_size is not None:
        return _training_batch_size(check.batch_size, loaders)
    feedback, passed = [], 0
    parts = len(check.splits) + (1 if check.batch_size is not None else 0)
    matched = []
    for split in check.splits:
        hit = None
        for entry in loaders:
            if not entry.get("is_loader") or entry.get("length") != split.length:
                continue
            if split.train is not None and entry.get("train") != split.train:
                continue
            # the class sizes, not their ids: a notebook may renumber cat/dog/ship to 0..2
            counts = entry.get("label_counts") or {}
            if split.label_counts and sorted(counts.values()) != sorted(
                    n for _, n in split.label_counts):
                continue
            hit = entry
            break
        if hit is None:
            seen = ", ".join(f"{x['name']} ({x.get('length')} samples)" for x in loaders
                             if x.get("is_loader")) or "none"
            feedback.append(f"no DataLoader over the {split.name} set of {split.length} "
                            f"samples{' with the required classes' if split.label_counts else ''}"
                            f" (DataLoaders found: {seen})")
        else:
            passed += 1
            matched.append(hit)
    if check.batch_size is not None:
        wrong = [m for m in matched if m.get("batch_size") != check.batch_size]
        if matched and not wrong:
            passed += 1
        elif wrong:
            feedback.append(f"{wrong[0]['name']} uses batch size {wrong[0].get('batch_size')};"
                            f" the handout asks for {check.batch_size}")
    return CheckScore(passed / parts, feedback or ["data loaders as the handout asks"])




def score_transform(check: TransformCheck, payload: dict[str, Any]) -> CheckScore:
    for entry in payload.get("loaders", []):
        names = entry.get("transforms") or []
        if names and names[-1] == check.last:
            return CheckScore(1.0, [f"{entry['name']} applies {check.last} last"])
    found = [f"{e['name']}: {' -> '.join(e.get('transforms') or []) or 'none'}"
             for e in payload.get("loaders", [])]
    return CheckScore(0.0, [f"no dataset applies {check.last} as its last transform "
                            f"(found {'; '.join(found) or 'no datasets'})"])


def _training_batch_size(batch_size: int, loaders: list[dict[str, Any]]) -> CheckScore:
    """Only the batch size is asked for (the handout fixes no split sizes): the loader
    over the training data uses it; a test loader may batch as it likes."""
    found = [x for x in loaders if x.get("is_loader")]
    if not found:
        return CheckScore(0.0, ["no DataLoader found for this dataset"], Fault.MISSING)
    training = [x for x in found if x.get("train") is True] or \
        [x for x in found if x.get("train") is None] or found
    if any(x.get("batch_size") == batch_size for x in training):
        return CheckScore(1.0, [f"the training DataLoader uses batch size {batch_size}"])
    first = training[0]
    return CheckScore(0.0, [f"{first['name']} (over the training data) uses batch size "
                            f"{first.get('batch_size')}; the handout asks for {batch_size}"])
