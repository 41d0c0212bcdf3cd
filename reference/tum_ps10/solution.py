"""TUM EI 70360 problem set 10: the reference's importable pieces.

The trained-model questions are answered by running ``solution_notebook.py`` (the
reference notebook) through the sandbox; this module only documents the architecture.
"""

from __future__ import annotations

HIDDEN = 512
INPUT = 3 * 32 * 32
CLASSES = ("cat", "dog", "ship")
CIFAR_IDS = (3, 5, 8)


def mlp_parameters(hidden: int = HIDDEN, classes: int = len(CLASSES)) -> int:
    """3072-512-3 with biases: 3072*512 + 512 + 512*3 + 3 = 1,574,915."""
    return INPUT * hidden + hidden + hidden * classes + classes
