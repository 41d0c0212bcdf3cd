"""Functions built from ops (losses, softmax) and the synthetic data."""

from __future__ import annotations

import numpy as np

from .core import TensorNode
from .mnist import load_mnist
from .ops import Exp, Expand, Log, Normalize, RowMax, RowSum, Select, Sigmoid, Sum, Unsqueeze

__all__ = ["celoss", "load_mnist", "load_synth", "logceloss", "logsoftmax", "sigmoid",
           "softmax"]

# the synthetic problem's class boundary, the course's: class 1 where x^T Q x exceeds
# 0.6 (Q is not symmetric: the cross term's weight is 0.5 + 1, which makes the boundary a
# hyperbola rather than the ellipse the course's docstring names)
_Q = np.array([[1.0, 0.5], [1.0, 0.2]])


def load_synth(num_train=60_000, num_val=10_000, seed=0):
    """A two-feature problem with an elliptic class boundary; the same data every call
    (the seed is fixed). Returns ``(xtrain, ytrain), (xval, yval), 2``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_train + num_val, 2))
    y = (np.einsum("ni,ij,nj->n", x, _Q, x) > 0.6).astype(int)
    return (x[:num_train], y[:num_train]), (x[num_train:], y[num_train:]), 2


def sigmoid(x):
    return Sigmoid.do_forward(x)


def softmax(x):
    return Normalize.do_forward(Exp.do_forward(x))


def logsoftmax(x):
    """log softmax(x), computed stably: the row maxima are subtracted before exp."""
    _, c = x.value.shape
    peak = Expand.do_forward(Unsqueeze.do_forward(RowMax.do_forward(x), dim=1), dim=1,
                             repeats=c)
    shifted = x - peak
    total = RowSum.do_forward(Exp.do_forward(shifted))
    log_total = Expand.do_forward(Unsqueeze.do_forward(Log.do_forward(total), dim=1), dim=1,
                                  repeats=c)
    return shifted - log_total


def logceloss(logprobs, targets):
    """The negative summed log probability of each row's target class."""
    picked = Select.do_forward(logprobs, indices=np.asarray(targets))
    return Sum.do_forward(picked) * TensorNode(np.asarray(-1.0))


def celoss(outputs, targets):
    """Cross-entropy of probabilities (a softmax's outputs) and integer targets."""
    return logceloss(Log.do_forward(outputs), targets)
