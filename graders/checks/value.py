"""Value answers: numbers, counts, shapes and short texts the notebook gives for a named
quantity (variables, cell results, markdown), against the reference's answer."""

from __future__ import annotations

from typing import Any

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence, Planning, Request
from graders.protocol import ModelRequestKind
from graders.results import CallStatus
from graders.scoring.answers import score_value
from graders.scoring.function import CheckScore, Fault
from graders.spec import AnswerForm, Tolerance, ValueCheck


def score(check: ValueCheck, ev: Evidence) -> CheckScore:
    return score_value(check, ev.record, ev.context(), ev.cache.solution)


def request(check: ValueCheck, planning: Planning) -> Request:
    # one request reads every named variable of the assignment
    return {"kind": ModelRequestKind.VALUES.value, "names": list(planning.value_names)}, None


def validate(check: ValueCheck, solution: Any) -> str | None:
    if not hasattr(solution, check.reference):
        return f"the reference solution has no answer {check.reference!r}"
    return None


# ------------------------------------------------------------------------- controls
_PROMPT = "What are the number of input and output channels?"
IN_CHANNELS = ValueCheck(points=1, label="the input channels", reference="in_channels",
                         names=("in_channels", "n_in"), form=AnswerForm.COUNT,
                         tolerance=Tolerance(rtol=0.0, atol=1e-9),
                         labels=("input channels", "input"))
OUT_CHANNELS = ValueCheck(points=1, label="the output channels", reference="out_channels",
                          names=("out_channels", "n_out"), form=AnswerForm.COUNT,
                          tolerance=Tolerance(rtol=0.0, atol=1e-9),
                          labels=("output channels", "output"))


def controls() -> list[Control[ValueCheck]]:
    """The input channels of a convolution (10, with 20 output channels), answered in a
    cell under the prompt; the values probe reads the named variables."""
    question = ctl.question_for(IN_CHANNELS, OUT_CHANNELS, section=r"problem 2",
                                prompt=_PROMPT)
    solution = ctl.reference(in_channels=10, out_channels=20)

    def control(name: str, answer: str, printed: str, variables: dict[str, int],
                credit: float, fault: Fault | None = None, *, probe: bool = True,
                shown: int | None = None) -> Control[ValueCheck]:
        cells = ctl.notebook(ctl.md("## Problem 2: convolutions"), ctl.md(_PROMPT),
                             ctl.code(answer, text=printed))
        outputs = [[2, shown]] if shown is not None else []
        records = ctl.answered({"variables": variables,
                                "scalars": {k: float(v) for k, v in variables.items()},
                                "outputs": outputs}, "values") if probe else \
            ctl.failed(CallStatus.ERROR, "KernelDied: the kernel died", "values")
        return Control(name, IN_CHANNELS, ctl.evidence(
            question, solution=solution, records=records,
            models=ctl.context(cells=cells)), credit, fault)

    right = "in_channels = 10\nout_channels = 20\n"
    swapped = "in_channels = 20\nout_channels = 10\n"
    show = 'print(f"in_channels = {in_channels}, out_channels = {out_channels}")'
    return [
        control("in_channels = 10", right + show, "in_channels = 10, out_channels = 20\n",
                {"in_channels": 10, "out_channels": 20}, 1.0),
        control("written under the prompt, no variable", "# input channels: 10", "", {}, 1.0),
        # the named quantity is wrong; the 10 on the same printed line is out_channels
        control("in and out swapped, printed on one line", swapped + show,
                "in_channels = 20, out_channels = 10\n",
                {"in_channels": 20, "out_channels": 10}, 0.0),
        control("in and out swapped, the cell showing out_channels", swapped + "out_channels",
                "10", {"in_channels": 20, "out_channels": 10}, 0.0, shown=10),
        control("in_channels = 3 (the RGB channels)", "in_channels = 3", "",
                {"in_channels": 3}, 0.0),
        control("no answer: the values probe died and nothing is written", "", "", {}, 0.0,
                Fault.MISSING, probe=False),
    ]


VALUE = CheckKind(spec=ValueCheck, name="value", score=score, request=request,
                  validate=validate, label=lambda c: c.label, controls=controls,
                  kernel="probe")
