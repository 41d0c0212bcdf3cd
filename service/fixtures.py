"""Small, learnable datasets in the exact on-disk formats torchvision reads, plus the
hidden test sets whose labels stay on the trusted side.

``make_fixtures(root)`` writes::

    root/datasets/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte   (IDX)
    root/datasets/KMNIST/raw/...                                            (IDX)
    root/datasets/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
    root/datasets/hymenoptera/{train,val}/{ants,bees}/*.png                (ImageFolder)
    root/hidden/{cifar10,kmnist,mnist}-hidden.npz   images (uint8) + labels, never mounted
    root/hidden/cifar10-test-hidden.npz              all ten classes, 30 each
    root/hidden/hymenoptera-hidden.npz               ants and bees, 64x64
    root/hidden/synth-hidden.npz                     VU's synthetic problem, 2,000 points
    root/weights/resnet34-b627a593.pth               a stand-in torch hub checkpoint

The digits come from scikit-learn's bundled 8x8 digits (real handwriting), scaled to
28x28 with random shifts and noise; the CIFAR-like images are coloured patterns per
class. ``datasets`` is what a deployment mounts read-only into every sandbox; ``hidden``
is what only the grader reads.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

CIFAR_NOISE = 4.0
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")


# --------------------------------------------------------------------------- formats
def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format of MNIST: magic (dtype code, ndim), big-endian sizes, raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.tobytes())


def write_mnist_layout(folder: Path, train: tuple[np.ndarray, np.ndarray],
                       test: tuple[np.ndarray, np.ndarray]) -> None:
    """``folder``/raw/ as torchvision's MNIST, KMNIST and FashionMNIST classes read it."""
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in (("train", train), ("t10k", test)):
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)


def write_cifar10(folder: Path, train: tuple[np.ndarray, np.ndarray],
                  test: tuple[np.ndarray, np.ndarray], batches: int = 5) -> None:
    """``cifar-10-batches-py`` as the original archive lays it out (pickled dicts, rows of
    3072 bytes: the red plane, then green, then blue)."""
    folder.mkdir(parents=True, exist_ok=True)

    def rows(images: np.ndarray) -> np.ndarray:
        return images.transpose(0, 3, 1, 2).reshape(len(images), -1)

    images, labels = train
    for i, part in enumerate(np.array_split(np.arange(len(images)), batches), start=1):
        _pickle(folder / f"data_batch_{i}", {
            "batch_label": f"training batch {i} of {batches}", "labels": labels[part].tolist(),
            "data": rows(images[part]), "filenames": [f"img_{j}.png" for j in part]})
    images, labels = test
    _pickle(folder / "test_batch", {"batch_label": "testing batch 1 of 1",
                                    "labels": labels.tolist(), "data": rows(images),
                                    "filenames": [f"test_{j}.png" for j in range(len(images))]})
    _pickle(folder / "batches.meta", {"label_names": list(CIFAR_CLASSES),
                                      "num_cases_per_batch": len(train[0]) // batches,
                                      "num_vis": 3072})


def _pickle(path: Path, obj: object) -> None:
    # Trusted data we write ourselves, in the format the real archive uses.
    with path.open("wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def write_image_folder(folder: Path, images: np.ndarray, labels: np.ndarray,
                       classes: tuple[str, ...]) -> None:
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = folder / classes[int(label)]
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target / f"{i:05d}.png")


