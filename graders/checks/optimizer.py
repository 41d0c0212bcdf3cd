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


def controls() -> list[Control[OptimizerCheck]]:
    """Adam with lr 1e-3 (Adam's default), and SGD with lr 0.001 and momentum 0.9."""

    def control(name: str, check: OptimizerCheck, line: str, credit: float,
                fault: Fault | None = None, *, magic: str = "") -> Control[OptimizerCheck]:
        cells = ctl.notebook(ctl.code("%matplotlib inline\nimport torch.optim as optim"),
                             ctl.code(f"{magic}criterion = nn.CrossEntropyLoss()\n{line}"))
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
        control("the optimizer's cell is not valid Python", ADAM,
                "optimizer = optim.Adam(net.parameters(), lr=1e-3", 0.0, Fault.ERRORED),
    ]


OPTIMIZER = CheckKind(spec=OptimizerCheck, name="optimizer", label=lambda c: "optimizer",
                      score=lambda c, ev: score_optimizers(c, ev.context()),
                      grades_models=True, controls=controls, kernel="")
