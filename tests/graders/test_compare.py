"""Comparison accepts harmless representation differences, and says what is wrong."""

from __future__ import annotations

import numpy as np

from graders.scoring.compare import compare_arrays, structure
from graders.scoring.diagnoses import apply_mistake
from graders.scoring.values import Decoded, Dict, Seq
from graders.spec import Diagnosis, Keyed, Mistake, Ordered, Tolerance, Value

TOL = Tolerance(rtol=1e-6, atol=1e-9)


def test_column_vector_for_vector_is_accepted_with_a_note():
    result = compare_arrays(np.arange(3.0), np.arange(3.0).reshape(3, 1), tolerance=TOL,
                            name="y_hat")
    assert result.ok and "accepted" in result.notes[0]


def test_a_transpose_is_never_taken_for_a_harmless_reshape():
    result = compare_arrays(np.ones((1, 5)), np.ones((5, 1)), tolerance=TOL, name="z_1")
    assert not result.ok and "shape (5, 1), expected (1, 5)" in result.mismatch.message


def test_float32_is_compared_at_its_own_precision():
    expected = np.linspace(0, 1, 10)
    result = compare_arrays(expected, expected.astype(np.float32), tolerance=TOL, name="x")
    assert result.ok and "float32" in result.notes[0]


def test_nan_never_passes():
    result = compare_arrays(np.array(np.nan), np.array(np.nan), tolerance=TOL, name="loss")
    assert not result.ok and "NaN or infinity" in result.mismatch.message


def test_mismatch_reports_counts_not_expected_values():
    expected = np.array([0.123456, 0.654321])
    result = compare_arrays(expected, np.array([0.123456, 0.9]), tolerance=TOL, name="loss")
    assert "1 of 2 entries" in result.mismatch.message
    assert "0.654" not in result.mismatch.message


def leaf(arr, src="numpy.ndarray[float64]"):
    return Decoded(np.asarray(arr), src)


def test_keyed_output_enforces_the_handouts_keys():
    value = Decoded(Dict((("W1", leaf([1.0])), ("W2", leaf([2.0])))), "builtins.dict")
    _, _, mismatch = structure(value, Keyed(("w_1", "w_2")), "gradient")
    assert "keys ['W1', 'W2']" in mismatch.message and "'w_1', 'w_2'" in mismatch.message


def test_keyed_output_accepts_a_tuple_in_key_order():
    value = Decoded(Seq("tuple", (leaf([1.0]), leaf([2.0]))), "tuple")
    leaves, notes, mismatch = structure(value, Keyed(("w_1", "w_2")), "gradient")
    assert mismatch is None and [k for k, _ in leaves] == ["w_1", "w_2"]
    assert "W's keys" in notes[0]


def test_ordered_output_checks_arity():
    value = Decoded(Seq("tuple", (leaf([1.0]), leaf([2.0]))), "tuple")
    _, _, mismatch = structure(value, Ordered(("z_1", "z_2", "y_hat")), "predict")
    assert "returned 2 values; expected 3 (z_1, z_2, y_hat)" in mismatch.message


def test_value_output_rejects_non_numbers():
    _, _, mismatch = structure(Decoded(None, "unsupported:builtins.object"), Value(), "f")
    assert "an object of type builtins.object" in mismatch.message


def test_diagnoses_transform_the_reference():
    leaves = [("g", np.ones((3, 2)))]
    summed = apply_mistake(Diagnosis(Mistake.SUM_OVER_BATCH, 0.5, ""), leaves, {"B": 4})
    assert np.array_equal(summed[0][1], 4 * np.ones((3, 2)))
    assert apply_mistake(Diagnosis(Mistake.SUM_OVER_BATCH, 0.5, ""), leaves, {"B": 1}) is None
    flipped = apply_mistake(Diagnosis(Mistake.SIGN_FLIP, 0.5, ""), leaves, {})
    assert np.array_equal(flipped[0][1], -np.ones((3, 2)))
    transposed = apply_mistake(Diagnosis(Mistake.TRANSPOSED, 0.5, ""), leaves, {})
    assert transposed[0][1].shape == (2, 3)