# -------------------------------------------------------------------------- content
def digits(n: int, rng: np.random.Generator, *, variant: str = "mnist"
           ) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 digit images from scikit-learn's real 8x8 handwritten digits."""
    from sklearn.datasets import load_digits

    source = load_digits()
    picks = rng.integers(0, len(source.images), size=n)
    small = source.images[picks] / 16.0  # n x 8 x 8 in [0, 1]
    big = np.kron(small, np.ones((3, 3)))  # n x 24 x 24
    canvas = np.zeros((n, 28, 28))
    shifts = rng.integers(0, 5, size=(n, 2))
    for i, (dy, dx) in enumerate(shifts):
        canvas[i, dy:dy + 24, dx:dx + 24] = big[i]
    if variant == "kmnist":  # a different-looking set: mirrored strokes, thicker
        canvas = np.maximum(canvas[:, :, ::-1], np.roll(canvas[:, :, ::-1], 1, axis=2))
    canvas += rng.normal(0, 0.05, canvas.shape)
    images = (np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    return images, source.target[picks].astype(np.uint8)


def coloured_patterns(per_class: dict[int, int], rng: np.random.Generator,
                      size: int = 32, noise: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """RGB images whose class sets a colour and a stripe direction, plus noise (heavy
    noise makes a small MLP land near 75%, like the real cat/dog/ship task)."""
    labels = np.concatenate([np.full(n, c, dtype=np.uint8) for c, n in per_class.items()])
    rng.shuffle(labels)
    palette = np.random.default_rng(7).uniform(0.15, 0.85, size=(10, 3))
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((len(labels), size, size, 3))
    for c in range(10):
        mask = labels == c
        if not mask.any():
            continue
        angle = np.pi * c / 10
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * (np.cos(angle) * xx + np.sin(angle) * yy))
        base = palette[c][None, None, :] * (0.6 + 0.4 * stripes[..., None])
        images[mask] = base
    images += rng.normal(0, noise, images.shape)
    return (np.clip(images, 0, 1) * 255).astype(np.uint8), labels


def make_fixtures(root: Path, *, seed: int = 0, kmnist_train: int = 60_000) -> None:
    """Write every fixture dataset under ``root`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    data, hidden = root / "datasets", root / "hidden"
    data.mkdir(parents=True, exist_ok=True)
    hidden.mkdir(parents=True, exist_ok=True)

    write_mnist_layout(data / "MNIST", digits(6_000, rng), digits(1_000, rng))
    _save_hidden(hidden / "mnist-hidden.npz", digits(1_000, rng))

    write_mnist_layout(data / "KMNIST", digits(kmnist_train, rng, variant="kmnist"),
                       digits(10_000, rng, variant="kmnist"))
    _save_hidden(hidden / "kmnist-hidden.npz", digits(2_000, rng, variant="kmnist"))

    # The handout's three classes at full size (3000 / 1000), the others small, so that
    # the restriction to cat, dog and ship matters.
    train = {c: 3_000 if c in (3, 5, 8) else 100 for c in range(10)}
    test = {c: 1_000 if c in (3, 5, 8) else 50 for c in range(10)}
    write_cifar10(data / "cifar-10-batches-py", coloured_patterns(train, rng, noise=CIFAR_NOISE),
                  coloured_patterns(test, rng, noise=CIFAR_NOISE))
    _save_hidden(hidden / "cifar10-hidden.npz", coloured_patterns(
        {c: 300 if c in (3, 5, 8) else 30 for c in range(10)}, rng, noise=CIFAR_NOISE))

    # every class, a few of each: what a deep network is scored on without taking minutes
    _save_hidden(hidden / "cifar10-test-hidden.npz", coloured_patterns(
        dict.fromkeys(range(10), 30), rng, noise=CIFAR_NOISE))

    for split, n in (("train", 40), ("val", 20)):
        images, labels = coloured_patterns({0: n, 1: n}, rng, size=64)
        write_image_folder(data / "hymenoptera" / split, images, labels, ("ants", "bees"))
    _save_hidden(hidden / "hymenoptera-hidden.npz",
                 coloured_patterns({0: 20, 1: 20}, rng, size=64))
    _save_hidden(hidden / "synth-hidden.npz", synth_points(2_000, seed=seed + 411))
    write_stand_in_weights(root / "weights")


RESNET34_FILE = "resnet34-b627a593.pth"  # the name torchvision's ResNet34 weights have


def write_stand_in_weights(folder: Path) -> None:
    """A stand-in for the torch hub cache: ResNet34 weights under the file name
    torchvision looks for (seeded, not ImageNet-trained: what the tests check is that
    a notebook loads *these* weights, offline)."""
    try:
        import torch
        from torchvision.models import resnet34
    except ImportError:
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / RESNET34_FILE
    if not target.exists():
        torch.manual_seed(34)
        torch.save(resnet34().state_dict(), target)
    target.chmod(0o644)
    folder.chmod(0o755)


@contextmanager
def course_vugrad(name: str = "_fixture_vugrad") -> Iterator[ModuleType]:
    """The course library as the assignment ships it (its support files), imported under
    a private name for as long as the block runs."""
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parent.parent / "reference" / "vu_dl_a2" / "support"
    spec = importlib.util.spec_from_file_location(
        name, folder / "vugrad" / "__init__.py",
        submodule_search_locations=[str(folder / "vugrad")])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for loaded in [m for m in sys.modules if m.startswith(spec.name)]:
            del sys.modules[loaded]


def synth_points(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points of VU assignment 2's synthetic problem, drawn by the course library's own
    generator (the package shipped as the assignment's support files) with another seed:
    the grader's held-out validation set."""
    with course_vugrad() as vugrad:
        _, (x, y), _ = vugrad.load_synth(num_train=0, num_val=n, seed=seed)
    return x, y.astype(np.int64)


def _save_hidden(path: Path, pair: tuple[np.ndarray, np.ndarray]) -> None:
    np.savez(path, images=pair[0], labels=pair[1])
