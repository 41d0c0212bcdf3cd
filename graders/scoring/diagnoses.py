"""Common mistakes, recognised by transforming the reference's answer.

A diagnosis matches when the student's value equals the reference's value after the
mistake's transformation (e.g. the batch sum where the mean was asked for).
"""

from __future__ import annotations

import numpy as np

from graders.spec import Diagnosis, Mistake


def apply_mistake(
    diagnosis: Diagnosis, leaves: list[tuple[str, np.ndarray]], dims: dict[str, int]
) -> list[tuple[str, np.ndarray]] | None:
    """The reference's leaves as the diagnosed mistake would produce them."""
    if diagnosis.mistake is Mistake.SUM_OVER_BATCH:
        batch = dims.get(diagnosis.batch_dim)
        if not batch or batch == 1:
            return None  # indistinguishable from the right answer
        return [(n, a * batch) for n, a in leaves]
    if diagnosis.mistake is Mistake.SIGN_FLIP:
        return [(n, -a) for n, a in leaves]
    if diagnosis.mistake is Mistake.TRANSPOSED:
        if not any(a.ndim == 2 and a.shape[0] != a.shape[1] for _, a in leaves):
            return None
        return [(n, a.T if a.ndim == 2 else a) for n, a in leaves]
    raise ValueError(f"unknown mistake {diagnosis.mistake}")
