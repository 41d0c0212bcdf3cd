"""The optimizers the notebook constructs and their settings (read from its code)."""

from __future__ import annotations

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control
from graders.scoring.function import Fault
from graders.scoring.models.static import score_optimizers
from graders.spec import OptimizerCheck, OptimizerSetting

ADAM = OptimizerCheck(points=2, settings=(OptimizerSetting.of("Adam", lr=1e-3),))
SGD_MOMENTUM = OptimizerCheck(points=3, settings=(
    OptimizerSetting.of("SGD", lr=0.001, momentum=0.9),))
BOTH = OptimizerCheck(points=2, settings=(OptimizerSetting.of("SGD", lr=0.01),
                                         OptimizerSetting.of("Adam", lr=0.01)))
NESTEROV = OptimizerCheck(points=2, settings=(
    OptimizerSetting.of("SGD", lr=0.01),
    OptimizerSetting.of("SGD", lr=0.01, momentum=0.9, nesterov=True)))


def controls() -> list[Control[OptimizerCheck]]:
    """Adam with lr 1e-3 (Adam's default), and SGD with lr 0.001 and momentum 0.9: each
    constructed with those settings and used (read again: stepped, passed to a training
    function, kept in a collection); one built and left unused does not count."""

    def control(name: str, check: OptimizerCheck, line: str, credit: float,
                fault: Fault | None = None, *, magic: str = "",
                use: str = "\ntrain(net, optimizer)") -> Control[OptimizerCheck]:
        cells = ctl.notebook(ctl.code("%matplotlib inline\nimport torch.optim as optim"),
                             ctl.code(f"{magic}criterion = nn.CrossEntropyLoss()\n{line}{use}"))
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), models=ctl.context(cells=cells)), credit, fault)

    return [
        control("Adam(lr=1e-3)", ADAM, "optimizer = optim.Adam(net.parameters(), lr=1e-3)", 1.0),
        control("Adam with its default learning rate", ADAM,
                "optimizer = optim.Adam(net.parameters())", 1.0),
        control("Adam(lr=10**-3), worked out", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=10**-3)", 1.0),
        control("SGD(lr=0.001, momentum=0.9) in a %%time cell", SGD_MOMENTUM,
                "optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)\n"
                "!nvidia-smi\ntrain(model, optimizer)", 1.0, magic="%%time\n"),
        control("Adam(lr=1e-2): ten times the learning rate", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-2)", 0.0),
        # worked out, 10**-2 is 0.01: not Adam's default
        control("Adam(lr=10**-2)", ADAM, "optimizer = optim.Adam(net.parameters(), lr=10**-2)",
                0.0),
        control("SGD with lr 1e-3 where Adam is asked", ADAM,
                "optimizer = optim.SGD(net.parameters(), lr=1e-3)", 0.0),
        control("SGD(params, 0.001, 0.9): lr and momentum by position", SGD_MOMENTUM,
                "optimizer = optim.SGD(net.parameters(), 0.001, 0.9)", 1.0),
        control("SGD(params, 0.001, 0.5): the wrong momentum by position", SGD_MOMENTUM,
                "optimizer = optim.SGD(net.parameters(), 0.001, 0.5)", 0.0),
        control("SGD without the momentum", SGD_MOMENTUM,
                "optimizer = optim.SGD(model.parameters(), lr=0.001)", 0.0),
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
    ]


OPTIMIZER = CheckKind(spec=OptimizerCheck, name="optimizer", label=lambda c: "optimizer",
                      score=lambda c, ev: score_optimizers(c, ev.context()),
                      grades_models=True, controls=controls, kernel="")
