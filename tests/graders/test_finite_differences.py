"""What a hand-written numeric gradient looks like in a notebook's text, and the formulas
of a derived one that must not look like it."""

from __future__ import annotations

import pytest

from graders.scoring.models.code import finite_difference

NOTEBOOK = frozenset({"sigmoid", "predict", "loss", "softmax", "one_hot"})


@pytest.mark.parametrize("source", [
    # central differences, the loss called directly
    "def g(w, h=1e-6):\n    return (loss(w + h) - loss(w - h)) / (2 * h)",
    # the lab's helper: the same text f(x) at two states of x
    "def num(f, x, h=1e-5):\n    old = x[0]\n    x[0] = old + h\n    fp = f(x)\n"
    "    x[0] = old - h\n    fm = f(x)\n    x[0] = old\n    return (fp - fm) / (2 * h)",
    # forward differences against a base value
    "def g(w):\n    base = loss(w)\n    up = loss(w + 1e-4)\n    return (up - base) / 1e-4",
    # vectorised over a scaled identity
    "def g(w, eps=1e-7):\n    E = eps * np.eye(w.size)\n"
    "    return np.array([loss(w + e) - loss(w - e) for e in E]) / (2 * eps)",
    # a local lambda
    "def g(W):\n    f = lambda v: loss(v)\n    return (f(W + 0.001) - f(W)) / 0.001",
    # a step written as arithmetic, and the difference as np.subtract
    "def g(w, h=10**-5):\n    return (loss(w + h) - loss(w - h)) / (2 * h)",
    "def g(w, h=1e-6):\n    return np.subtract(loss(w + h), loss(w - h)) / (2 * h)",
], ids=["central", "mutated-in-place", "forward", "vectorised", "lambda", "step-10**-5",
        "np.subtract"])
def test_a_difference_quotient_written_by_hand_is_found(source):
    assert finite_difference(source, NOTEBOOK) is not None


@pytest.mark.parametrize("source", [
    "def d(z):\n    return sigmoid(z) - sigmoid(z) ** 2",  # the sigmoid's derivative
    "def d(z):\n    s = sigmoid(z)\n    return s * (1 - s)",
    "def d(z, y):\n    return softmax(z) - one_hot(y)",  # two different functions
    "def d(z):\n    return (np.exp(z) - np.exp(-z)) / 2",  # numpy's exp is a formula
    "def d(y_hat, y):\n    return np.clip(y_hat, 1e-15, 1) - y",
    # one function at two inputs, but no step anywhere: not an estimate
    "def d(X, W):\n    x_1 = sigmoid(X @ W)\n    return x_1 - sigmoid(X)",
], ids=["sigmoid-derivative", "sigmoid-product", "softmax-minus-one-hot", "numpy-exp",
        "clip", "no-step"])
def test_a_derived_formula_is_not_taken_for_an_estimate(source):
    assert finite_difference(source, NOTEBOOK) is None
