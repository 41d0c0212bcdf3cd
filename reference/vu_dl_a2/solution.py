"""VU Deep Learning assignment 2: reference ops, as pairs of numpy functions.

``<name>_forward(*inputs, **kwargs)`` returns the op's output; ``<name>_backward(*inputs,
goutput, **kwargs)`` the gradient of the loss for each input, given the loss's gradient
for the output. The spec's op checks compare the student's ``Op`` classes with these;
the catalog verifies every backward against finite differences when it loads.
"""

from __future__ import annotations

import numpy as np


def div_forward(x, y):
    return x / y


def div_backward(x, y, goutput):
    return goutput / y, -goutput * x / y**2


def exp_forward(x):
    return np.exp(x)


def exp_backward(x, goutput):
    return (goutput * np.exp(x),)


def matmul_forward(a, b):
    return a @ b


def matmul_backward(a, b, goutput):
    return goutput @ b.T, a.T @ goutput


def expand_forward(x, *, dim, repeats):
    return np.repeat(x, repeats, axis=dim)


def expand_backward(x, goutput, *, dim, repeats):
    return (goutput.sum(axis=dim, keepdims=True),)


def normalize_forward(x):
    return x / x.sum(axis=1, keepdims=True)


def normalize_backward(x, goutput):
    total = x.sum(axis=1, keepdims=True)
    return (goutput / total - (goutput * x).sum(axis=1, keepdims=True) / total**2,)


def sigmoid_forward(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_backward(x, goutput):
    s = sigmoid_forward(x)
    return (goutput * s * (1.0 - s),)


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(x, goutput):
    return (goutput * (x > 0),)
