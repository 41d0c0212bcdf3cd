"""Modules: parameters and the graph they compute."""

from __future__ import annotations

import numpy as np

from .core import Module, TensorNode
from .ops import BatchMM, Expand

__all__ = ["Linear"]


class Linear(Module):
    """``w`` (output, input) with Glorot-scaled normal values, ``b`` (1, output) zeros."""

    def __init__(self, input_size, output_size):
        super().__init__()
        scale = np.sqrt(2.0 / (input_size + output_size))
        self.w = TensorNode(np.random.randn(output_size, input_size) * scale, name="w")
        self.b = TensorNode(np.zeros((1, output_size)), name="b")

    def forward(self, x):
        n = x.value.shape[0]
        return BatchMM.do_forward(self.w, x) + Expand.do_forward(self.b, dim=0, repeats=n)

    def parameters(self):
        return [self.w, self.b]
