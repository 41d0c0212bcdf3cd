"""Inputs (seeded generators and cases), outputs (how results are structured) and the
diagnosable mistakes of function questions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Dim = int | str
Shape = tuple[Dim, ...]


@dataclass(frozen=True)
class Tolerance:
    """Closeness for floating-point comparisons, as in ``numpy.allclose``."""

    rtol: float = 1e-5
    atol: float = 1e-8


class Visibility(StrEnum):
    PUBLIC = "public"
    HIDDEN = "hidden"


# ---------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Normal:
    """Gaussian values of the given shape."""

    shape: Shape
    mean: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class Uniform:
    """Uniform values in [low, high)."""

    shape: Shape
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class Labels:
    """Integer class labels 0..classes-1 (as float64 when ``as_float``).

    With ``every_class`` each class appears at least once when there is room, so that a
    function ignoring one class cannot pass by the luck of the draw.
    """

    shape: Shape
    classes: int = 2
    as_float: bool = True
    every_class: bool = True


@dataclass(frozen=True)
class Fixed:
    """A literal value: a number or a (nested) list turned into a float64 array."""

    value: Any


@dataclass(frozen=True)
class Mapping:
    """A ``dict`` whose keys the handout fixes (e.g. ``W = {'w_1': ..., 'w_2': ...}``)."""

    fields: tuple[tuple[str, Generator], ...]

    @classmethod
    def of(cls, **fields: Generator) -> Mapping:
        return cls(tuple(fields.items()))


Generator = Normal | Uniform | Labels | Fixed | Mapping


@dataclass(frozen=True)
class Case:
    """One call: its arguments and the sizes bound to named dimensions."""

    args: tuple[Generator, ...]
    dims: tuple[tuple[str, int], ...] = ()
    name: str = ""

    @property
    def dim_map(self) -> dict[str, int]:
        return dict(self.dims)


def cases(args: tuple[Generator, ...], *sizes: dict[str, int]) -> tuple[Case, ...]:
    """Random cases of the same argument shapes at several sizes."""
    return tuple(Case(args=args, dims=tuple(s.items())) for s in sizes)


# --------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Value:
    """A single array or number, named for feedback ("the loss")."""

    name: str = "the result"
    # Accept (B,) where (B, 1) is expected and the other way round.
    flexible_vector: bool = True


@dataclass(frozen=True)
class Ordered:
    """A fixed-order tuple or list of values, e.g. ``predict``'s ``(z_1, z_2, y_hat)``."""

    names: tuple[str, ...]
    flexible_vector: bool = True


@dataclass(frozen=True)
class Keyed:
    """A dict with the keys the handout fixes; optionally a sequence in that key order."""

    keys: tuple[str, ...]
    accept_sequence: bool = True
    flexible_vector: bool = True


Output = Value | Ordered | Keyed


# ------------------------------------------------------------------------- diagnoses
class Mistake(StrEnum):
    """Common mistakes that a spec can diagnose and give partial credit for."""

    SUM_OVER_BATCH = "sum_over_batch"  # summed where the handout asks for an average
    TRANSPOSED = "transposed"  # every 2-D array output transposed
    SIGN_FLIP = "sign_flip"  # the negative of the expected value


@dataclass(frozen=True)
class Diagnosis:
    mistake: Mistake
    credit: float
    feedback: str
    batch_dim: str = "B"
