"""The test accuracy the notebook prints agrees with what its model reaches."""

from __future__ import annotations

import numpy as np

from graders.checks import _controls as ctl
from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.accuracy import score_reported
from graders.spec import ModelLocator, ReportedAccuracyCheck

PRINTED = ReportedAccuracyCheck(points=2, locate=ModelLocator(source="any"))
PER_CLASS = ReportedAccuracyCheck(points=2, locate=ModelLocator(source="any"),
                                  per_class=("cat", "dog", "ship"))
_NET = ctl.linear_net((3072, 512, 3), "    def forward(self, x):\n"
                      "        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))\n",
                      cls="MLP")
_EVALUATE = "correct = (net(images).argmax(1) == labels).sum().item()\n" \
            "print(f'Accuracy of the network on the test images: {100 * correct / total} %')"


def controls() -> list[Control[ReportedAccuracyCheck]]:
    """The net reaches 81.0% on the notebook's own test loader."""
    question = ctl.question_for(PRINTED)
    labels = np.arange(1000) % 3
    payload = {"candidates": [{"label": "var:net", "error": None, "architecture": _NET,
                               "public_labels": labels,
                               "public_predictions": ctl.predictions(labels, 0.81, 3)}],
               "transform_source": "student", "transform": ["ToTensor", "Normalize"]}

    def control(name: str, printed: str, credit: float, check: ReportedAccuracyCheck = PRINTED,
                training: str = "") -> Control[ReportedAccuracyCheck]:
        cells = ctl.notebook(ctl.md("## Testing the network"),
                             ctl.code(training + _EVALUATE, text=printed))
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), records=ctl.answered(payload),
            models=ctl.context(cells=cells)), credit)

    classes = "Accuracy of cat : 75 %\nAccuracy of dog : 70 %\nAccuracy of ship : 90 %\n"

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
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=True),
    needs_data=True, grades_models=True, controls=controls, kernel="probe_torch")
