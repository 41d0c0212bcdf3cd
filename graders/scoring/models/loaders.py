"""DataLoaders and dataset transforms, as the notebook built them."""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.scoring.function import CheckScore, Fault
from graders.spec import (
    LoaderCheck,
    TransformCheck,
)


def score_loaders(check: LoaderCheck, payload: dict[str, Any],
                  trained: frozenset[str] = frozenset(),
                  resized: dict[str, int | None] | None = None) -> CheckScore:
    """``trained``: the names the notebook's training loops iterate (read from its
    code): a loader built with the handout's batch size beside the one training draws
    from is not the one that trained. ``resized``: loaders whose batch size the code set
    after building them, with the one they were built with (what training drew)."""
    loaders = [_as_built(as_served(x), resized or {}) for x in payload.get("loaders", [])
               if isinstance(x, dict)
               and (check.dataset is None or x.get("base") == check.dataset)]
    if not check.splits and check.batch_size is not None:
        return _training_batch_size(check.batch_size, loaders, trained)
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
    notes = [x["served_note"] for x in loaders if x.get("served_note")]
    return CheckScore(passed / parts, (feedback or ["data loaders as the handout asks"])
                      + notes[:1])


def _as_built(entry: dict[str, Any], resized: dict[str, int | None]) -> dict[str, Any]:
    """A loader whose batch size was set after it was built is judged by the one its
    DataLoader call gave (unknown where that cannot be read)."""
    name = entry.get("name")
    if name not in resized or not entry.get("is_loader"):
        return entry
    built = resized[name]
    return {**entry, "batch_size": built,
            "served_note": f"{name}'s batch size is set after it was built (to "
                           f"{entry.get('batch_size')}): judged by the batch size its "
                           "DataLoader(...) call gave, which training drew"
                           + ("" if built is not None else " (which cannot be read)")}


def as_served(entry: dict[str, Any]) -> dict[str, Any]:
    """The loader as training gets it: where walking one epoch of its batch sampler
    (the kernel does, indices only) served larger batches than it declares, or fewer
    samples than its dataset holds, the batch size, length and classes it served. A
    sampler serving the whole dataset, shuffled or drawn with replacement, is as
    declared."""
    served = entry.get("served")
    if not isinstance(served, dict):
        return entry
    largest, total, distinct = (served.get(k) for k in ("largest", "indices", "distinct"))
    length, declared = entry.get("length"), entry.get("batch_size")
    if not (type(largest) is int and type(total) is int and type(distinct) is int):
        return entry
    changed: dict[str, Any] = {}
    if type(declared) is int and largest > declared:
        changed["batch_size"] = largest
    # (drop_last leaves out less than a batch: that is still the whole set)
    if type(length) is int and total < length - largest:
        changed["length"] = distinct
        counts = served.get("label_counts")
        changed["label_counts"] = counts if isinstance(counts, dict) else {}
    if not changed:
        return entry
    said = [f"batches of {largest}, not {declared}"] * ("batch_size" in changed) + [
        f"{distinct} of its {length} samples"] * ("length" in changed)
    return {**entry, **changed,
            "served_note": f"{entry.get('name')} serves {' and '.join(said)} in an epoch: "
                           "judged by what it serves"}






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
    arrays = _tried(found)
    if arrays is None:
        return "none"
    first, second, moved = arrays
    n = first.size
    # the kernel's inputs, made again here: values i/n, and numpy's noise seeded 0
    noise = _noise(found, n)
    index = np.rint(first * n).astype(np.int64)
    if not np.array_equal(np.sort(index), np.arange(n)) or not np.allclose(first, index / n):
        return "none"
    same = np.array_equal(first, second) and np.allclose(moved, noise[index])
    if np.array_equal(index, np.arange(n)):
        # a sort also leaves a ramp as it was: it is no permutation of other images
        return "identity" if same else "none"
    if same and keeps_neighbours(index) > STRUCTURED:
        return "structured"
    return "fixed" if same else "per_image"


def _noise(found: dict[str, Any], n: int) -> np.ndarray:
    """The kernel's noise image: numpy's generator seeded 0, on ToTensor's grid (k/255)
    where the data's items are."""
    noise = np.random.default_rng(0).random(n)
    return np.rint(noise * 255) / 255 if found.get("grid") == 255 else noise


