"""The wire format for values that cross the sandbox boundary, and its strict decoder.

A value is a small JSON tree (the same shape ``graders/probe.py`` writes inside the
kernel): ``{"t": "array", "npy": <base64 .npy>, "src": "torch.Tensor"}``,
``{"t": "tuple", "items": [...]}``, ``{"t": "dict", "items": [[key, value], ...]}``,
``{"t": "float", "v": 1.5}`` and so on. Arrays are ``.npy`` bytes read with
``allow_pickle=False``; nothing from the sandbox is ever unpickled.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 8
MAX_NODES = 10_000
MAX_ARRAY_BYTES = 64 * 1024 * 1024
_NUMERIC_KINDS = frozenset("biufc")
# the header ``np.save`` writes for a numeric array (format 1.0), and nothing else: what
# it does not match goes to ``np.load``, so the fast path accepts nothing np.load refuses
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|]?[biufc][0-9]{1,2})', 'fortran_order': (True|False), "
    rb"'shape': \((|[0-9]{1,10},|[0-9]{1,10}(?:, [0-9]{1,10}){1,31})\), \} *\n")


class WireFormatError(ValueError):
    """A value from the sandbox is malformed; the student's call is marked unserializable."""


@dataclass(frozen=True)
class Decoded:
    """A decoded value plus how it was represented (for representation feedback)."""

    value: Any
    src: str


@dataclass(frozen=True)
class Seq:
    """A decoded tuple or list; ``kind`` keeps which one it was."""

    kind: str
    items: tuple[Decoded, ...]


@dataclass(frozen=True)
class Dict:
    items: tuple[tuple[str, Decoded], ...]

    def keys(self) -> list[str]:
        return [k for k, _ in self.items]


def decode(tree: Any, *, max_array_bytes: int = MAX_ARRAY_BYTES) -> Decoded:
    """Decode a wire tree; raise ``WireFormatError`` on anything unexpected."""
    budget = [MAX_NODES]
    return _decode(tree, 0, budget, max_array_bytes)


def decode_plain(tree: Any, *, max_array_bytes: int = MAX_ARRAY_BYTES) -> Any:
    """The same tree as plain lists, dicts, scalars and arrays, refused on exactly what
    ``decode`` refuses, in the same order: a model probe's payload, read by value and not
    by representation. One closure with its checks inline: a payload is thousands of
    nodes, and a call per check was most of reading it (Heidelberg's 4,000 values were a
    quarter of scoring its grading)."""
    remaining = MAX_NODES

    def plain(node: Any, depth: int) -> Any:
        nonlocal remaining
        if depth > MAX_DEPTH:
            raise WireFormatError("value is nested too deeply")
        remaining -= 1
        if remaining < 0:
            raise WireFormatError("value has too many parts")
        if type(node) is not dict and not isinstance(node, dict):
            raise WireFormatError("malformed value")
        kind = node.get("t")
        if kind == "str":
            v = node.get("v")
            if type(v) is str:
                return v[:1000]
        elif kind == "int":
            v = node.get("v")
            if type(v) is int:
                return v
        elif kind == "list" or kind == "tuple":
            items = node.get("items")
            if not isinstance(items, list):
                raise WireFormatError("malformed sequence")
            depth += 1
            return [plain(item, depth) for item in items]
        elif kind == "dict":
            items = node.get("items")
            if not isinstance(items, list):
                raise WireFormatError("malformed dict")
            depth += 1
            out = {}
            for pair in items:
                if not (isinstance(pair, list) and len(pair) == 2
                        and isinstance(pair[0], str)):
                    raise WireFormatError("malformed dict entry")
                out[pair[0][:200]] = plain(pair[1], depth)
            return out
        elif not isinstance(kind, str):
            raise WireFormatError("malformed value")
        return _leaf(kind, node, max_array_bytes)

    return plain(tree, 0)


def _kind(node: Any, depth: int, budget: list[int]) -> str:
    if depth > MAX_DEPTH:
        raise WireFormatError("value is nested too deeply")
    budget[0] -= 1
    if budget[0] < 0:
        raise WireFormatError("value has too many parts")
    if not isinstance(node, dict) or not isinstance(kind := node.get("t"), str):
        raise WireFormatError("malformed value")
    return kind


