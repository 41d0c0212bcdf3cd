"""The "best" model saved to a file: it loads, and it is the best the notebook trained."""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind, Control
from graders.results import CellSummary
from graders.scoring.function import Fault
from graders.scoring.models.accuracy import score_saved
from graders.spec import HiddenSet, SavedModelCheck

BEST = SavedModelCheck(points=2)
HELD_AGAINST = SavedModelCheck(points=2, data=HiddenSet("cifar10-hidden"))
_HELD = np.arange(300) % 3
_NET = ctl.linear_net((3072, 512, 3), "    def forward(self, x):\n"
                      "        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))\n",
                      cls="MLP")
_LABELS = np.arange(300) % 3
_KEEP_BEST = ("if val_acc > best_acc:\n    best_acc = val_acc\n"
              "    torch.save(net.state_dict(), 'best_model.pt')\n")


def _model(label: str, accuracy: float | None, error: str | None = None,
           labels: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"label": label, "error": error}
    if accuracy is not None:
        entry.update(architecture=_NET, public_labels=_LABELS if labels is None else labels,
                     public_predictions=ctl.predictions(_LABELS, accuracy, 3))
    return entry


def controls() -> list[Control[SavedModelCheck]]:
    """The trained net in memory reaches 81% on the notebook's test loader."""
    question = ctl.question_for(BEST)

    def control(name: str, saved: list[dict[str, Any]], credit: float,
                fault: Fault | None = None, *, cells: tuple[CellSummary, ...] = (),
                memory: float = 0.81, check: SavedModelCheck = BEST
                ) -> Control[SavedModelCheck]:
        payload = {"candidates": [_model("var:net", memory), *saved],
                   "transform_source": "student", "transform": ["ToTensor", "Normalize"]}
        return Control(name, check, ctl.evidence(
            question, records=ctl.answered(payload),
            models=ctl.context(cells=cells or ctl.notebook(ctl.code(_KEEP_BEST)),
                               labels=_HELD)),
            credit, fault)

    # a never-trained net whose forward looks each of the notebook's test images up: all
    # right there (100%, better than the net in memory), at chance on the grader's images
    lookup = {**_model("file:best_model.pt", 1.0),
              "predictions": (np.arange(_HELD.size) * 7 % 5 % 3).astype(np.int64)}
    honest = {**_model("file:best_model.pt", 0.80),
              "predictions": ctl.predictions(_HELD, 0.78, 3)}

    alias = ctl.notebook(ctl.code("if val_acc > best_acc:\n    best_acc = val_acc\n"
                                  "    best_state = net.state_dict()\n"),
                         ctl.code("torch.save(best_state, 'best_model.pt')"))
    ids = np.array([3, 5, 8])[_LABELS]  # CIFAR's own ids, kept by the notebook's loader
    return [
        control("best_model.pt within 2 points of the model in memory",
                [_model("file:best_model.pt", 0.80)], 1.0),
        # the loader keeps CIFAR's ids (3, 5, 8); the network numbers them 0, 1, 2 (the
        # notebook maps the labels where it trains): read in the ids' order
        control("its test loader's labels CIFAR's ids 3, 5, 8, the network's 0, 1, 2",
                [_model("file:best_model.pt", 0.80, labels=ids)], 1.0),
        control("the ids renumbered, and the saved network at chance", [
            _model("file:best_model.pt", 0.34, labels=ids)], 0.0),
        control("a saved lookup of the notebook's own test images", [lookup], 0.0,
                check=HELD_AGAINST),
        control("a saved net as good on the grader's images as on the notebook's",
                [honest], 1.0, check=HELD_AGAINST),
        # saved every epoch, never compared: the last epoch's, not the best
        control("saved at the end of every epoch, never compared with the best", [
            _model("file:best_model.pt", 0.81)], 0.5, cells=ctl.notebook(ctl.code(
                "for epoch in range(10):\n    train_one_epoch(net)\n"
                "    torch.save(net.state_dict(), 'best_model.pt')\n"))),
        control("the best copied under the comparison, saved after the loop", [
            _model("file:best_model.pt", 0.81)], 1.0, cells=ctl.notebook(ctl.code(
                "for epoch in range(10):\n    acc = train_one_epoch(net)\n"
                "    if acc > best_acc:\n"
                "        best_acc, best_state = acc, copy.deepcopy(net.state_dict())\n"
                "torch.save(best_state, 'best_model.pt')\n"))),
        # the PyTorch fine-tuning tutorial: the best weights copied, loaded back, saved
        control("the best weights loaded back after training, then saved", [
            _model("file:best_model.pt", 0.81)], 1.0, cells=ctl.notebook(ctl.code(
                "for epoch in range(10):\n    acc = train_one_epoch(net)\n"
                "    if acc > best_acc:\n        best_acc = acc\n"
                "        best_model_wts = copy.deepcopy(net.state_dict())\n"
                "net.load_state_dict(best_model_wts)\n"
                "torch.save(net.state_dict(), 'best_model.pt')\n"))),
        control("saved by an early-stopping helper called when the model improves", [
            _model("file:best_model.pt", 0.81)], 1.0, cells=ctl.notebook(ctl.code(
                "class EarlyStopping:\n    def save_checkpoint(self, model):\n"
                "        torch.save(model.state_dict(), 'best_model.pt')\n"
                "    def __call__(self, acc, model):\n"
                "        if acc > self.best:\n            self.best = acc\n"
                "            self.save_checkpoint(model)\n"))),
        control("an untrained copy saved before training",
                [_model("file:best_model.pt", 0.34)], 0.0),
        # the alias follows every later step: the file holds the last epoch's weights
        control("best kept as a live state_dict alias", [_model("file:best_model.pt", 0.81)],
                0.0, cells=alias),
        # nothing better in memory to compare with: chance on the test set says it all
        control("the untrained net saved, and nothing trained anywhere",
                [_model("file:best_model.pt", 0.34)], 0.0, memory=0.34),
        control("the best model picked by accuracy on the data it was trained on",
                [_model("file:best_model.pt", 0.81)], 0.0, cells=ctl.notebook(ctl.code(
                    "for x, y in test_loader:\n    optimizer.zero_grad()\n"
                    "    criterion(net(x), y).backward()\n    optimizer.step()\n"
                    + _KEEP_BEST))),
        # a sweep over learning rates is no loop over test data
        control("trained in a sweep `for lr in lr_values:`",
                [_model("file:best_model.pt", 0.80)], 1.0, cells=ctl.notebook(ctl.code(
                    "for lr in lr_values:\n    for x, y in train_loader:\n"
                    "        optimizer.zero_grad()\n        criterion(net(x), y).backward()\n"
                    "        optimizer.step()\n" + _KEEP_BEST))),
        # the notebook's loader decides what its labels are: one-hot rows are no class ids
        # to compare with, and must not crash the grader either
        control("the notebook's own test labels are one-hot rows",
                [_model("file:best_model.pt", 0.80, labels=np.eye(3)[_LABELS])], 0.5),
        control("no model file saved", [], 0.0, Fault.MISSING),
        control("the file fits none of the notebook's models",
                [_model("file:best_model.pt", None,
                        "a state dict that fits none of the models in the notebook")],
                0.0, Fault.ERRORED),
    ]


SAVED_MODEL = CheckKind(
    spec=SavedModelCheck, name="saved_model", label=lambda c: "saved model",
    score=from_payload(lambda c, ev, p: score_saved(c, p, ev.context())),
    request=lambda c, _: describe_models(saved=True, public=True, data=c.data,
                                         fallback=c.fallback_transform),
    hidden_sets=lambda c: (c.data,) if c.data is not None else (), needs_data=True,
    grades_models=True, controls=controls,
    kernel="probe_torch")
