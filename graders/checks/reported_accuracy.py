"""The test accuracy the notebook prints agrees with what its model reaches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.accuracy import score_reported
from graders.spec import HiddenSet, ModelLocator, ReportedAccuracyCheck

PRINTED = ReportedAccuracyCheck(points=2, locate=ModelLocator(source="any"))
PER_CLASS = ReportedAccuracyCheck(points=2, locate=ModelLocator(source="any"),
                                  per_class=("cat", "dog", "ship"))
LOOKED_UP = replace(PER_CLASS, data=HiddenSet("cifar10-hidden"))
_NET = ctl.linear_net((3072, 512, 3), "    def forward(self, x):\n"
                      "        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))\n",
                      cls="MLP")
_EVALUATE = "correct = (net(images).argmax(1) == labels).sum().item()\n" \
            "print(f'Accuracy of the network on the test images: {100 * correct / total} %')"


def controls() -> list[Control[ReportedAccuracyCheck]]:
    """The net reaches 81.0% on the notebook's own test loader."""
    question = ctl.question_for(PRINTED)
    labels = np.arange(1000) % 3
    # right on 75% of the cats, 78% of the dogs, 90% of the ships: 81% in all
    preds = labels.copy()
    for k, share in enumerate((0.75, 0.78, 0.90)):
        index = np.flatnonzero(labels == k)
        preds[index] = ctl.predictions(labels[index], share, 3)
    net = {"label": "var:net", "error": None, "architecture": _NET,
           "public_labels": labels, "public_predictions": preds}
    payload = {"candidates": [net], "transform_source": "student",
               "transform": ["ToTensor", "Normalize"]}
    held = np.arange(300) % 3
    # a "network" that looks each of the notebook's test images up (by its bytes, with
    # its public label): right on all of them, at chance on the grader's images
    lookup = {**net, "public_predictions": labels.copy(),
              "predictions": (np.arange(300) * 7 % 5 % 3).astype(np.int64)}

    def control(name: str, printed: str, credit: float, check: ReportedAccuracyCheck = PRINTED,
                training: str = "", found: dict[str, Any] | None = None
                ) -> Control[ReportedAccuracyCheck]:
        cells = ctl.notebook(ctl.md("## Testing the network"),
                             ctl.code(training + _EVALUATE, text=printed))
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), records=ctl.answered(found or payload),
            models=ctl.context(cells=cells, labels=held)), credit)

    classes = "Accuracy of cat : 75 %\nAccuracy of dog : 78 %\nAccuracy of ship : 90 %\n"

    return [
        control("prints the 81.0% its net reaches",
                "Accuracy of the network on the test images: 81.0 %\n", 1.0),
        control("claims 95% the net does not reach",
                "Accuracy of the network on the test images: 95 %\n", 0.0),
        control("prints only the loss", "[10, 2000] loss: 0.512\nFinished Training\n", 0.0),
        control("prints its test accuracy, then its training accuracy",
                "Accuracy of the network on the test images: 81.0 %\n"
                "Accuracy of the network on the train images: 88.4 %\n", 1.0),
        control("prints a true training accuracy after a false test accuracy",
                "Accuracy of the network on the test images: 95 %\n"
                "Accuracy of the network on the train images: 81.0 %\n", 0.0),
        control("the overall figure and each class's", "Accuracy of the network on the test "
                "images: 81.0 %\n" + classes, 1.0, PER_CLASS),
        # each class's right answers divided by the whole test set, not by the class's
        control("each class's figure divided by the whole test set",
                "Accuracy of the network on the test images: 81.0 %\nAccuracy of cat : 25 %"
                "\nAccuracy of dog : 26 %\nAccuracy of ship : 30 %\n", 0.5, PER_CLASS),
        control("each class's figure typed in", "Accuracy of the network on the test images: "
                "81.0 %\nAccuracy of cat : 71.3 %\nAccuracy of dog : 82.5 %\n"
                "Accuracy of ship : 88.0 %\n", 0.5, PER_CLASS),
        control("each class's figure after its index in brackets",
                "Accuracy of the network on the test images: 81.0 %\nAccuracy of cat (0) : "
                "75 %\nAccuracy of dog (1) : 78 %\nAccuracy of ship (2) : 90 %\n", 1.0,
                PER_CLASS),
        # a report of several figures per class is not read as one accuracy: it stands
        control("an sklearn classification report", "Accuracy of the network on the test "
                "images: 81.0 %\n       precision recall f1\n cat  0.79 0.75 0.77\n"
                " dog  0.80 0.78 0.79\n ship 0.85 0.90 0.87\n", 1.0, PER_CLASS),
        # the grader's images prepared with its own transform (none of the notebook's
        # datasets holds them): an honest model may lose there what a lookup loses
        control("100% on the notebook's images, chance on the grader's fallback-prepared "
                "ones", "Accuracy of the network on the test images: 100.0 %\n", 1.0,
                replace(PRINTED, data=LOOKED_UP.data), found={**payload, "candidates": [lookup],
                                  "transform_source": "fallback"}),
        control("100% printed by a lookup of the notebook's own test images",
                "Accuracy of the network on the test images: 100.0 %\n", 0.0, LOOKED_UP,
                found={**payload, "candidates": [lookup]}),
        control("the same net, held against the grader's images, is no lookup",
                "Accuracy of the network on the test images: 81.0 %\n" + classes, 1.0,
                LOOKED_UP, found={**payload, "candidates": [
                    {**net, "predictions": ctl.predictions(held, 0.78, 3)}]}),
        control("each class's printed beside an overall figure the net does not reach",
                "Accuracy of the network on the test images: 72.4 %\n" + classes, 0.0,
                PER_CLASS),
        control("the printed accuracy of a net trained on the test loader",
                "Accuracy of the network on the test images: 81.0 %\n", 0.0,
                training="for images, labels in testloader:\n    optimizer.zero_grad()\n"
                         "    criterion(net(images), labels).backward()\n"
                         "    optimizer.step()\n"),
        Control("evaluating on the notebook's test loader raised", PRINTED, ctl.evidence(
            question, records=ctl.failed(CallStatus.ERROR, "RuntimeError: CUDA error: "
                                         "device-side assert triggered"),
            models=ctl.context(cells=ctl.notebook(ctl.code(_EVALUATE)))), 0.0, Fault.ERRORED),
    ]


REPORTED_ACCURACY = CheckKind(
    spec=ReportedAccuracyCheck, name="reported_accuracy", label=lambda c: "reported accuracy",
    score=from_payload(lambda c, ev, p: score_reported(c, p, ev.context())),
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=True,
                                         data=c.data, fallback=c.fallback_transform),
    hidden_sets=lambda c: (c.data,) if c.data is not None else (), needs_data=True,
    grades_models=True, controls=controls,
    kernel="probe_torch")
