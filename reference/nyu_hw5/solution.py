"""NYU Intro to ML homework 5: the reference's values.

Problem 2: a convolution without padding or stride, input 48 x 64 x 10, kernel
3 x 3 x 10 x 20 with a bias per output channel. Problem 4's fine-tuned ResNet34 is
answered by running ``solution_notebook.py``.
"""

from __future__ import annotations

INPUT = (48, 64, 10)  # X[i, j, k]
KERNEL = (3, 3, 10, 20)  # W[k1, k2, n, m]


def output_shape() -> tuple[int, int, int]:
    """Z and Y: (48 - 3 + 1, 64 - 3 + 1, 20)."""
    (h, w, _), (kh, kw, _, m) = INPUT, KERNEL
    return (h - kh + 1, w - kw + 1, m)


def in_channels() -> int:
    return KERNEL[2]


def out_channels() -> int:
    return KERNEL[3]


def multiply_adds() -> int:
    """One multiply-add per kernel weight per output value: (46*62*20) * (3*3*10)."""
    h, w, m = output_shape()
    kh, kw, n, _ = KERNEL
    return h * w * m * kh * kw * n


def multiplies_and_adds() -> int:
    """The same work counted as separate multiplications and additions."""
    return 2 * multiply_adds()


def parameters() -> int:
    """3*3*10*20 weights and 20 biases."""
    kh, kw, n, m = KERNEL
    return kh * kw * n * m + m


RESNET34_BLOCKS = (3, 4, 6, 3)
RESNET34_WIDTHS = (64, 128, 256, 512)
