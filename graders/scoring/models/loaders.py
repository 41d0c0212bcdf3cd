"""DataLoaders and dataset transforms, as the notebook built them."""

from __future__ import annotations

from typing import Any

import numpy as np

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
            # (None: the notebook's own Dataset of arrays, whose split cannot be told)
            if split.train is not None and entry.get("train") not in (split.train, None):
                continue
            # the class sizes, and the classes when the labels are the dataset's own ids:
            # a notebook may renumber cat/dog/ship to 0..2, but truck is not ship
            counts = entry.get("label_counts") or {}
            if split.label_counts and (sorted(counts.values()) != sorted(
                    n for _, n in split.label_counts) or not _same_classes(counts, split)):
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
        # the batch size is its own part: loaders over the wrong classes still batch
        judged = matched or [x for x in loaders if x.get("is_loader")]
        wrong = [m for m in judged if m.get("batch_size") != check.batch_size]
        if judged and not wrong:
            passed += 1
        elif wrong:
            feedback.append(f"{wrong[0]['name']} uses batch size {wrong[0].get('batch_size')};"
                            f" the handout asks for {check.batch_size}")
    return CheckScore(passed / parts, feedback or ["data loaders as the handout asks"])






def _same_classes(counts: dict[str, int], split: Any) -> bool:
    """The labels are the handout's classes: their ids as the dataset numbers them, or
    0..k-1 (renumbered; which classes they were cannot be told from the labels)."""
    try:
        ids = {int(k) for k in counts}
    except (TypeError, ValueError):
        return False
    wanted = {int(label) for label, _ in split.label_counts}
    return ids == wanted or ids == set(range(len(wanted)))


def score_transform(check: TransformCheck, payload: dict[str, Any]) -> CheckScore:
    if check.permutes:
        return _score_permutation(check, payload)
    for entry in payload.get("loaders", []):
        names = entry.get("transforms") or []
        if names and names[-1] == check.last:
            return CheckScore(1.0, [f"{entry['name']} applies {check.last} last"])
    found = [f"{e['name']}: {' -> '.join(e.get('transforms') or []) or 'none'}"
             for e in payload.get("loaders", [])]
    return CheckScore(0.0, [f"no dataset applies {check.last} as its last transform "
                            f"(found {'; '.join(found) or 'no datasets'})"])


def last_step(found: Any) -> str | None:
    """What a pipeline's last step does to pixels, judged here from what it made of the
    kernel's ramp image (twice) and noise image: "fixed" (one permutation for every
    image), "per_image", "identity", "none" (not a permutation) or "error"; None when it
    was not tried. Only the failures are taken from the kernel as words: a "fixed" must
    show in the pixels."""
    if found in ("error", "none"):
        return str(found)
    if not isinstance(found, dict):
        return None
    arrays: list[np.ndarray] = []
    for key in ("first", "second", "moved"):
        a = found.get(key)
        if not (isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind == "f"):
            return "none"
        arrays.append(a)
    first, second, moved = arrays
    n = first.size
    if n < 4 or second.size != n or moved.size != n or not np.all(np.isfinite(first)):
        return "none"
    # the kernel's inputs, made again here: values i/n, and numpy's noise seeded 0
    noise = np.random.default_rng(0).random(n)
    index = np.rint(first * n).astype(np.int64)
    if not np.array_equal(np.sort(index), np.arange(n)) or not np.allclose(first, index / n):
        return "none"
    same = np.array_equal(first, second) and np.allclose(moved, noise[index])
    if np.array_equal(index, np.arange(n)):
        # a sort also leaves a ramp as it was: it is no permutation of other images
        return "identity" if same else "none"
    return "fixed" if same else "per_image"


def _score_permutation(check: TransformCheck, payload: dict[str, Any]) -> CheckScore:
    """What the last step does, measured on a ramp image and a random one (see
    ``last_step``), never its name."""
    entries = [{**e, "last_step": last_step(e.get("last_step")), "ramp": _ramp(e)}
               for e in payload.get("loaders", []) if isinstance(e, dict)]

    def step(e: dict[str, Any]) -> str:
        names = e.get("transforms") or []
        return str(names[-1]) if names else "no transform"

    fixed = [e for e in entries if e.get("last_step") == "fixed"]
    served = [e for e in fixed if e.get("is_loader")]
    training = [e for e in served if e.get("train") is not False]
    if training:
        entry = training[0]
        # the test images must be permuted as the training images were: where the ramp
        # went is the permutation itself
        tests = [e for e in served if e.get("train") is False]
        other = next((e for e in tests if e["ramp"] is not None and entry["ramp"] is not None
                      and not np.array_equal(e["ramp"], entry["ramp"])), None)
        if other is not None:
            return CheckScore(0.5, [
                f"{entry['name']} and {other['name']} permute the pixels, but each with a "
                "permutation of its own: the test images must be permuted as the training "
                "images were (one permutation, drawn once, for both)"])
        return CheckScore(1.0, [f"{entry['name']} ends with {step(entry)}, which permutes "
                                "the pixels the same way for every image"])
    if served:
        return CheckScore(1 / 3, [
            f"only {served[0]['name']}, over the test data, permutes the pixels: the "
            "networks were trained on images that are not permuted, so this is not the "
            "PermutedKMNIST experiment (permute the training data too)"])
    if fixed:
        # the permuted images exist, but no DataLoader serves them: nothing was trained on
        # them, and the experiment the question asks for was not done
        return CheckScore(0.0, [
            f"{fixed[0]['name']} ends with {step(fixed[0])}, which permutes the pixels the "
            "same way for every image, but no DataLoader serves that dataset: the networks "
            "were not trained on the permuted images"])
    for entry in entries:
        if entry.get("last_step") == "per_image":
            # pixels that move differently in every image: no network can learn from
            # them, and this is not PermutedKMNIST
            return CheckScore(0.0, [
                f"{entry['name']} ends with {step(entry)}, which permutes the pixels "
                "differently for every image: PermutedKMNIST uses one permutation for all "
                "images (draw it once, when the transform is created)"])
    said = {"identity": "leaves every pixel where it was",
            "none": "does not rearrange the pixels (its output is not a permutation of its "
                    "input)",
            "error": "raised an error on a test image of the dataset's shape"}
    tried = [f"{e['name']} ends with {step(e)}, which {said[e['last_step']]}"
             for e in entries if e.get("last_step") in said]
    found = [f"{e['name']}: {' -> '.join(e.get('transforms') or []) or 'none'}"
             for e in entries]
    return CheckScore(0.0, [f"no dataset's transform ends with a permutation of the pixels "
                            f"({check.last} in the handout)", *tried[:3],
                            f"found {'; '.join(found) or 'no datasets'}"])


def _ramp(entry: dict[str, Any]) -> np.ndarray | None:
    found = entry.get("last_step")
    first = found.get("first") if isinstance(found, dict) else None
    return first if isinstance(first, np.ndarray) else None


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
