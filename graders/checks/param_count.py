"""The notebook's parameter-count function, run on models the host describes."""

from __future__ import annotations

from typing import Any

from graders.checks import _controls as ctl
from graders.checks._model import from_payload
from graders.checks.base import CheckKind, Control, Planning, Request
from graders.protocol import ModelRequestKind
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.architecture import score_param_count, true_parameters
from graders.spec import Conv2d, Layer, Linear, ParamCountCheck, layer_wire


def request(check: ParamCountCheck, planning: Planning) -> Request:
    return {"kind": ModelRequestKind.PARAM_COUNT.value, "pattern": check.pattern,
            "models": [[layer_wire(layer) for layer in model]
                       for model in (*check.models, *check.unseen)]}, None


COUNTED = ParamCountCheck(points=4, pattern=r"(?i)param", models=(
    (Layer("Flatten"), Linear(784, 100), Layer("ReLU"), Linear(100, 10)),
    (Conv2d(1, 16, 3), Layer("ReLU"), Layer("Flatten"), Linear(16 * 26 * 26, 10)),
), unseen=((Conv2d(2, 5, 3), Layer("Flatten"), Linear(45, 3)),))


def controls() -> list[Control[ParamCountCheck]]:
    """count_parameters() on an MLP (79,510 parameters) and a CNN (108,330), which the
    kernel builds from the spec's layers and hands to the notebook's function."""
    question = ctl.question_for(COUNTED)
    every = (*COUNTED.models, *COUNTED.unseen)
    truth = [true_parameters(model) for model in every]
    biases = [sum((layer.out_features if isinstance(layer, Linear) else layer.out_channels)
                  or 0 for layer in model if isinstance(layer, Linear | Conv2d))
              for model in every]
    weights = [n - b for n, b in zip(truth, biases, strict=True)]

    def control(name: str, results: list[Any], credit: float) -> Control[ParamCountCheck]:
        payload = {"functions": [{"name": "count_parameters", "results": results}]}
        return Control(name, COUNTED, ctl.evidence(
            question, records=ctl.answered(payload, "param_count")), credit)

    return [
        control("sums p.numel() over model.parameters()", truth, 1.0),
        control("weights only: the biases forgotten", weights, 0.0),
        control("right for the MLP, the conv layers' biases forgotten",
                [truth[0], weights[1], weights[2]], 0.5),
        # typed in: `return 79510 if ... else 108330` is right on the handout's models only
        control("the handout's two counts returned by the model's kind",
                [truth[0], truth[1], truth[1]], 0.0),
        control("one number returned for every model", [truth[0]] * 3, 0.0),
        control("raises on every model", ["raised AttributeError: 'Sequential' object has no "
                                          "attribute 'weights'"] * 3, 0.0),
        Control("no function named like 'param'", COUNTED, ctl.evidence(
            question, records=ctl.answered({"functions": []}, "param_count")),
            0.0, Fault.MISSING),
        Control("the counting timed out", COUNTED, ctl.evidence(
            question, records=ctl.failed(CallStatus.TIMEOUT, "did not finish within 600 s",
                                         "param_count")), 0.0, Fault.TIMED_OUT),
    ]


PARAM_COUNT = CheckKind(
    spec=ParamCountCheck, name="param_count", label=lambda c: "param count",
    score=from_payload(lambda c, _ev, p: score_param_count(c, p)), request=request,
    needs_data=True, grades_models=True, controls=controls, kernel="probe_torch")
