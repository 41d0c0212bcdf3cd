"""The wire decoder accepts plain numbers only and never unpickles."""

from __future__ import annotations

import base64
import io
import json
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graders.kernel
from graders.scoring.values import Dict, Seq, WireFormatError, decode, decode_plain


def npy(arr: np.ndarray, allow_pickle: bool = False) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return base64.b64encode(buf.getvalue()).decode()


def test_arrays_round_trip_with_their_source_type():
    value = decode({"t": "array", "npy": npy(np.arange(6.0).reshape(2, 3)),
                    "src": "torch.Tensor[float32]"})
    assert value.src == "torch.Tensor[float32]"
    assert np.array_equal(value.value, np.arange(6.0).reshape(2, 3))


def test_object_arrays_are_refused_without_unpickling():
    payload = npy(np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(WireFormatError, match=r"not valid \.npy"):
        decode({"t": "array", "npy": payload})


def test_a_raw_pickle_is_refused():
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = base64.b64encode(pickle.dumps(Boom())).decode()
    with pytest.raises(WireFormatError):
        decode({"t": "array", "npy": payload})


@pytest.mark.parametrize("tree", [
    {"t": "float", "v": "1e3"},
    {"t": "int", "v": True},
    {"t": "dict", "items": [[1, {"t": "none"}]]},
    {"t": "tuple", "items": "abc"},
    {"t": "mystery"},
    ["not", "a", "dict"],
])
def test_malformed_trees_are_rejected(tree):
    with pytest.raises(WireFormatError):
        decode(tree)


def test_deep_nesting_and_huge_trees_are_rejected():
    deep: dict = {"t": "none"}
    for _ in range(20):
        deep = {"t": "list", "items": [deep]}
    with pytest.raises(WireFormatError, match="deeply"):
        decode(deep)
    wide = {"t": "list", "items": [{"t": "int", "v": 1}] * 20_000}
    with pytest.raises(WireFormatError, match="too many"):
        decode(wide)


def test_sequences_and_dicts_keep_their_kind_and_keys():
    value = decode({"t": "tuple", "items": [
        {"t": "float", "v": "nan"},
        {"t": "dict", "items": [["w_1", {"t": "int", "v": 3}]]},
    ]}).value
    assert isinstance(value, Seq) and value.kind == "tuple"
    assert np.isnan(value.items[0].value)
    assert isinstance(value.items[1].value, Dict) and value.items[1].value.keys() == ["w_1"]


def test_oversized_array_payload_is_refused():
    payload = npy(np.zeros(1000))
    with pytest.raises(WireFormatError, match="too large"):
        decode({"t": "array", "npy": payload}, max_array_bytes=100)


def _flattened(value):
    """What ``decode`` says, without the representation notes."""
    inner = value.value
    if isinstance(inner, Seq):
        return [_flattened(item) for item in inner.items]
    if isinstance(inner, Dict):
        return {k: _flattened(v) for k, v in inner.items}
    return inner


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) \
            and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def test_decoding_straight_to_plain_values_reads_every_recorded_answer_as_decode_does():
    from graders.results import CallStatus, report_from_json
    from tests.evidence import RECORDINGS

    seen = 0
    for path in sorted(RECORDINGS.rglob("*.json")):
        if path.name == "points.json":
            continue
        report = report_from_json(json.dumps(json.loads(path.read_text())["report"]))
        for probe in report.probes:
            if probe.status is CallStatus.OK and probe.value is not None:
                assert _same(decode_plain(probe.value), _flattened(decode(probe.value))), \
                    (path.name, probe.symbol)
                seen += 1
    assert seen > 100


@pytest.mark.parametrize("tree", [
    {"t": "list", "items": [{"t": "int", "v": True}]},
    {"t": "dict", "items": [["k", {"t": "float", "v": "1e9"}]]},
    {"t": "dict", "items": [[1, {"t": "none"}]]},
    {"t": "tuple", "items": {"t": "none"}},
    {"t": "str", "v": 3},
    {"t": "pickle", "v": "x"},
    {"v": 1},
    {"t": "list", "items": [{"t": "list", "items": [{"t": "list", "items": [
        {"t": "list", "items": [{"t": "list", "items": [{"t": "list", "items": [
            {"t": "list", "items": [{"t": "list", "items": [{"t": "list", "items": [
                {"t": "none"}]}]}]}]}]}]}]}]}]},
    {"t": "list", "items": [{"t": "none"}] * 10_001},
], ids=["bool as int", "float as text", "non-text key", "items not a list", "str not text",
        "unknown kind", "no kind", "too deep", "too many parts"])
def test_decoding_to_plain_values_refuses_what_decode_refuses(tree):
    with pytest.raises(WireFormatError):
        decode(tree)
    with pytest.raises(WireFormatError):
        decode_plain(tree)


@pytest.mark.parametrize("scalar", [np.float32(0.25), np.array(0.25), np.float16(0.25)],
                         ids=["float32", "0-d ndarray", "float16"])
def test_a_numpy_scalar_crosses_as_a_scalar_not_a_one_element_array(scalar, monkeypatch):
    # the kernel's own encoder, run here on the value a student's loss returns (the
    # boundary module it imports is injected into the kernel first)
    monkeypatch.setitem(sys.modules, "_autograder_boundary",
                        types.SimpleNamespace(HOME="/tmp", MIME="application/x-test"))
    namespace: dict[str, Any] = {"__name__": "probe_under_test"}
    source = Path(graders.kernel.__file__).with_name("probe.py").read_text()
    exec(compile(source, "probe.py", "exec"), namespace)
    decoded = decode(json.loads(json.dumps(namespace["encode"](scalar, [1 << 20]))))
    assert np.asarray(decoded.value).shape == () and float(decoded.value) == 0.25


_ARRAYS = [np.float32(3.0) * np.ones(()), np.arange(5), np.arange(12.0).reshape(3, 4),
           np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.zeros((0, 3), np.int8),
           np.array([True, False]), np.arange(6, dtype=">i4").reshape(2, 3),
           np.array([1 + 2j]), np.zeros((2,) * 8, np.float16), np.array(["ab"])]


@pytest.mark.parametrize("arr", _ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_an_array_reads_as_np_load_reads_it_and_is_refused_where_np_load_refuses_it(arr):
    """The header is read by a pattern of what ``np.save`` writes (np.load's own reader
    costs ten times as much per small array); bytes short, long or odd fall to np.load."""
    raw = base64.b64decode(npy(arr))
    for data in (raw, raw[:-1], raw + b"\0" * arr.dtype.itemsize, raw.replace(b"'descr'",
                                                                          b"'descr' ")):
        tree = {"t": "array", "npy": base64.b64encode(data).decode()}
        try:
            want = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError:
            want = None
        if want is None or want.dtype.kind not in "biufc":
            with pytest.raises(WireFormatError):
                decode_plain(tree)
            continue
        got = decode_plain(tree)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want) and got.flags.writeable
        assert got.flags.f_contiguous == want.flags.f_contiguous


@pytest.mark.parametrize("descr", ["<i3", "<f1", "<b2", "<c4", "<u0"])
def test_a_header_naming_no_dtype_is_refused_not_a_crash(descr):
    """A forged header the fast reader's pattern lets through ('<i3' is no dtype) is
    refused as np.load refuses it (a TypeError escaped the decoder and the grading)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}"
    header = header + " " * (63 - len(header)) + "\n"
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 8
    with pytest.raises(WireFormatError):
        decode_plain({"t": "array", "npy": base64.b64encode(raw).decode()})