def _tried(found: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The step's outputs for the kernel's ramp image (twice) and noise image, as flat
    float arrays of one size (at least 4, the ramp's finite); None where they are not."""
    arrays: list[np.ndarray] = []
    for key in ("first", "second", "moved"):
        a = found.get(key)
        if not (isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind == "f"):
            return None
        arrays.append(a)
    first, second, moved = arrays
    n = first.size
    if n < 4 or second.size != n or moved.size != n or not np.all(np.isfinite(first)):
        return None
    return first, second, moved


# a random permutation keeps about 4 in n neighbouring pixels side by side; a transpose,
# flip, rotation or shift keeps nearly all of them (rows shuffled whole: half)
STRUCTURED = 0.25


def keeps_neighbours(index: np.ndarray) -> float:
    """The share of side-by-side pixel pairs of the output (in its rows and columns)
    whose pixels stood side by side in the input too: the image is read as channels of
    square planes (1 or 3); 0.0 for any other size."""
    n = index.size
    for channels in (1, 3):
        side = round((n / channels) ** 0.5)
        if side > 1 and channels * side * side == n:
            break
    else:
        return 0.0
    plane, row, col = np.divmod(index, side * side)[0], *np.divmod(index % (side * side), side)
    grid = np.arange(n).reshape(channels, side, side)
    kept = total = 0
    for a, b in ((grid[:, :, :-1], grid[:, :, 1:]), (grid[:, :-1, :], grid[:, 1:, :])):
        a, b = a.reshape(-1), b.reshape(-1)
        near = (plane[a] == plane[b]) & (np.abs(row[a] - row[b]) + np.abs(col[a] - col[b]) == 1)
        kept, total = kept + int(near.sum()), total + a.size
    return kept / total if total else 0.0


def pixelwise(found: Any) -> bool:
    """The step maps every pixel alike, ``a * x + b`` with the same a != 0 and b (a
    Normalize of one channel): it commutes with any permutation, so a permutation just
    before it still permutes the images. Measured on the kernel's ramp and noise images."""
    arrays = _tried(found) if isinstance(found, dict) else None
    if arrays is None or not np.all(np.isfinite(arrays[2])):
        return False
    first, second, moved = arrays
    n = first.size
    if not np.array_equal(first, second):
        return False
    ramp, noise = np.arange(n) / n, _noise(found, n)
    a, b = np.polyfit(ramp, first, 1)
    return bool(abs(a) > 1e-6 and np.allclose(first, a * ramp + b, atol=1e-6 * max(1, abs(a)))
                and np.allclose(moved, a * noise + b, atol=1e-6 * max(1, abs(a))))


def _judged(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with its last step judged; a permutation followed by a step that maps
    every pixel alike is judged as the permutation, noted ("before")."""
    judged = last_step(entry.get("last_step"))
    # (a step leaving every pixel as it was, a flatten, maps every pixel alike too)
    if judged in ("none", "identity") and pixelwise(entry.get("last_step")):
        before = last_step(entry.get("before_last"))
        if before == "fixed":
            return {**entry, "last_step": "fixed", "before": True,
                    "ramp": _ramp({"last_step": entry.get("before_last")})}
    return {**entry, "last_step": judged, "ramp": _ramp(entry)}


# a permutation the handout asks for last, followed by a per-pixel Normalize: the
# images are permuted as asked, the order is not
NOT_LAST = 0.75


def _score_permutation(check: TransformCheck, payload: dict[str, Any]) -> CheckScore:
    """What the last step does, measured on a ramp image and a random one (see
    ``last_step``), never its name."""
    entries = [_judged(e) for e in payload.get("loaders", []) if isinstance(e, dict)]

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
        if entry.get("before"):
            return CheckScore(NOT_LAST, [
                f"{entry['name']} permutes the pixels the same way for every image, then "
                f"applies {step(entry)}, which treats every pixel alike: the images are "
                f"permuted, but the handout asks for {check.last} as the last transform"])
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
    said = {"structured": "moves the pixels, but keeps neighbouring pixels side by side "
                          "(a transpose, flip, rotation or shift): PermutedKMNIST's "
                          "permutation is drawn at random, so that no image structure is "
                          "left for a network to use",
            "identity": "leaves every pixel where it was",
            "none": "does not rearrange the pixels (its output is not a permutation of its "
                    "input)",
            "error": "raised an error on a test image of the dataset's shape"}
    # the nearest misses first: a structured or identity step says more than an error
    tried = [f"{e['name']} ends with {step(e)}, which {said[e['last_step']]}"
             for e in sorted(entries, key=lambda e: list(said).index(e["last_step"])
                             if e.get("last_step") in said else len(said))
             if e.get("last_step") in said]
    found = [f"{e['name']}: {' -> '.join(e.get('transforms') or []) or 'none'}"
             for e in entries]
    return CheckScore(0.0, [f"no dataset's transform ends with a permutation of the pixels "
                            f"({check.last} in the handout)", *tried[:3],
                            f"found {'; '.join(found) or 'no datasets'}"])


def _ramp(entry: dict[str, Any]) -> np.ndarray | None:
    found = entry.get("last_step")
    first = found.get("first") if isinstance(found, dict) else None
    return first if isinstance(first, np.ndarray) else None


def _training_batch_size(batch_size: int, loaders: list[dict[str, Any]],
                         trained: frozenset[str] = frozenset()) -> CheckScore:
    """Only the batch size is asked for (the handout fixes no split sizes): the loader
    over the training data uses it (the one a training loop iterates, where the code
    names it); a test loader may batch as it likes."""
    found = [x for x in loaders if x.get("is_loader")]
    if not found:
        return CheckScore(0.0, ["no DataLoader found for this dataset"], Fault.MISSING)
    training = [x for x in found if x.get("name") in trained] or \
        [x for x in found if x.get("train") is True] or \
        [x for x in found if x.get("train") is None] or found
    if any(x.get("batch_size") == batch_size for x in training):
        return CheckScore(1.0, [f"the training DataLoader uses batch size {batch_size}"])
    first = training[0]
    return CheckScore(0.0, [f"{first['name']} (over the training data"
                            + (", the one training iterates" if first.get("name") in trained
                               else "") + f") uses batch size {first.get('batch_size')}; "
                            f"the handout asks for {batch_size}"])
