"""Pure comparison of a student's returned value with the reference's.

``compare_output`` first brings the student's value into the structure the spec fixes
(tuple order, dict keys), accepting harmless representation differences and naming each
one in a note, then compares numbers with a ``Tolerance``. A ``Mismatch`` carries the
sentence the student reads; it never contains the expected values themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graders.scoring.values import Decoded, Dict, Seq
from graders.spec import Keyed, Ordered, Output, Tolerance, Value

_LOW_PRECISION = {np.dtype(np.float32), np.dtype(np.float16)}


@dataclass(frozen=True)
class Mismatch:
    message: str


@dataclass
class Comparison:
    """The outcome of one comparison: ``mismatch`` is None when it matched."""

    mismatch: Mismatch | None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def to_array(value: Any) -> np.ndarray | None:
    """The numeric array behind a decoded leaf, or None when it is not numeric."""
    if isinstance(value, bool | int | float | np.ndarray | np.generic):
        arr = np.asarray(value)
        return arr if arr.dtype.kind in "biufc" else None
    return None


def compare_arrays(
    expected: np.ndarray,
    actual: np.ndarray,
    *,
    tolerance: Tolerance,
    name: str,
    flexible: bool = True,
    require_finite: bool = True,
) -> Comparison:
    notes: list[str] = []
    expected = np.asarray(expected, dtype=np.float64)
    if actual.dtype.kind == "c":
        return Comparison(Mismatch(f"{name} is complex; expected real numbers"))
    if actual.shape != expected.shape:
        # (B,) for (B, 1) and the like; never (1, K) for (K, 1), which is a transpose
        if flexible and actual.size == expected.size and min(actual.ndim, expected.ndim) <= 1 \
                and np.squeeze(actual).shape == np.squeeze(expected).shape:
            notes.append(
                f"{name} has shape {_shape(actual.shape)} where {_shape(expected.shape)} "
                "was expected: accepted"
            )
            actual = actual.reshape(expected.shape)
        else:
            return Comparison(Mismatch(
                f"{name} has shape {_shape(actual.shape)}, expected {_shape(expected.shape)}"
            ))
    rtol, atol = tolerance.rtol, tolerance.atol
    if actual.dtype in _LOW_PRECISION:
        notes.append(f"{name} is {actual.dtype}, not float64: compared at that precision")
        rtol, atol = max(rtol, 1e-4), max(atol, 1e-5)
    values = actual.astype(np.float64)
    finite = np.isfinite(values)
    if require_finite and not finite.all():
        bad = int((~finite).sum())
        return Comparison(Mismatch(
            f"{name} contains NaN or infinity in {bad} of {values.size} entries"
        ), notes)
    close = np.isclose(values, expected, rtol=rtol, atol=atol, equal_nan=not require_finite)
    if not close.all():
        wrong = int((~close).sum())
        diff = np.abs(values - expected)
        largest = float(np.nanmax(np.where(close, 0.0, diff))) if values.size else 0.0
        return Comparison(Mismatch(
            f"{name} differs from the reference solution in {wrong} of {values.size} "
            f"entries (largest absolute difference {largest:.3g})"
        ), notes)
    return Comparison(None, notes)


def _leaf(decoded: Decoded, name: str) -> tuple[np.ndarray | None, list[str]]:
    notes = []
    if decoded.src.startswith("torch.Tensor"):
        notes.append(f"{name} is a torch tensor where a numpy array was expected: accepted")
    return to_array(decoded.value), notes


def _describe(decoded: Decoded) -> str:
    if isinstance(decoded.value, Seq):
        return f"a {decoded.value.kind} of {len(decoded.value.items)} values"
    if isinstance(decoded.value, Dict):
        return "a dict"
    if decoded.src.startswith("unsupported:"):
        return f"an object of type {decoded.src.split(':', 1)[1]}"
    if decoded.value is None:
        return "None"
    return decoded.src


def structure(
    decoded: Decoded, output: Output, symbol: str
) -> tuple[list[tuple[str, np.ndarray]] | None, list[str], Mismatch | None]:
    """Bring a student's value into the spec's structure: named numeric leaves, in order."""
    if isinstance(output, Value):
        arr, notes = _leaf(decoded, output.name)
        if arr is None:
            return None, notes, Mismatch(
                f"{symbol}() returned {_describe(decoded)}; expected a number or an array"
            )
        return [(output.name, arr)], notes, None
    if isinstance(output, Ordered):
        names = ", ".join(output.names)
        if not isinstance(decoded.value, Seq):
            return None, [], Mismatch(
                f"{symbol}() returned {_describe(decoded)}; expected a tuple ({names}) "
                "in that order"
            )
        items = decoded.value.items
        if len(items) != len(output.names):
            return None, [], Mismatch(
                f"{symbol}() returned {len(items)} values; expected {len(output.names)} "
                f"({names}) in that order"
            )
        notes = []
        if decoded.value.kind == "list":
            notes.append(f"{symbol}() returned a list where a tuple was expected: accepted")
        leaves = []
        for name, item in zip(output.names, items, strict=True):
            arr, leaf_notes = _leaf(item, name)
            notes += leaf_notes
            if arr is None:
                return None, notes, Mismatch(f"{name} is {_describe(item)}, not an array")
            leaves.append((name, arr))
        return leaves, notes, None
    assert isinstance(output, Keyed)
    keys = ", ".join(repr(k) for k in output.keys)
    value = decoded.value
    notes = []
    if isinstance(value, Dict):
        got = value.keys()
        if sorted(got) != sorted(output.keys):
            return None, [], Mismatch(
                f"{symbol}() returned a dict with keys {got}; expected exactly the keys "
                f"{keys} (the keys of W the handout fixes)"
            )
        by_key = dict(value.items)
        ordered = [(k, by_key[k]) for k in output.keys]
    elif isinstance(value, Seq) and output.accept_sequence:
        if len(value.items) != len(output.keys):
            return None, [], Mismatch(
                f"{symbol}() returned {len(value.items)} values; expected a dict with keys "
                f"{keys}"
            )
        notes.append(_in_key_order(symbol, value.kind, output))
        ordered = list(zip(output.keys, value.items, strict=True))
    else:
        return None, [], Mismatch(
            f"{symbol}() returned {_describe(decoded)}; expected a dict with keys {keys}"
        )
    leaves = []
    for key, item in ordered:
        arr, leaf_notes = _leaf(item, f"{symbol}()[{key!r}]")
        notes += leaf_notes
        if arr is None:
            return None, notes, Mismatch(f"{symbol}()[{key!r}] is {_describe(item)}")
        leaves.append((key, arr))
    return leaves, notes, None


def _in_key_order(symbol: str, kind: str, output: Keyed) -> str:
    keys = ", ".join(repr(k) for k in output.keys)
    return f"{symbol}() returned a {kind}; read in the order of W's keys ({keys}): accepted"


def read_flat(decoded: Decoded, output: Output, symbol: str,
              expected: list[tuple[str, np.ndarray]]
              ) -> tuple[list[tuple[str, np.ndarray]], list[str]] | None:
    """A keyed answer returned as one flat vector (the handout's "vector of partial
    derivatives") of exactly the keys' sizes: read as W's keys in order, each row-major.
    None when it is no such vector."""
    if not (isinstance(output, Keyed) and output.accept_sequence) or \
            isinstance(decoded.value, Seq | Dict):
        return None
    arr, _ = _leaf(decoded, symbol)
    sizes = [int(np.size(v)) for _, v in expected]
    if arr is None or np.ndim(arr) != 1 or len(expected) < 2 or arr.size != sum(sizes):
        return None
    bounds = np.cumsum([0, *sizes])
    leaves = [(name, arr[bounds[i]:bounds[i + 1]].reshape(np.shape(value)))
              for i, (name, value) in enumerate(expected)]
    keys = ", ".join(repr(k) for k in output.keys)
    return leaves, [f"{symbol}() returned one flat vector of {arr.size} values: read as "
                    f"W's keys in order ({keys}), each row by row: accepted"]


def read_by_shape(decoded: Decoded, output: Output, symbol: str,
                  expected: list[tuple[str, np.ndarray]], leaves: list[tuple[str, np.ndarray]],
                  notes: list[str]) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """A keyed answer returned as a sequence, its items matched to the keys by their
    shapes when every key's shape is its own and the items have exactly those shapes in
    another order (a gradient returned as ``(grad_w2, grad_w1)``). No value changes:
    only which item is read as which key. Otherwise ``leaves`` and ``notes`` as given."""
    if not (isinstance(output, Keyed) and isinstance(decoded.value, Seq)):
        return leaves, notes
    shapes = [np.shape(v) for _, v in expected]
    got = [np.shape(v) for _, v in leaves]
    if len(set(shapes)) != len(shapes) or got == shapes or sorted(got) != sorted(shapes):
        return leaves, notes
    item = {np.shape(v): v for _, v in leaves}
    kind = decoded.value.kind
    in_order = _in_key_order(symbol, kind, output)
    return ([(name, item[shape]) for (name, _), shape in zip(expected, shapes, strict=True)],
            [n for n in notes if n != in_order] + [
                f"{symbol}() returned a {kind} in another order than W's keys; each array "
                "read as the key whose shape it has: accepted"])


def reference_leaves(value: Any, output: Output) -> list[tuple[str, np.ndarray]]:
    """The reference's value in the same named-leaf form (trusted, so no validation)."""
    if isinstance(output, Value):
        return [(output.name, np.asarray(value, dtype=np.float64))]
    if isinstance(output, Ordered):
        return [(n, np.asarray(v, dtype=np.float64)) for n, v in zip(output.names, value,
                                                                    strict=True)]
    return [(k, np.asarray(value[k], dtype=np.float64)) for k in output.keys]


def compare_leaves(
    expected: list[tuple[str, np.ndarray]],
    actual: list[tuple[str, np.ndarray]],
    *,
    output: Output,
    tolerance: Tolerance,
    symbol: str,
    require_finite: bool,
) -> Comparison:
    notes: list[str] = []
    flexible = getattr(output, "flexible_vector", True)
    for (name, exp), (_, act) in zip(expected, actual, strict=True):
        label = name if not isinstance(output, Keyed) else f"{symbol}()[{name!r}]"
        result = compare_arrays(exp, act, tolerance=tolerance, name=label, flexible=flexible,
                                require_finite=require_finite)
        notes += result.notes
        if not result.ok:
            return Comparison(result.mismatch, notes)
    return Comparison(None, notes)
