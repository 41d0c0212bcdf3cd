"""Checks of the functions students write: values, gradients, stability, style."""

from __future__ import annotations

from dataclasses import dataclass

from graders.spec.values import Case, Diagnosis, Output, Tolerance, Value


@dataclass(frozen=True)
class Layout:
    """Another layout of the same input values that a correct solution may expect: labels
    as a (B, 1) column rather than a (B,) vector, a weight as (K,) rather than (K, 1).

    When the student's function errors or answers wrongly on the handout's layout, it is
    called again with each alternative on the same values, and credited on the best.
    """

    name: str  # for feedback: "labels as a (B, 1) column"
    columns: tuple[int, ...] = ()  # these arguments reshaped to (n, 1)
    flat: tuple[tuple[int, str | None], ...] = ()  # (argument, dict key or None) flattened


# ---------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class FunctionCheck:
    """Call ``symbol`` on seeded inputs and compare with the reference function."""

    symbol: str
    points: float
    cases: tuple[Case, ...]
    output: Output = Value()
    tolerance: Tolerance = Tolerance()
    diagnoses: tuple[Diagnosis, ...] = ()
    reference: str | None = None  # name in solution.py; defaults to symbol
    require_finite: bool = True
    call_timeout_s: float = 10.0
    layouts: tuple[Layout, ...] = ()
    # each output's share of a case's credit when not all of them are right, one per
    # output (summing to 1); empty: a case is right only when every output is. A diagnosis
    # then prices each output on its own (w_2 right, w_1 summed over the batch)
    shares: tuple[float, ...] = ()

    @property
    def reference_name(self) -> str:
        return self.reference or self.symbol


@dataclass(frozen=True)
class GradientCheck(FunctionCheck):
    """A function check whose reference is also verified by central finite differences.

    ``loss`` names the reference loss in solution.py, called with the same arguments;
    ``wrt`` is the index of the argument holding the parameters.
    """

    loss: str = ""
    wrt: int = 0
    fd_step: float = 1e-6
    fd_tolerance: Tolerance = Tolerance(rtol=1e-4, atol=1e-7)
    # names whose use in the graded function or a notebook helper it calls means the
    # gradient is estimated numerically, not derived (``approx_fprime``): read on the host
    # from the notebook's text, they void the check's credit; so does, once any are named,
    # a finite difference written by hand (``loss(w + h) - loss(w - h)``)
    numeric: tuple[str, ...] = ()


@dataclass(frozen=True)
class StabilityCheck(FunctionCheck):
    """Extreme inputs: the answer must be finite and match the (stable) reference."""


@dataclass(frozen=True)
class NoLoops:
    """Static check: the function (and notebook helpers it calls) contains no loops.

    Credit is only given once the function's correctness checks in the same question
    earned full marks, so an empty stub cannot collect it.
    """

    symbol: str
    points: float
