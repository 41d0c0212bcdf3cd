"""Value answers: numbers, counts, shapes and short texts the notebook gives for a named
quantity (variables, cell results, markdown), against the reference's answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

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
        *_traces(),
        *_partial(),
    ]


PARAMETERS = ValueCheck(points=2, label="the trainable parameters", reference="parameters",
                        names=("n_params",), form=AnswerForm.COUNT,
                        tolerance=Tolerance(rtol=0.0, atol=1e-9), labels=("parameters",),
                        partial=((1_800, 0.5, "the weights, without the 20 biases"),))


def _partial() -> list[Control[ValueCheck]]:
    """A count a TA gives part of the credit (the weights right, the biases left out),
    and only that count: another wrong one earns nothing."""
    question = ctl.question_for(PARAMETERS, section=r"problem 2")
    solution = ctl.reference(parameters=1_820)

    def control(name: str, written: str, credit: float) -> Control[ValueCheck]:
        cells = ctl.notebook(ctl.md("## Problem 2: convolutions"), ctl.md(written))
        return Control(name, PARAMETERS, ctl.evidence(
            question, solution=solution, records=ctl.answered(
                {"variables": {}, "scalars": {}, "outputs": []}, "values"),
            models=ctl.context(cells=cells)), credit)

    return [control("(d) 3*3*10*20 + 20 = 1,820 parameters", "(d) 3*3*10*20 + 20 = 1,820 "
                    "parameters", 1.0),
            control("(d) 3*3*10*20 = 1,800 parameters: the biases left out",
                    "(d) 3*3*10*20 = 1,800 parameters", 0.5),
            control("(d) 3*3*20 + 20 = 200 parameters", "(d) 3*3*20 + 20 = 200 parameters",
                    0.0),
            # the near answer on the way, another answer given: that one is graded
            control("(d) 1,810 parameters, the weights' 1,800 on the way",
                    "(d) 3*3*10*20 = 1,800 weights, 1,800 + 10 = 1,810 parameters", 0.0),
            # the right count stated only to be dismissed is withdrawn, as a struck one is
            control("(d) 1,800, with 1,820 dismissed (\"it would be ..., but\")",
                    "(d) Parameters: 1,800. With a bias per filter it would be 1,820 "
                    "parameters, but the bias is fixed, not trained.", 0.5),
            control("(d) 1,820 stated as what it would be, nothing dismissed",
                    "(d) Counting the biases, the layer would have 1,820 parameters.", 1.0)]


V1 = ValueCheck(points=0.5, label="v1 = x1 / x2", reference="v1", names=("v1",),
                form=AnswerForm.NUMBER, tolerance=Tolerance(rtol=5e-3, atol=5e-3), among=True)
V4 = ValueCheck(points=0.5, label="v4 = v1 - v3", reference="v4", names=("v4",),
                form=AnswerForm.NUMBER, tolerance=Tolerance(rtol=5e-3, atol=5e-3), among=True)


def _traces() -> list[Control[ValueCheck]]:
    """A forward trace at x = (1.5, 0.5): each intermediate is looked for among the values
    the notebook shows. A printed grid of numbers shows every value, and answers none."""
    question = ctl.question_for(V1, V4, section=r"forward", prompt="Give the forward trace")
    solution = ctl.reference(v1=3.0, v4=3.0 - 1.6487212707)

    def control(name: str, printed: list[str], credit: float,
                headed: bool = True, fault: Fault | None = None) -> Control[ValueCheck]:
        heading = [ctl.md("## Forward trace"), ctl.md("Give the forward trace")] \
            if headed else [ctl.md("## 2 Getting to know PyTorch")]
        cells = ctl.notebook(*heading, *(ctl.code(f"print(row_{i})", text=p)
                                         for i, p in enumerate(printed)))
        return Control(name, V4, ctl.evidence(
            question, index=1, solution=solution, records=ctl.answered(
                {"variables": {}, "scalars": {}, "outputs": []}, "values"),
            models=ctl.context(cells=cells, values=(V1, V4))), credit, fault)

    grid = [" ".join(f"{v:.2f}" for v in np.round(np.arange(-10, 10, 0.01), 2)[i::4])
            for i in range(4)]
    return [
        control("the trace printed", ["v1 = 3.0\nv2 = 0.1411\nv3 = 1.6487\nv4 = 1.3513\n"],
                1.0),
        control("the trace, v4 written with v3's sign flipped",
                ["v1 = 3.0\nv2 = 0.1411\nv3 = 1.6487\nv4 = 4.6487\n"], 0.0),
        # every number from -10 to 10 in steps of 0.01, printed 500 to a cell
        control("a printed grid of numbers", grid, 0.0),
        # no part answers the trace, and the notebook is read whole: a cell that prints
        # hundreds of numbers answers none of them, a short log still can
        control("hundreds of numbers a cell, no part headed for the trace", grid, 0.0,
                headed=False, fault=Fault.MISSING),
        control("the trace printed, no part headed for it",
                ["v1 = 3.0\nv2 = 0.1411\nv3 = 1.6487\nv4 = 1.3513\n"], 1.0, headed=False),
    ]


# a forward/reverse trace (Heidelberg's sheet): v1 = x1/x2 = 3 and dy/dx1 = 3.0118 lie
# within the trace's tolerance of each other
_TRACE = Tolerance(rtol=5e-3, atol=5e-3)
V1 = ValueCheck(points=0.5, label="v1 = x1 / x2", reference="v1", names=("v1", "v_1"),
                tolerance=_TRACE, among=True)
DY_DX1 = ValueCheck(points=1.5, label="dy/dx1", reference="dy_dx1",
                    names=("dy_dx1", "x1_bar", "dx1"), tolerance=_TRACE, among=True,
                    by_hand=True)


def _trace_controls() -> list[Control[ValueCheck]]:
    """An intermediate of a trace is any value the answer shows, whatever the student
    called it, except one that belongs to another quantity of the trace."""
    question = ctl.question_for(V1, DY_DX1, section=r"trace")
    solution = ctl.reference(v1=3.0, dy_dx1=3.0118)

    def control(name: str, check: ValueCheck, source: str, printed: str,
                scalars: dict[str, float], credit: float,
                fault: Fault | None = None) -> Control[ValueCheck]:
        cells = ctl.notebook(ctl.md("## 1 Forward and reverse trace"),
                             ctl.code(source, text=printed))
        records = ctl.answered({"variables": {}, "scalars": scalars, "outputs": []}, "values")
        return Control(name, check, ctl.evidence(
            question, index=question.checks.index(check), solution=solution,
            records=records, models=ctl.context(cells=cells, values=(V1, DY_DX1))), credit,
            fault)

    return [
        control("dy/dx1 computed by hand as g1", DY_DX1, "g1 = 3.0118", "", {"g1": 3.0118},
                1.0),
        control("the reverse trace left as a TODO: v1 = 3.0 is not dy/dx1", DY_DX1,
                "v1 = 1.5 / 0.5\n# TODO reverse trace", "", {"v1": 3.0}, 0.0, Fault.MISSING),
        control("no forward trace: autograd's printed dy/dx1 is not v1", V1,
                "print('dy/dx1 =', x.grad[0].item())", "dy/dx1 = 3.0118\n", {}, 0.0,
                Fault.MISSING),
        control("v1 printed unnamed, rounded", V1, "print(x1 / x2)", "3.0\n", {}, 1.0),
        # the reverse trace is worked out: autograd's number is not it
        control("dy/dx1 printed by torch's autograd, no trace", DY_DX1,
                "y.backward()\ndy_dx1 = x.grad[0].item()\nprint('dy/dx1 =', dy_dx1)",
                "dy/dx1 = 3.0118\n", {"dy_dx1": 3.0118}, 0.0, Fault.MISSING),
        control("dy/dx1 worked out, then checked against autograd", DY_DX1,
                "x1_bar = v1_bar / x2 + 0.0118\nprint(x1_bar)\ny.backward()\n"
                "assert abs(x.grad[0] - x1_bar) < 1e-3", "3.0118\n", {"x1_bar": 3.0118}, 1.0),
        # its own name decides, however close the value lies to another's
        control("dy_dx1 = 3.0, rounded, in its own variable", DY_DX1, "dy_dx1 = 3.0", "",
                {"dy_dx1": 3.0}, 1.0),
        *_worked_steps(),
    ]


TRACED = replace(DY_DX1, steps=("v4_bar",))


def _worked_steps() -> list[Control[ValueCheck]]:
    """A reverse trace asked for: dy/dx1 counts where an adjoint that leads to it
    (v4_bar = 2.8437) is shown beside it, however its local derivatives were taken."""
    question = ctl.question_for(TRACED, section=r"trace")
    solution = ctl.reference(dy_dx1=3.0118, v4_bar=2.8437)

    def control(name: str, source: str, printed: str, credit: float,
                fault: Fault | None = None) -> Control[ValueCheck]:
        cells = ctl.notebook(ctl.md("## 1 Reverse trace"), ctl.code(source, text=printed))
        return Control(name, TRACED, ctl.evidence(
            question, solution=solution, records=ctl.answered(
                {"variables": {}, "scalars": {}, "outputs": []}, "values"),
            models=ctl.context(cells=cells)), credit, fault)

    literal = "print('x1_bar = dy/dx1 = 3.0118433278')"
    engine = ("for name, expr, parents in reversed(nodes):\n"
              "    adj[p] += adj[name] * sp.diff(expr, sym).subs(subs)\n"
              "print(adj)")
    return [
        control("dy/dx1 printed as a literal, no adjoint shown", literal,
                "x1_bar = dy/dx1 = 3.0118433278\n", 0.0),
        control("the adjoints printed, their local derivatives taken by sympy", engine,
                "bar v4 = 2.8437\nbar v1 = 1.5059\nbar x1 = 3.0118\n", 1.0),
        control("a literal dy/dx1 beside a wrong adjoint", literal + "\nprint(4.6487)",
                "x1_bar = dy/dx1 = 3.0118433278\n4.6487\n", 0.0),
        # autograd in a helper an earlier cell defines: the calling cell's numbers are
        # still the machine's
        Control("the adjoints from a helper of an earlier cell that runs autograd", TRACED,
                ctl.evidence(question, solution=solution, records=ctl.answered(
                    {"variables": {}, "scalars": {}, "outputs": []}, "values"),
                    models=ctl.context(cells=ctl.notebook(
                        ctl.code("def adjoints(x1, x2):\n    v4.retain_grad()\n"
                                 "    y.backward()\n    return v4.grad, x.grad"),
                        ctl.md("## 1 Reverse trace"),
                        ctl.code("bars = adjoints(1.5, 0.5)\nprint(bars)",
                                 text="v4_bar = 2.8437 x1_bar = 3.0118\n")))), 0.0,
                Fault.MISSING),
        # autograd keeping every node's gradient is the machine's trace, not a worked one
        control("the adjoints by autograd's retain_grad, dy/dx1 from x.grad",
                "v4.retain_grad()\ny.backward()\nprint(v4.grad.item(), x.grad[0].item())",
                "2.8437 3.0118\n", 0.0, Fault.MISSING),
    ]


VALUE = CheckKind(spec=ValueCheck, name="value", score=score, request=request,
                  validate=validate, label=lambda c: c.label,
                  controls=lambda: [*controls(), *_trace_controls()],
                  kernel="probe")
