"""Methods the notebook must call (``model.train()`` and ``model.eval()``)."""

from __future__ import annotations

from dataclasses import replace

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence
from graders.scoring.function import CheckScore, Fault
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
        *_elsewhere(with_modes, test),
    ]


def _elsewhere(with_modes: str, test: str) -> list[Control[CallsCheck]]:
    """The question's own part is missing; train() and eval() stand in another
    question's part (the MNIST network's), which does not answer it. Where the part is
    there, helpers defined earlier count (its cells call fit(), which calls train())."""
    question = ctl.question_for(MODES, prompt="Implement Dropout after your fully connected "
                                              "layers and batch normalization")
    mnist = (ctl.md("## 2 Getting to know PyTorch"), ctl.code(with_modes),
             ctl.code(f"net.eval()\n{test}"))
    bonus = (ctl.md("iv) Implement Dropout after your fully connected layers and batch "
                    "normalization after the convolutional layers."),
             ctl.code("vgg_bn = VGG_BN()\ntrain(vgg_bn, loader, 2)\nevaluate(vgg_bn)"))
    laid_out = replace(ctl.context(cells=ctl.notebook(*mnist)),
                       claimed=(("2", frozenset({1, 2})),))
    return [
        Control("train() and eval() only in another question's part", MODES,
                ctl.evidence(question, models=laid_out), 0.0),
        Control("the part there, its training through helpers defined earlier", MODES,
                ctl.evidence(question, models=ctl.context(
                    cells=ctl.notebook(*mnist, *bonus))), 1.0),
    ]


def _score(check: CallsCheck, ev: Evidence) -> CheckScore:
    score = score_calls(check, ev.context())
    if score.fraction and check.after_earlier and ev.earlier and not any(ev.earlier):
        return CheckScore(0.0, [f"{', '.join(f'{n}()' for n in check.calls)} matter for "
                                "what this question asks of the network, which the checks "
                                "before found none of" + (f" ({check.why})" if check.why
                                                            else "")])
    return score


def _after_earlier() -> list[Control[CallsCheck]]:
    """The bonus's train()/eval(): worth something only beside the dropout or batch norm
    they switch (the question's architecture check, before it, earned some credit)."""
    check = replace(MODES, after_earlier=True)
    question = ctl.question_for(check)
    with_modes = _OWN_TRAIN.replace("    for epoch", "    net.train()\n    for epoch")
    cells = ctl.notebook(ctl.code(with_modes), ctl.code("vgg.eval()\nacc = evaluate(vgg)"))

    def control(name: str, earlier: tuple[float, ...], credit: float) -> Control[CallsCheck]:
        ev = ctl.evidence(question, models=ctl.context(cells=cells))
        return Control(name, check, replace(ev, earlier=earlier), credit)

    return [control("train() and eval() beside a VGG with no dropout or batch norm", (0.0,),
                    0.0),
            control("train() and eval() beside the VGG with batch norm only", (0.5,), 1.0),
            control("train() and eval(), the question's first check", (), 1.0)]


CALLS = CheckKind(spec=CallsCheck, name="calls", label=lambda c: "calls", score=_score,
                  grades_models=True, controls=lambda: [*controls(), *_after_earlier()],
                  kernel="")
