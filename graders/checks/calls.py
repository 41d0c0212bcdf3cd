"""Methods the notebook must call (``model.train()`` and ``model.eval()``)."""

from __future__ import annotations

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control
from graders.scoring.function import Fault
from graders.scoring.models.static import score_calls
from graders.spec import CallsCheck

MODES = CallsCheck(points=1, calls=("train", "eval"),
                   why="dropout and batch norm behave differently in training and testing")
_OWN_TRAIN = """def train(net, loader, epochs):
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            criterion(net(x), y).backward()
            optimizer.step()
"""


def controls() -> list[Control[CallsCheck]]:

    def control(name: str, training: str, testing: str, credit: float,
                fault: Fault | None = None) -> Control[CallsCheck]:
        cells = ctl.notebook(ctl.code(training), ctl.code(testing))
        return Control(name, MODES, ctl.evidence(
            ctl.question_for(MODES), models=ctl.context(cells=cells)), credit, fault)

    with_modes = _OWN_TRAIN.replace("    for epoch", "    net.train()\n    for epoch")
    test = "correct = (vgg(x).argmax(1) == y).sum()"
    return [
        control("model.train() in training, model.eval() before testing", with_modes,
                f"vgg.eval()\n{test}", 1.0),
        # the credit is split over the calls asked
        control("model.eval() never called", with_modes, test, 0.5),
        control("model.train(False) before testing: that is eval()", with_modes,
                f"vgg.train(False)\n{test}", 1.0),
        control("model.train(False) only, never train()", _OWN_TRAIN.replace(
            "    for epoch", "    net.train(False)\n    for epoch"), f"vgg.eval()\n{test}", 0.5),
        control("only the notebook's own train() and Python's eval()", _OWN_TRAIN +
                "train(vgg, loader, 2)", f"n = eval('len(testset)')\n{test}", 0.0),
        control("the training cell is not valid Python", with_modes + "train(vgg, loader, 2",
                test, 0.0, Fault.ERRORED),
    ]


CALLS = CheckKind(spec=CallsCheck, name="calls", label=lambda c: "calls",
                  score=lambda c, ev: score_calls(c, ev.context()), grades_models=True,
                  controls=controls, kernel="")