def _entries(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each entry checked as it is reached (a generator): a malformed value is refused
    before a malformed entry after it, as the decoder always did."""
    items = node.get("items")
    if not isinstance(items, list):
        raise WireFormatError("malformed dict")
    for pair in items:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise WireFormatError("malformed dict entry")
        yield pair[0][:200], pair[1]


def _sequence(node: dict[str, Any]) -> list[Any]:
    items = node.get("items")
    if not isinstance(items, list):
        raise WireFormatError("malformed sequence")
    return items


def _leaf(kind: str, node: dict[str, Any], max_bytes: int) -> Any:
    """A value with no parts (``other``: None, its type named by the caller)."""
    if kind == "none" or kind == "other":
        return None
    if kind in ("int", "float", "bool"):
        return _scalar(kind, node.get("v"))
    if kind == "str":
        v = node.get("v")
        if not isinstance(v, str):
            raise WireFormatError("malformed string")
        return v[:1000]
    if kind == "array":
        return _array(node.get("npy"), max_bytes)
    raise WireFormatError(f"unknown value kind {kind!r}")


def _decode(node: Any, depth: int, budget: list[int], max_bytes: int) -> Decoded:
    kind = _kind(node, depth, budget)
    src = node.get("src")
    src = src[:80] if isinstance(src, str) else kind
    if kind in ("list", "tuple"):
        return Decoded(Seq(kind, tuple(_decode(i, depth + 1, budget, max_bytes)
                                       for i in _sequence(node))), kind)
    if kind == "dict":
        return Decoded(Dict(tuple((k, _decode(v, depth + 1, budget, max_bytes))
                                  for k, v in _entries(node))), src)
    value = _leaf(kind, node, max_bytes)
    if kind == "none":
        return Decoded(None, "None")
    if kind == "str":
        return Decoded(value, "str")
    if kind == "other":
        return Decoded(None, f"unsupported:{src}")
    return Decoded(value, src)


def _scalar(kind: str, v: Any) -> bool | int | float:
    if kind == "bool" and isinstance(v, bool):
        return v
    if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
        return v
    if kind == "float":
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
        if v in ("nan", "inf", "-inf"):
            return float(v)
    raise WireFormatError(f"malformed {kind}")


def _array(payload: Any, max_bytes: int) -> np.ndarray:
    if not isinstance(payload, str) or len(payload) > max_bytes * 4 // 3 + 256:
        raise WireFormatError("array payload missing or too large")
    try:
        raw = base64.b64decode(payload, validate=True)
        arr = _npy(raw)
        if arr is None:
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, TypeError) as exc:
        raise WireFormatError(f"array is not valid .npy data: {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _NUMERIC_KINDS:
        raise WireFormatError("array is not numeric")
    return arr


def _npy(raw: bytes) -> np.ndarray | None:
    """A small numeric array read straight from its bytes, or None for ``np.load`` to
    read (or refuse). np.load reads its header with ``ast.literal_eval``: for a model's
    payload of hundreds of small arrays that was most of the decoding (Heidelberg's
    169 arrays, a third of scoring its grading)."""
    if raw[:8] != b"\x93NUMPY\x01\x00" or len(raw) < 10:
        return None
    end = 10 + int.from_bytes(raw[8:10], "little")
    header = _NPY_HEADER.fullmatch(raw, 10, end)
    if header is None:
        return None
    try:
        dtype = np.dtype(header[1].decode("ascii"))
    except (TypeError, ValueError):
        return None  # '<i3', '<f1': no dtype, as np.load says too
    shape = tuple(int(n) for n in header[3].split(b",") if n.strip())
    count = math.prod(shape)
    if len(raw) - end != count * dtype.itemsize:
        return None
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=end)
    return flat.reshape(shape, order="F" if header[2] == b"True" else "C").copy(
        order="K")


# ------------------------------------------------------------ trusted -> sandbox inputs
def encode_input(value: Any) -> dict[str, Any]:
    """Encode a generated input for the probe plan. Arrays travel inside the plan as
    base64 ``.npy`` bytes, the format the kernel answers in: a ``.npy`` file each cost
    about 0.7 ms to write and to move into a warm kernel's folder, the largest part of
    the host's work per grading (91 files for EE-411)."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("cannot encode an array of Python objects")
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"t": "array", "npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, dict):
        return {"t": "dict", "items": [[k, encode_input(v)] for k, v in value.items()]}
    if isinstance(value, tuple | list):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"t": kind, "items": [encode_input(v) for v in value]}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": value}
    if isinstance(value, float):
        return {"t": "float", "v": value if math.isfinite(value) else str(value)}
    raise TypeError(f"cannot encode input of type {type(value).__name__}")
