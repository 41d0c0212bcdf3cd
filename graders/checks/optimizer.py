"""The optimizers the notebook constructs and their settings (read from its code), and
whether one so built took steps with gradients while it ran (counted in the kernel)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence
from graders.protocol import ModelRequestKind
from graders.results import CallStatus, CellRecord, CellStatus
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.context import ModelContext, _payload
from graders.scoring.models.static import Network, score_optimizers
from graders.spec import (
    ArchitectureCheck,
    Conv2d,
    Linear,
    ModelLocator,
    OptimizerCheck,
    OptimizerSetting,
    Question,
)

ADAM = OptimizerCheck(points=2, settings=(OptimizerSetting.of("Adam", lr=1e-3),))
ADAM_DECAY = OptimizerCheck(points=2, settings=(
    OptimizerSetting.of("Adam", lr=1e-4, weight_decay=1e-3),))
SGD_MOMENTUM = OptimizerCheck(points=3, settings=(
    OptimizerSetting.of("SGD", lr=0.001, momentum=0.9),))
BOTH = OptimizerCheck(points=2, settings=(OptimizerSetting.of("SGD", lr=0.01),
                                         OptimizerSetting.of("Adam", lr=0.01)))
# both built and handed to the notebook's own train(): only the kernel can tell which stepped
BOTH_TRAINED = ("sgd = optim.SGD(net.parameters(), lr=0.01)\n"
                "adam = optim.Adam(net.parameters(), lr=0.01)\ntrain(net, sgd)\ntrain(net, adam)")
_LOOPED = ("for kind, lr in [('SGD', 0.01), ('Adam', 0.01)]:\n"
           "    opt = optim.SGD(net.parameters(), lr=lr) if kind == 'SGD' else "
           "optim.Adam(net.parameters(), lr=lr)\n    train(net, opt)")
_LISTED = ("settings = {'sgd': (torch.optim.SGD, dict(lr=0.01)),\n"
           "            'adam': (torch.optim.Adam, dict(lr=0.01))}\n"
           "for name, (opt_class, kwargs) in settings.items():\n"
           "    train(net, opt_class(net.parameters(), **kwargs))")
TRAINED_SGD = replace(SGD_MOMENTUM, min_steps=100)
_SGD_LOOP = ("optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)\n"
             "for x, y in loader:\n    optimizer.zero_grad()\n"
             "    criterion(net(x), y).backward()\n    optimizer.step()\n")
NESTEROV = OptimizerCheck(points=2, settings=(
    OptimizerSetting.of("SGD", lr=0.01),
    OptimizerSetting.of("SGD", lr=0.01, momentum=0.9, nesterov=True)))


def controls() -> list[Control[OptimizerCheck]]:
    """Adam with lr 1e-3 (Adam's default), and SGD with lr 0.001 and momentum 0.9: each
    constructed with those settings and used (read again: stepped, passed to a training
    function, kept in a collection); one built and left unused does not count."""

    def control(name: str, check: OptimizerCheck, line: str, credit: float,
                fault: Fault | None = None, *, magic: str = "",
                use: str = "\ntrain(net, optimizer)",
                stepped: tuple[dict[str, Any], ...] | None = None) -> Control[OptimizerCheck]:
        """``stepped``: what the kernel saw step (by default, every setting the check
        lists, as the code builds it: the static reading is what is under test)."""
        cells = ctl.notebook(ctl.code("%matplotlib inline\nimport torch.optim as optim"),
                             ctl.code(f"{magic}criterion = nn.CrossEntropyLoss()\n{line}{use}"))
        records = stepped if stepped is not None else tuple(
            step(s.name, **dict(s.kwargs)) for s in check.settings)
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), records=ctl.answered({"optimizers": list(records)}),
            models=ctl.context(cells=cells)), credit, fault)

    def witnessed(name: str, check: OptimizerCheck, line: str, credit: float,
                  stepped: tuple[dict[str, Any], ...]) -> Control[OptimizerCheck]:
        return control(name, check, line, credit, use="", stepped=stepped)

    adam = "optimizer = optim.Adam(net.parameters(), lr=1e-3)\n"
    loop = ("for x, y in loader:\n    optimizer.zero_grad()\n"
            "    criterion(net(x), y).backward()\n    optimizer.step()\n")

    return [
        control("Adam(lr=1e-3)", ADAM, "optimizer = optim.Adam(net.parameters(), lr=1e-3)", 1.0),
        control("Adam with its default learning rate", ADAM,
                "optimizer = optim.Adam(net.parameters())", 1.0),
        control("Adam(lr=10**-3), worked out", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=10**-3)", 1.0),
        control("SGD(lr=0.001, momentum=0.9) in a %%time cell", SGD_MOMENTUM,
                "optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)\n"
                "!nvidia-smi\ntrain(model, optimizer)", 1.0, magic="%%time\n"),
        # AdamW is Adam with weight decay, where the handout asks for weight decay
        control("AdamW(lr=1e-4, weight_decay=1e-3) for Adam with weight decay 1e-3",
                ADAM_DECAY, "optimizer = optim.AdamW(net.parameters(), lr=1e-4, "
                            "weight_decay=1e-3)", 1.0),
        control("AdamW(lr=1e-4) of its default decay 1e-2, where 1e-3 is asked",
                ADAM_DECAY, "optimizer = optim.AdamW(net.parameters(), lr=1e-4)", 0.5),
        control("AdamW(lr=1e-3) where plain Adam is asked", ADAM,
                "optimizer = optim.AdamW(net.parameters(), lr=1e-3)", 0.0),
        control("Adam(lr=1e-2): ten times the learning rate", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-2)", 0.0),
        # worked out, 10**-2 is 0.01: not Adam's default
        control("Adam(lr=10**-2)", ADAM, "optimizer = optim.Adam(net.parameters(), lr=10**-2)",
                0.0),
        control("SGD with lr 1e-3 where Adam is asked", ADAM,
                "optimizer = optim.SGD(net.parameters(), lr=1e-3)", 0.0),
        control("SGD(params, 0.001, 0.9): lr and momentum by position", SGD_MOMENTUM,
                "optimizer = optim.SGD(net.parameters(), 0.001, 0.9)", 1.0),
        # the right optimizer and learning rate, another setting off: half, as a TA
        # gives a forgotten momentum or weight decay
        control("SGD(params, 0.001, 0.5): the wrong momentum by position", SGD_MOMENTUM,
                "optimizer = optim.SGD(net.parameters(), 0.001, 0.5)", 0.5),
        control("SGD without the momentum", SGD_MOMENTUM,
                "optimizer = optim.SGD(model.parameters(), lr=0.001)", 0.5),
        control("SGD(lr=0.01, momentum=0.5): the learning rate and the momentum off",
                SGD_MOMENTUM, "optimizer = optim.SGD(model.parameters(), lr=0.01, "
                              "momentum=0.5)", 0.0),
        control("SGD without the momentum, built and never used", SGD_MOMENTUM,
                "optimizer = optim.SGD(model.parameters(), lr=0.001)", 0.0, use=""),
        witnessed("SGD without the momentum, stepped 2,250 times",
                  TRAINED_SGD, "optimizer = optim.SGD(net.parameters(), lr=0.001)\n"
                  + _SGD_LOOP.split("\n", 1)[1], 0.5, (step("SGD", lr=0.001, steps=2250),)),
        witnessed("SGD without the momentum, stepped once where 100 are asked",
                  TRAINED_SGD, "optimizer = optim.SGD(net.parameters(), lr=0.001)\n"
                  + _SGD_LOOP.split("\n", 1)[1], 0.0, (step("SGD", lr=0.001, steps=1),)),
        control("Adam(lr=1e-3) built and never used", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-3)", 0.0, use=""),
        control("two optimizers built, only SGD used", BOTH,
                "sgd = optim.SGD(net.parameters(), lr=0.01)\n"
                "adam = optim.Adam(net.parameters(), lr=0.01)", 0.5, use="\ntrain(net, sgd)"),
        control("both built inline as the training function's argument", BOTH,
                "train(net, optim.SGD(net.parameters(), lr=0.01))\n"
                "train(net, optim.Adam(net.parameters(), lr=0.01))", 1.0, use=""),
        control("both built by factories in a dict, used in a loop", BOTH,
                "makers = {'sgd': lambda p: optim.SGD(p, lr=0.01),\n"
                "          'adam': lambda p: optim.Adam(p, lr=0.01)}\n"
                "for name, make in makers.items():\n"
                "    train(net, make(net.parameters()))", 1.0, use=""),
        # the handout lists plain SGD and Nesterov SGD: the Nesterov one is no plain SGD
        control("Nesterov SGD only, where plain and Nesterov SGD are both asked", NESTEROV,
                "makers = [lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)]\n"
                "for make in makers:\n    train(net, make(net.parameters()))", 0.5, use=""),
        control("plain and Nesterov SGD both built and used", NESTEROV,
                "for make in [lambda p: optim.SGD(p, lr=0.01),\n"
                "             lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)]:\n"
                "    train(net, make(net.parameters()))", 1.0, use=""),
        control("Adam(lr=1e-3) in a loop whose step() is commented out", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-3)\n"
                "for x, y in loader:\n    optimizer.zero_grad()\n"
                "    criterion(net(x), y).backward()\n"
                "    # optimizer.step()  # too slow on Colab, later\n", 0.0, use=""),
        control("Adam(lr=1e-3) stepped in the notebook's own loop", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-3)\n"
                "for x, y in loader:\n    optimizer.zero_grad()\n"
                "    criterion(net(x), y).backward()\n    optimizer.step()\n", 1.0, use=""),
        control("built by name from a list of (name, settings) with getattr", BOTH,
                "settings = [('SGD', dict(lr=0.01)), ('Adam', {'lr': 0.01})]\n"
                "for name, kw in settings:\n"
                "    train(net, getattr(torch.optim, name)(net.parameters(), **kw))", 1.0,
                use=""),
        # the same list with no getattr of torch.optim: names in a list build nothing
        control("a list of (name, settings) never turned into optimizers", BOTH,
                "settings = [('SGD', dict(lr=0.01)), ('Adam', {'lr': 0.01})]\n"
                "print(settings)", 0.0, use=""),
        control("the optimizer's cell is not valid Python", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-3", 0.0, Fault.ERRORED),
        # what the kernel saw step decides what the code alone cannot show
        witnessed("Adam(lr=1e-3) stepped with gradients", ADAM, adam + loop, 1.0,
                  (step("Adam", lr=1e-3),)),
        witnessed("Adam(lr=1e-3) handed to a fit() that never steps it (the notebook "
                  "steps another optimizer elsewhere)", ADAM, adam + loop, 0.0,
                  (step("SGD", lr=0.01, steps=0, with_grad=0), step("Adam", lr=1e-3,
                                                                     steps=0, with_grad=0))),
        witnessed("Adam(lr=1e-3) stepped in a loop over zero epochs", ADAM, adam + loop, 0.0,
                  ()),
        witnessed("Adam(lr=1e-3) stepped without any gradient (no backward)", ADAM,
                  adam + loop, 0.0, (step("Adam", lr=1e-3, with_grad=0),)),
        # the weights loaded back after every step: each step undone, nothing trained
        witnessed("Adam(lr=1e-3) stepped 100 times, 99 of them undone", ADAM, adam + loop,
                  0.0, ({**step("Adam", lr=1e-3, with_grad=1), "undone": 99},)),
        witnessed("Adam(lr=1e-3) with 1 step undone of 100 (early stopping's restore)",
                  ADAM, adam + loop, 1.0, ({**step("Adam", lr=1e-3, with_grad=99),
                                            "undone": 1},)),
        witnessed("Adam built with lr=1e-3, stepped as another Adam with lr=1e-2", ADAM,
                  adam + loop, 0.0, (step("Adam", lr=1e-2),)),
        witnessed("of the two, only SGD stepped", BOTH,
                  BOTH_TRAINED, 0.5, (step("SGD", lr=0.01),)),
        # settings the text cannot read (a loop's variables, a class from a list called
        # with **kw): torch's own steps say which trained
        witnessed("settings from a loop's variables, each stepped", BOTH, _LOOPED, 1.0,
                  (step("SGD", lr=0.01), step("Adam", lr=0.01))),
        witnessed("classes from a list called with **kw, each stepped", BOTH, _LISTED, 1.0,
                  (step("SGD", lr=0.01), step("Adam", lr=0.01))),
        witnessed("settings from a loop's variables, only SGD stepped", BOTH, _LOOPED, 0.5,
                  (step("SGD", lr=0.01),)),
        # a class renamed SGD that steps as Adam: the kernel names the torch class whose
        # step ran; one with a step of its own is nobody's
        witnessed("a class of its own stepping where SGD is asked", BOTH, _LOOPED, 0.5,
                  (step("SGD (own step)", lr=0.01), step("Adam", lr=0.01))),
        # one step taken for show before another network is trained (TUM asks for 100)
        witnessed("SGD stepped once, where 100 steps are asked", TRAINED_SGD,
                  _SGD_LOOP, 0.0, (step("SGD", lr=0.001, momentum=0.9, steps=1),)),
        witnessed("SGD stepped 2,250 times, where 100 steps are asked", TRAINED_SGD,
                  _SGD_LOOP, 1.0, (step("SGD", lr=0.001, momentum=0.9, steps=2250),)),
        # the text alone cannot make an optimizer of one it does not read
        witnessed("no optimizer built anywhere, a step record claims one", ADAM,
                  "train(net)", 0.0, (step("Adam", lr=1e-3),)),
        # the code decides where the kernel could not count: no step hook in its torch,
        # or a cell that ran out of time (the kernel restarted, its counts are gone)
        Control("no step hook in the kernel's torch: built and stepped in the code", ADAM,
                ctl.evidence(ctl.question_for(ADAM),
                             records=ctl.answered({"optimizers": None}),
                             models=ctl.context(cells=ctl.notebook(ctl.code(adam + loop)))),
                1.0),
        Control("the training cell ran out of time: built and stepped in the code", ADAM,
                ctl.evidence(ctl.question_for(ADAM), records=ctl.answered({"optimizers": []}),
                             models=ctl.context(
                                 cells=ctl.notebook(ctl.code(adam + loop)),
                                 records=[CellRecord(index=0, status=CellStatus.TIMEOUT,
                                                     error="ran past 600 s")])), 1.0),
        Control("the kernel's step counts are not a list", ADAM, ctl.evidence(
            ctl.question_for(ADAM), records=ctl.answered({"optimizers": "all of them"}),
            models=ctl.context(cells=ctl.notebook(ctl.code(adam + loop)))), 0.0,
            Fault.ERRORED),
        # an optimizer under study stepped a few times before another took over the same
        # network trained nothing; fresh copies of one network trained for a few times
        # fewer steps each did train
        witnessed("six warm-up steps of SGD before an Adam trains the same network 600",
                  BOTH, BOTH_TRAINED, 0.5,
                  (step("SGD", lr=0.01, steps=6), step("Adam", lr=0.01, steps=600))),
        witnessed("SGD for 100 steps and Adam for 600, each on its own copy of the network",
                  BOTH, BOTH_TRAINED, 1.0,
                  (step("SGD", lr=0.01, steps=100), step("Adam", lr=0.01, steps=600))),
        # a bonus part's long run with another optimizer on the same network sets no
        # floor for the settings under study
        witnessed("SGD and Adam 100 steps each, a bonus AdamW 5,000 on the same network",
                  BOTH, BOTH_TRAINED, 1.0,
                  (step("SGD", lr=0.01), step("Adam", lr=0.01),
                   step("AdamW", lr=0.001, steps=5000))),
        witnessed("six SGD steps on one network, Adam's 600 on another network",
                  BOTH, BOTH_TRAINED, 1.0,
                  (step("SGD", lr=0.01, steps=6), step("Adam", lr=0.01, steps=600,
                                                       shapes=((64, 1, 3, 3), (64,))))),
        # the kernel's "continued": a run starting from exactly the weights another
        # setting's run left; "fresh": one starting elsewhere (new weights, or the
        # initial ones reloaded). A setting only ever continued is half a setting
        witnessed("SGD, then Adam on from where SGD left the network", BOTH,
                  BOTH_TRAINED, 0.75,
                  (step("SGD", lr=0.01), {**step("Adam", lr=0.01), "continued": True})),
        witnessed("SGD, then Adam on the same network reset by loading its initial weights",
                  BOTH, BOTH_TRAINED, 1.0,
                  (step("SGD", lr=0.01), {**step("Adam", lr=0.01), "fresh": True})),
        witnessed("Adam continued from SGD once, and also run from fresh weights", BOTH,
                  BOTH_TRAINED, 1.0,
                  (step("SGD", lr=0.01),
                   {**step("Adam", lr=0.01), "continued": True, "fresh": True})),
        witnessed("one setting alone continued from another's (fine-tuning)", ADAM,
                  "sgd = optim.SGD(net.parameters(), lr=0.01)\n" + adam + loop, 1.0,
                  (step("SGD", lr=0.01), {**step("Adam", lr=1e-3), "continued": True})),
        # numbers only: an array where a number belongs is no setting (nor a crash)
        witnessed("settings sent as arrays are read as no settings", BOTH,
                  BOTH_TRAINED, 0.0,
                  tuple({**step(name), "settings": {"lr": np.array([0.01])},
                         "shapes": [np.array([100, 784])]} for name in ("SGD", "Adam"))),
        Control("the kernel's step counts did not come back", ADAM, ctl.evidence(
            ctl.question_for(ADAM), records=ctl.failed(CallStatus.TIMEOUT, "did not finish "
                                                       "within 60 s", "optimizers"),
            models=ctl.context(cells=ctl.notebook(ctl.code(adam + loop)))),
            0.0, Fault.TIMED_OUT),
        *_for_the_questions_model(),
        *_in_the_questions_part(),
    ]


def step(name: str, *, steps: int = 100, with_grad: int | None = None,
         shapes: tuple[tuple[int, ...], ...] = ((100, 784), (100,)), **settings: Any
         ) -> dict[str, Any]:
    """An optimizer as the kernel's step hook records it (settings from its defaults)."""
    defaults: dict[str, dict[str, Any]] = {
        "Adam": {"lr": 1e-3, "weight_decay": 0, "amsgrad": False},
        "SGD": {"momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False}}
    return {"class": name, "settings": {**defaults.get(name, {}), **settings},
            "shapes": [list(s) for s in shapes], "steps": steps,
            "with_grad": steps if with_grad is None else with_grad, "after_cells": [1]}


def _for_the_questions_model() -> list[Control[OptimizerCheck]]:
    """A question that names its network (the CNN's layers): an optimizer that stepped
    another network (the MLP of the question before) is no answer to it."""
    cnn = ArchitectureCheck(points=2, locate=ModelLocator(names=("cnn",)),
                            layers=(Conv2d(1, 16, 3), Conv2d(16, 32, 3), Linear(None, 10)))
    check = OptimizerCheck(points=1, settings=(OptimizerSetting.of("Adam", lr=0.01),))
    question = ctl.question_for(cnn, check)
    cells = ctl.notebook(ctl.code("opt = torch.optim.Adam(cnn.parameters(), lr=0.01)\n"
                                  "fit(cnn, opt)"))

    def control(name: str, shapes: tuple[tuple[int, ...], ...],
                credit: float) -> Control[OptimizerCheck]:
        return Control(name, check, ctl.evidence(
            question, index=1, records=ctl.answered({"optimizers": [
                step("Adam", lr=0.01, shapes=shapes)]}), models=ctl.context(cells=cells)),
            credit)

    # a question that trains the network an earlier question built (TUM's 2.3 trains
    # 2.2's MLP): that network is the question's
    training = replace(ctl.question_for(check), id="2.3")
    built = replace(ctl.question_for(cnn), id="2.2")
    context = replace(ctl.context(cells=cells), questions=(built, training),
                      architectures=(("2.2", cnn.layers),))

    def later(name: str, shapes: tuple[tuple[int, ...], ...],
              credit: float) -> Control[OptimizerCheck]:
        return Control(name, check, ctl.evidence(
            training, records=ctl.answered({"optimizers": [
                step("Adam", lr=0.01, shapes=shapes)]}), models=context), credit)

    # the fixed-feature tutorial: only the new head of a frozen pretrained backbone
    resnet = (Conv2d(3, 64, 7), Linear(512, 2))
    frozen = replace(ctl.context(cells=cells), questions=(built, training),
                     architectures=(("2.2", resnet),))

    def head(name: str, shapes: tuple[tuple[int, ...], ...],
             credit: float) -> Control[OptimizerCheck]:
        return Control(name, check, ctl.evidence(
            training, records=ctl.answered({"optimizers": [
                step("Adam", lr=0.01, shapes=shapes)]}), models=frozen), credit)

    return [later("Adam stepped on the CNN an earlier question built", ((16, 1, 3, 3),),
                  1.0),
            head("Adam stepped only the new head on the backbone's 512 features",
                 ((2, 512), (2,)), 1.0),
            head("Adam stepped only a head of another width (48 features)", ((2, 48), (2,)),
                 0.0),
            later("Adam stepped only on a toy regression beside it", ((1, 4), (1,)), 0.0),
            control("Adam stepped on the CNN the question names", ((16, 1, 3, 3), (16,)), 1.0),
            # its first convolution's width is the architecture check's fault, charged there
            control("Adam stepped on a CNN whose first convolution has 32 channels",
                    ((32, 1, 5, 5), (32,)), 1.0),
            control("Adam stepped on an MLP, not the question's CNN", ((100, 784), (100,)),
                    0.0)]


def _in_the_questions_part() -> list[Control[OptimizerCheck]]:
    """Plain and Nesterov SGD asked in the MLP's part (EE-411 2.2): a Nesterov SGD that
    only the permuted-digits part (2.5) stepped is that part's, not this one's."""
    plain = "sgd = optim.SGD(net.parameters(), lr=0.01)\nfit(net, sgd)"
    nesterov = ("opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)\n"
                "fit(net, opt)")
    cells = ctl.notebook(ctl.md("## 2.2 The MLP"), ctl.code(f"{plain}\n{nesterov}"),
                         ctl.md("## 2.5 PermutedKMNIST"), ctl.code(nesterov))
    question = replace(ctl.question_for(NESTEROV), id="2.2")
    parts = (("2.2", frozenset({0, 1})), ("2.5", frozenset({2, 3})))

    def control(name: str, plain_after: list[int], nesterov_after: list[int],
                credit: float) -> Control[OptimizerCheck]:
        records = [step("SGD", lr=0.01) | {"after_cells": plain_after},
                   step("SGD", lr=0.01, momentum=0.9, nesterov=True)
                   | {"after_cells": nesterov_after}]
        models = replace(ctl.context(cells=cells), claimed=parts)
        return Control(name, NESTEROV, ctl.evidence(
            question, records=ctl.answered({"optimizers": records}), models=models), credit)

    # a step is taken in the next cell that ran after the one a record names (0, the
    # heading: in cell 1)
    return [control("Nesterov SGD stepped only in a later question's part", [0], [1], 0.5),
            control("Nesterov SGD stepped in this part and again in a later one", [0],
                    [0, 1], 1.0),
            # the part defined the network; a later cell trained it with both
            control("this part trained nothing, a later part stepped both", [1], [1], 1.0),
            # torch imported in the training cell: its steps name no cell, and count
            control("Nesterov SGD stepped before the watch knew any cell", [-1], [-1], 1.0),
            # a record's cells as a number, not a list: read as no cells, no crash
            Control("a step record whose cells are not a list", NESTEROV, ctl.evidence(
                question, records=ctl.answered({"optimizers": [
                    step("SGD", lr=0.01) | {"after_cells": 5},
                    step("SGD", lr=0.01, momentum=0.9, nesterov=True)
                    | {"after_cells": 1.5}]}),
                models=replace(ctl.context(cells=cells), claimed=parts)), 1.0),
            # one plain SGD is that setting's, not also half of the Nesterov one
            Control("only plain SGD built and stepped, Nesterov asked too", NESTEROV,
                    ctl.evidence(question, records=ctl.answered({"optimizers": [
                        step("SGD", lr=0.01) | {"after_cells": [0]}]}),
                        models=replace(ctl.context(cells=ctl.notebook(
                            ctl.md("## 2.2 The MLP"), ctl.code(plain))), claimed=parts)),
                    0.5)]


def _score(check: OptimizerCheck, ev: Evidence) -> CheckScore:
    payload, failure = _payload(ev.record)
    if failure is not None:
        return failure
    if not isinstance(payload, dict) or not isinstance(payload.get("optimizers"),
                                                       list | type(None)):
        return CheckScore(0.0, ["the optimizer steps the kernel counted were unreadable"],
                          Fault.ERRORED)
    ctx = ev.context()
    # None: this kernel could not count steps. A cell that ran out of time restarted the
    # kernel, and the steps taken before it are gone: the code alone decides then.
    steps = payload["optimizers"]
    if any(r.status is CellStatus.TIMEOUT for r in ctx.records):
        steps = None
    return score_optimizers(check, ctx, steps, _network(ev.question, ctx))


def _network(question: Question, ctx: ModelContext | None = None
             ) -> tuple[str, Network] | None:
    """What the first layer of the network the question's architecture check names
    takes in: an optimizer for that network updates a weight of that kind and input size
    (2-D for a linear layer, 4-D for a convolution), or its head's (the fixed-feature
    tutorial trains only the new last layer). Its other sizes are the architecture
    check's to judge: a hidden layer of the wrong width is not charged here again. A
    question with no architecture check of its own (training the network an earlier
    question built: TUM's 2.3, NYU's 4.3) trains the nearest earlier one's."""
    layers = [c.layers for c in question.checks
              if isinstance(c, ArchitectureCheck) and c.layers]
    if not layers and ctx is not None:
        layers = [found] if (found := ctx.for_question(question).network()) else []
    for found in layers:
        first, last = found[0], found[-1]
        head = ((2, last.in_features),) if isinstance(last, Linear) and len(found) > 1 \
            and last.in_features is not None else ()
        if isinstance(first, Linear) and first.in_features is not None:
            return (f"a linear layer taking {first.in_features} inputs",
                    ((2, first.in_features), *head))
        if isinstance(first, Conv2d) and first.in_channels is not None:
            return (f"a convolution taking {first.in_channels} channel(s)",
                    ((4, first.in_channels), *head))
    return None


OPTIMIZER = CheckKind(
    spec=OptimizerCheck, name="optimizer", label=lambda c: "optimizer", score=_score,
    request=lambda c, _: ({"kind": ModelRequestKind.OPTIMIZERS.value}, None),
    grades_models=True, controls=controls, kernel="probe_torch")
