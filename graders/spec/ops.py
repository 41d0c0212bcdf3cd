"""Checks of autograd ops students write in the style of a course library (``vugrad``):
an ``Op`` class of static ``forward(context, *inputs, **kwargs)`` and
``backward(context, goutput)`` methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graders.spec.values import Generator, Tolerance


@dataclass(frozen=True)
class OpCheck:
    """Run the op found under one of ``names`` (the notebook's, else the student's
    library's) forward and backward on seeded inputs; compare with the reference's
    ``<reference>_forward`` and ``<reference>_backward`` in solution.py, and the
    backward with central finite differences of the op's own forward.

    ``wrt``: the inputs whose gradients are graded (all by default). ``forward_share``
    of the points is for the forward values, the rest for the gradients.
    """

    points: float
    label: str  # "element-wise division", "ReLU"
    names: tuple[str, ...]  # class names (Div, Divide) or wrapper functions (relu)
    reference: str
    inputs: tuple[Generator, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()
    wrt: tuple[int, ...] | None = None
    tolerance: Tolerance = Tolerance(rtol=1e-6, atol=1e-8)
    fd_tolerance: Tolerance = Tolerance(rtol=1e-4, atol=1e-6)
    forward_share: float = 0.4
    seed: int = 0

    @property
    def graded_inputs(self) -> tuple[int, ...]:
        return self.wrt if self.wrt is not None else tuple(range(len(self.inputs)))


@dataclass(frozen=True)
class PackageOverlay:
    """The course library students edit and hand in as files (``vugrad/ops.py``): a
    hand-in's files of these names go into the package, over the shipped ones, wherever
    in the zip (or as the single file) they came."""

    package: str
    files: tuple[str, ...]
