"""Hidden test sets: images for the sandbox, labels for the grader only.

A set is ``<hidden_dir>/<name>.npz`` with ``images`` (uint8) and ``labels``; nothing
under the hidden directory is ever mounted into a sandbox.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graders.spec import HiddenSet


def load_hidden(hidden_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A hidden test set: (images uint8, labels int64). Only the grader calls this."""
    with np.load(hidden_dir / f"{name}.npz", allow_pickle=False) as npz:
        return npz["images"], npz["labels"].astype(np.int64)


def hidden_labels(hidden_dir: Path, data: HiddenSet) -> tuple[np.ndarray, np.ndarray]:
    """The hidden images (for the sandbox) and labels (for us), restricted and
    renumbered as the spec says."""
    images, labels = load_hidden(hidden_dir, data.name)
    if data.classes:
        keep = np.isin(labels, data.classes)
        images, labels = images[keep], labels[keep]
        mapping = {c: i for i, c in enumerate(data.classes)}
        labels = np.array([mapping[int(c)] for c in labels], dtype=np.int64)
    return images, labels


def measured_key(key: str, sets: tuple[HiddenSet, ...], index: int) -> str:
    """The calibration's key for an accuracy measured on ``sets[index]``: the check's own
    ("<question>:<check>") on its first set, "<question>:<check>@<name>" on another."""
    return key if index == 0 else f"{key}@{sets[index].name}"


def hidden_file(data: HiddenSet) -> str:
    """A neutral name: the sandbox learns nothing from it but that it holds images."""
    import hashlib

    digest = hashlib.sha256(f"{data.name}:{data.classes}".encode()).hexdigest()[:10]
    return f"images-{digest}.npy"
