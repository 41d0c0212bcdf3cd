"""Every check kind says what work must and must not earn its credit (PrairieLearn's
element ``test``): a correct control earns it all, an incorrect one earns nothing (or the
partial credit it is due), an invalid one (missing, crashed, timed out) earns nothing and
says why. The registry is walked, so a new kind without its controls fails here."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from graders.checks import KINDS
from graders.checks.base import CheckKind, Control
from graders.scoring.function import Fault

_NO_REQUEST = next(f.default for f in dataclasses.fields(CheckKind) if f.name == "request")
CONTROLS = [(kind, control) for kind in KINDS for control in kind.controls()]


def _id(pair: tuple[CheckKind, Control]) -> str:
    kind, control = pair
    return f"{kind.name}: {control.name}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_kind_has_a_correct_an_incorrect_and_an_invalid_control(kind):
    controls = list(kind.controls())
    assert callable(kind.score) and callable(kind.label)
    correct = [c for c in controls if c.credit == 1.0 and c.fault is None]
    incorrect = [c for c in controls if c.credit < 1.0 and c.fault in (None, Fault.NONE)]
    invalid = [c for c in controls if c.credit == 0.0
               and c.fault in (Fault.MISSING, Fault.ERRORED, Fault.TIMED_OUT)]
    assert correct, f"{kind.name}: no control that earns the credit"
    assert incorrect, f"{kind.name}: no control that must not earn it"
    assert invalid, f"{kind.name}: no missing, crashed or timed-out control"
    assert all(isinstance(c.check, kind.spec) for c in controls)
    assert all(kind.label(c.check) for c in controls)
    names = [c.name for c in controls]
    assert len(names) == len(set(names)), f"{kind.name}: two controls of the same name"


@pytest.mark.parametrize(("kind", "control"), CONTROLS, ids=[_id(p) for p in CONTROLS])
def test_each_control_earns_exactly_its_credit(kind, control):
    score = kind.score(control.check, control.evidence)
    assert score.fraction == pytest.approx(control.credit, abs=1e-9), score.feedback
    if control.fault is not None:
        assert score.fault is control.fault, score.feedback
    elif control.credit < 1.0:
        assert score.fault is Fault.NONE, score.feedback  # a wrong answer is no crash
    if control.credit < 1.0:
        assert score.feedback, "credit withheld is explained"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_kind_names_its_kernel_half_or_none(kind):
    if kind.request is not _NO_REQUEST or kind.calls:
        assert kind.kernel, f"{kind.name} asks the kernel for evidence but names no module"
    if kind.calls:
        assert kind.kernel == "probe"  # function calls are made by the probe itself
    if kind.kernel:
        # found, never imported: the trusted side does not import the kernel's code
        assert importlib.util.find_spec(f"graders.kernel.{kind.kernel}") is not None, \
            f"{kind.name}: no module graders/kernel/{kind.kernel}.py"
