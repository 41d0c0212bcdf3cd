"""The model started from the mounted pretrained checkpoint (weights' similarity)."""

from __future__ import annotations

from typing import Any

from graders.checks import _controls as ctl
from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.architecture import score_pretrained
from graders.spec import ModelLocator, PretrainedCheck

FINE_TUNED = PretrainedCheck(points=3, locate=ModelLocator(
    names=("model", "model_ft"), classes=("ResNet",), output_dim=2))
_CHECKPOINT = "resnet34-b627a593.pth"


def _resnet(label: str, similarity: float, classes: int = 2, matched: int = 36
            ) -> dict[str, Any]:
    """A ResNet34 (its first convolution and head shown) and how close its weights are
    to the mounted checkpoint's (``pretrained_match`` in probe_torch)."""
    return {"label": label, "error": None,
            "architecture": {"class": "ResNet", "parameters": 21_284_672 + 513 * classes,
                             "leaves": [{"name": "conv1", "type": "Conv2d", "in_channels": 3,
                                         "out_channels": 64, "kernel_size": [7, 7]},
                                        {"name": "fc", "type": "Linear", "in_features": 512,
                                         "out_features": classes}],
                             "forward_source": "    def forward(self, x: Tensor) -> Tensor:\n"
                                               "        return self._forward_impl(x)\n"},
            "pretrained": {"file": _CHECKPOINT, "similarity": similarity, "matched": matched,
                           "tensors": 37}}


def trained(model: dict[str, Any]) -> dict[str, Any]:
    """The model as the kernel describes one an optimizer moved."""
    return {**model, "architecture": {**model["architecture"], "trained": True}}


def controls() -> list[Control[PretrainedCheck]]:
    question = ctl.question_for(FINE_TUNED)

    def control(name: str, models: list[dict[str, Any]], credit: float,
                fault: Fault | None = None) -> Control[PretrainedCheck]:
        payload = {"candidates": models, "transform_source": "student",
                   "transform": ["Resize", "CenterCrop", "ToTensor", "Normalize"]}
        return Control(name, FINE_TUNED, ctl.evidence(question, records=ctl.answered(payload)),
                       credit, fault)

    return [
        control("fine-tuned from the ImageNet weights", [_resnet("var:model_ft", 0.93)], 1.0),
        control("trained from scratch (weights=None)", [_resnet("var:model_ft", 0.02)], 0.0),
        # the 1000-class head never replaced: a copy loaded to look at, not the model
        control("an untouched pretrained copy beside a model trained from scratch",
                [_resnet("var:model_ft", 0.02), _resnet("var:resnet", 1.0, classes=1000)], 0.0),
        # the two-class pretrained copy never trained, beside the network an optimizer
        # trained from scratch: the trained one is the fine-tuning
        control("a two-class pretrained copy never trained beside one trained from scratch",
                [trained(_resnet("var:model", 0.02)), _resnet("var:feature_net", 1.0)], 0.0),
        # the same, the scratch network's weights a little against the checkpoint's (a
        # mean cosine as often below 0 as above)
        control("a pretrained copy never trained beside one trained from scratch, at -0.01",
                [trained(_resnet("var:model", -0.01)), _resnet("var:feature_net", 1.0)], 0.0),
        control("the pretrained network trained, an untrained copy of it beside",
                [trained(_resnet("var:model", 0.95)), _resnet("var:spare", 1.0)], 1.0),
        # only a small head trained (on the frozen backbone's features): the backbone is
        # still the pretrained network
        control("a small head trained, the pretrained backbone beside it",
                [trained(_resnet("var:head", 0.0, matched=0)), _resnet("var:model", 1.0)],
                1.0),
        # a small CNN named ResNet34 with the checkpoint's conv1 copied in: one tensor
        # of the checkpoint's 37 is not the network starting from its weights
        control("one tensor of the checkpoint copied into another network",
                [_resnet("var:model", 1.0, matched=1)], 0.0),
        # the backbone's 36 of 37 (the head replaced) compared: the network's own
        control("fine-tuned, every tensor but the replaced head compared",
                [_resnet("var:model", 0.9, matched=36)], 1.0),
        control("no ResNet in the notebook's variables", [], 0.0, Fault.MISSING),
        Control("describing the models timed out", FINE_TUNED, ctl.evidence(
            question, records=ctl.failed(CallStatus.TIMEOUT, "did not finish within 600 s")),
            0.0, Fault.TIMED_OUT),
    ]


PRETRAINED = CheckKind(
    spec=PretrainedCheck, name="pretrained", label=lambda c: "pretrained",
    score=from_payload(lambda c, _ev, p: score_pretrained(c, p)),
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=False,
                                         pretrained=True),
    needs_data=True, grades_models=True, controls=controls, kernel="probe_torch")
