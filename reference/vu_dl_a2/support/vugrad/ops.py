"""Ops beyond the core three. Students add their own here (a ReLU, say)."""

from __future__ import annotations

import numpy as np

from .core import Op


class Log(Op):
    @staticmethod
    def forward(context, x):
        context["x"] = x
        return np.log(x)

    @staticmethod
    def backward(context, goutput):
        return goutput / context["x"]


class Id(Op):
    @staticmethod
    def forward(context, x):
        return x

    @staticmethod
    def backward(context, goutput):
        return goutput


class Exp(Op):
    """Element-wise exponent."""

    @staticmethod
    def forward(context, x):
        context["expx"] = np.exp(x)
        return context["expx"]

    @staticmethod
    def backward(context, goutput):
        return goutput * context["expx"]


class Sum(Op):
    """Everything summed to a scalar."""

    @staticmethod
    def forward(context, x):
        context["shape"] = x.shape
        return np.asarray(x.sum())

    @staticmethod
    def backward(context, goutput):
        return np.full(context["shape"], float(np.asarray(goutput).reshape(-1)[0]))


class RowMax(Op):
    """The largest value of each row, as an (n,) vector."""

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return x.max(axis=1)

    @staticmethod
    def backward(context, goutput):
        x = context["x"]
        first = np.zeros_like(x, dtype=float)
        first[np.arange(x.shape[0]), x.argmax(axis=1)] = 1.0
        return first * goutput[:, None]


class RowSum(Op):
    @staticmethod
    def forward(context, x):
        context["shape"] = x.shape
        return x.sum(axis=1)

    @staticmethod
    def backward(context, goutput):
        return np.broadcast_to(goutput[:, None], context["shape"]).copy()


class Normalize(Op):
    """Each row divided by its sum."""

    @staticmethod
    def forward(context, x):
        sumd = x.sum(axis=1, keepdims=True)
        context["x"], context["sumd"] = x, sumd
        return x / sumd

    @staticmethod
    def backward(context, goutput):
        x, sumd = context["x"], context["sumd"]
        return goutput / sumd - (goutput * x).sum(axis=1, keepdims=True) / sumd**2


class BatchMM(Op):
    """forward(matrix, vectors) = vectors @ matrix.T for an (out, in) matrix and an
    (n, in) batch of vectors."""

    @staticmethod
    def forward(context, matrix, vectors):
        context["matrix"], context["vectors"] = matrix, vectors
        return vectors @ matrix.T

    @staticmethod
    def backward(context, goutput):
        matrix, vectors = context["matrix"], context["vectors"]
        return goutput.T @ vectors, goutput @ matrix


class Sigmoid(Op):
    @staticmethod
    def forward(context, x):
        sigx = 1.0 / (1.0 + np.exp(-x))
        context["sigx"] = sigx
        return sigx

    @staticmethod
    def backward(context, goutput):
        sigx = context["sigx"]
        return goutput * sigx * (1.0 - sigx)


class Expand(Op):
    """Repeat a dimension of size one ``repeats`` times."""

    @staticmethod
    def forward(context, x, *, dim, repeats):
        if x.shape[dim] != 1:
            raise ValueError(f"Expand: dimension {dim} has size {x.shape[dim]}, not 1")
        context["dim"] = dim
        return np.repeat(x, repeats, axis=dim)

    @staticmethod
    def backward(context, goutput):
        return goutput.sum(axis=context["dim"], keepdims=True)


class Select(Op):
    """One element per row: ``indices[i]`` of row i."""

    @staticmethod
    def forward(context, x, *, indices):
        indices = np.asarray(indices).astype(int)
        context["shape"], context["indices"] = x.shape, indices
        return x[np.arange(x.shape[0]), indices]

    @staticmethod
    def backward(context, goutput):
        grad = np.zeros(context["shape"])
        grad[np.arange(context["shape"][0]), context["indices"]] = goutput
        return grad


class Squeeze(Op):
    @staticmethod
    def forward(context, x, dim=0):
        context["dim"] = dim
        return np.squeeze(x, axis=dim)

    @staticmethod
    def backward(context, goutput):
        return np.expand_dims(goutput, axis=context["dim"])


class Unsqueeze(Op):
    @staticmethod
    def forward(context, x, dim=0):
        context["dim"] = dim
        return np.expand_dims(x, axis=dim)

    @staticmethod
    def backward(context, goutput):
        return np.squeeze(goutput, axis=context["dim"])
