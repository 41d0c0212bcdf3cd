"""Accuracy of the notebook's trained model on grader-held images (the labels never
leave the host), in credit bands below the calibrated reference."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks._model import from_payload
from graders.checks.base import CheckKind, Control, Planning, Request
from graders.hidden import hidden_file
from graders.protocol import ModelRequestKind
from graders.results import CallStatus, CellSummary
from graders.scoring.function import Fault
from graders.scoring.models.accuracy import score_accuracy
from graders.spec import HiddenSet, Linear, ModelAccuracyCheck, ModelLocator


def request(check: ModelAccuracyCheck, planning: Planning) -> Request:
    if check.locate.framework == "vugrad":
        # each network is measured on the first of the sets it runs on
        return {"kind": ModelRequestKind.EVALUATE.value, "framework": "vugrad",
                "images": hidden_file(check.data), "untrained": True,
                **({"alternatives": [hidden_file(d) for d in check.alternatives]}
                   if check.alternatives else {})}, check.hidden_sets
    return {"kind": ModelRequestKind.EVALUATE.value, "images": hidden_file(check.data),
            "saved": check.locate.source != "memory",
            "memory": check.locate.source != "saved", "public": False, "untrained": True,
            "fallback_transform": [t.wire() for t in check.fallback_transform]}, check.data


# ------------------------------------------------------------------------- controls
MNIST = ModelAccuracyCheck(points=4, locate=ModelLocator(names=("model", "net"), output_dim=10),
                           data=HiddenSet("mnist-test"))
_MLP = ctl.linear_net((784, 512, 256, 10), "    def forward(self, x):\n"
                      "        x = F.relu(self.fc1(x.view(-1, 784)))\n"
                      "        return self.fc3(F.relu(self.fc2(x)))\n")


def controls() -> list[Control[ModelAccuracyCheck]]:
    """An MNIST MLP scored against a calibrated 97% reference (default bands: full from
    90.0%, then quarters down to 71.2%)."""
    question = ctl.question_for(MNIST)
    labels = np.arange(1000) % 10
    models = ctl.context(calibration={f"{question.id}:0": 0.97}, labels=labels)

    def control(name: str, entry: dict[str, Any], credit: float,
                fault: Fault | None = None, *, reference: float = 0.97,
                reference_untrained: float | None = None,
                cells: tuple[CellSummary, ...] = ()) -> Control[ModelAccuracyCheck]:
        payload = {"candidates": [entry], "transform_source": "student",
                   "transform": ["ToTensor", "Normalize"]}
        calibration = {f"{question.id}:0": reference}
        if reference_untrained is not None:
            calibration[f"{question.id}:0:untrained"] = reference_untrained
        calibrated = models if calibration == {f"{question.id}:0": 0.97} and not cells \
            else ctl.context(calibration=calibration, labels=labels, cells=cells)
        return Control(name, MNIST, ctl.evidence(
            question, records=ctl.answered(payload), models=calibrated), credit, fault)

    def net(accuracy: float, label: str = "var:net") -> dict[str, Any]:
        return {"label": label, "error": None, "architecture": _MLP,
                "predictions": ctl.predictions(labels, accuracy, 10)}

    untrained = dict(net(0.0), predictions=np.zeros(1000, dtype=np.int64))
    return [
        control("trained to 96.0%", net(0.96), 1.0),
        # the grader's images are unseen either way: what it reaches is real, the
        # handout's protocol is not what was done
        control("96.0%, trained on the test split as well", net(0.96), 0.5, cells=ctl.notebook(
            ctl.code("both = ConcatDataset([trainset, testset])\n"
                     "loader = DataLoader(both, batch_size=100, shuffle=True)"),
            ctl.code("for x, y in loader:\n    optimizer.zero_grad()\n"
                     "    criterion(net(x), y).backward()\n    optimizer.step()\n"))),
        control("96.0%, the test split only evaluated", net(0.96), 1.0, cells=ctl.notebook(
            ctl.code("for x, y in trainloader:\n    optimizer.zero_grad()\n"
                     "    criterion(net(x), y).backward()\n    optimizer.step()\n"),
            ctl.code("correct = sum((net(x).argmax(1) == y).sum() for x, y in testloader)"))),
        # the grader's images scaled to the notebook's test inputs, and as the transform
        # makes them (the notebook divides raw pixels by 255 in its loop): the better one
        control("96% on the images as the transform makes them, 20% scaled to the "
                "notebook's raw test inputs", dict(net(0.20), unmatched_predictions=net(
                    0.96)["predictions"]), 1.0),
        control("20% either way: no preparation makes it a model",
                dict(net(0.20), unmatched_predictions=net(0.20)["predictions"]), 0.0),
        control("at the top band's edge, 90.0%", net(0.90), 1.0),
        control("89.9%: just under the top band", net(0.899), 0.75),
        control("untrained: class 0 for every image (chance, 10%)", untrained, 0.0),
        # a reference barely above chance stretches the bands below it: none may reach
        # within 5 points of chance
        control("untrained, against a reference of 30% (bands reach down to 0%)",
                untrained, 0.0, reference=0.30),
        control("14%, against a reference of 30%: within 5 points of chance, nothing",
                net(0.14), 0.0, reference=0.30),
        control("15%, against a reference of 30%: 5 points above chance, 1/2",
                net(0.15), 0.5, reference=0.30),
        # a reference at chance cannot tell training from none: nobody is graded on it
        control("a trained network, against a reference at chance (the grader's data)",
                net(0.96), 0.0, Fault.UNCALIBRATED, reference=0.11),
        # the untrained controls: the network's own copy with fresh weights (run by the
        # kernel next to it), and the reference's (measured at calibration)
        control("96.0%, its untrained copy at chance", dict(
            net(0.96), untrained_predictions=ctl.predictions(labels, 0.1, 10)), 1.0,
            reference_untrained=0.1),
        control("15% against a reference of 30%, where an untrained copy of the same "
                "network reaches 14%", dict(net(0.15), untrained_predictions=ctl.predictions(
                    labels, 0.14, 10)), 0.0, reference=0.30),
        control("15% against a reference of 30% whose untrained copy reaches 12%",
                net(0.15), 0.0, reference=0.30, reference_untrained=0.12),
        control("a trained network, against a reference no better than its own untrained "
                "copy", net(0.96), 0.0, Fault.UNCALIBRATED, reference=0.40,
                reference_untrained=0.38),
        # weights no layer re-draws (plain tensors) leave the "untrained" copy trained:
        # answers identical to the network's are no control, and cost nothing
        # a forward that adds a nearest-neighbour vote from a bank of training images
        # kept beside the network (its untrained copy gated off it): the bank answers
        control("96.0%, its forward computing with 2,352,000 stored values", dict(
            net(0.96), forward={"stored": 2_352_000}), 0.0),
        control("96.0%, 2,352,000 stored values measured on the grader's images", dict(
            net(0.96), stored=2_352_000), 0.0),
        # another network's weights kept outside the model's modules, fewer than its own:
        # a network answers (the TA's judgement, not the accuracy's)
        control("96.0%, 300,000 values beside the network's own 535,818", dict(
            net(0.96), stored=300_000), 1.0),
        control("96.0%, batch norm's 1,536 running statistics in its forward", dict(
            net(0.96), forward={"stored": 1_536}), 1.0),
        control("96.0%, its forward raising only while the grader records it", dict(
            net(0.96), stored=-1), 0.0),
        control("96.0%, 'stored' sent as a string", dict(
            net(0.96), forward={"stored": "2352000"}), 1.0),
        control("96.0%, its untrained copy answering exactly as it does", dict(
            net(0.96), untrained_predictions=net(0.96)["predictions"]), 1.0),
        # the notebook's own numbering of the classes (its labels, its choice): graded
        # under it when it is plainly the network's
        control("96.0% with the classes numbered in another order",
                dict(net(0.96), predictions=(net(0.96)["predictions"] + 3) % 10), 1.0),
        control("96.0% on 10 outputs, the classes numbered 10..19",
                dict(net(0.96), predictions=net(0.96)["predictions"] + 10), 1.0),
        # the numbering is chosen with the grader's labels: clusters no optimizer trained
        # (k-means on colours as the initial weights) are no classifier of their own
        control("96.0% only under another numbering, a network no optimizer trained",
                dict(net(0.96), predictions=(net(0.96)["predictions"] + 3) % 10,
                     architecture={**_MLP, "trained": False}), 0.0),
        *_the_questions_network(labels),
        # random answers, given the renumbering that agrees best, stay near chance
        control("random answers, renumbered at best", dict(
            net(0.0), predictions=np.random.default_rng(3).integers(0, 10, 1000)), 0.0),
        control("only a fresh instance of the notebook's class",
                net(0.10, label="class:Net"), 0.0, Fault.MISSING),
        control("forward raises on the grader's images",
                {"label": "var:net", "architecture": _MLP,
                 "error": "RuntimeError: mat1 and mat2 shapes cannot be multiplied "
                          "(256x784 and 3072x512)"}, 0.0, Fault.ERRORED),
        *_relu_controls(labels),
        Control("evaluating the models timed out", MNIST, ctl.evidence(
            question, records=ctl.failed(CallStatus.TIMEOUT, "did not finish within 600 s"),
            models=models), 0.0, Fault.TIMED_OUT),
    ]


def _the_questions_network(labels: np.ndarray) -> list[Control[ModelAccuracyCheck]]:
    """Where an earlier question names the network (its architecture check), the network
    of those layers answers, when the notebook has one: a linear model trained beside a
    barely trained MLP does not answer for the MLP."""
    question = ctl.question_for(MNIST)
    built = replace(ctl.question_for(MNIST), id="2.1")
    trained = replace(question, id="2.2")
    layers = (Linear(784, 512), Linear(512, 256), Linear(256, 10))
    models = replace(ctl.context(calibration={"2.2:0": 0.97}, labels=labels),
                     questions=(built, trained), architectures=(("2.1", layers),))
    linear = {"label": "var:model", "error": None,
              "architecture": ctl.linear_net((784, 10), "    def forward(self, x):\n"
                                             "        return self.fc1(x.view(-1, 784))\n"),
              "predictions": ctl.predictions(labels, 0.96, 10)}

    def control(name: str, mlp: float, credit: float) -> Control[ModelAccuracyCheck]:
        entry = {"label": "var:net", "error": None, "architecture": _MLP,
                 "predictions": ctl.predictions(labels, mlp, 10)}
        payload = {"candidates": [linear, entry], "transform_source": "student",
                   "transform": ["ToTensor"]}
        return Control(name, MNIST, ctl.evidence(trained, records=ctl.answered(payload),
                                                 models=models), credit)

    return [control("the MLP at 30% beside a linear model at 96%: the MLP answers", 0.30,
                    0.0),
            control("the MLP at 95% beside a linear model at 96%", 0.95, 1.0)]


RELU_NET = ModelAccuracyCheck(points=4, data=HiddenSet("synth-hidden"),
                              locate=ModelLocator(framework="vugrad", requires=("relu",),
                                                  excludes=("sigmoid",)))


_X = np.linspace(-3, 3, 64)
_SIGMOID = 1 / (1 + np.exp(-_X))


def _relu_controls(labels: np.ndarray) -> list[Control[ModelAccuracyCheck]]:
    """VU's question 9b: the network retrained with ReLU, graded as that network (the
    ops its forward pass went through), not whichever network of the notebook does best."""
    question = ctl.question_for(RELU_NET)
    models = ctl.context(calibration={f"{question.id}:0": 0.97}, labels=labels)

    def vugrad_net(name: str, ops: list[str], accuracy: float) -> dict[str, Any]:
        return {"label": f"var:{name}", "error": None,
                "architecture": {"class": "MLP", "parameters": 2_010, "ops": ops},
                "predictions": ctl.predictions(labels, accuracy, 10)}

    sigmoid = vugrad_net("mlp", ["Add", "MatrixMultiply", "Sigmoid", "Softmax"], 0.96)
    relu = vugrad_net("mlp_relu", ["Add", "MatrixMultiply", "Relu", "Softmax"], 0.95)
    leaky = vugrad_net("mlp_leaky", ["Add", "LeakyReLU", "MatrixMultiply", "Softmax"], 0.96)

    def control(name: str, entries: list[dict[str, Any]], credit: float,
                fault: Fault | None = None) -> Control[ModelAccuracyCheck]:
        return vugrad_control(name, RELU_NET, entries, models, credit, fault)

    return [
        control("the ReLU network (its forward went through a Relu op)", [relu], 1.0),
        control("the ReLU network beside a better sigmoid one: the ReLU one answers",
                [sigmoid, dict(relu, predictions=ctl.predictions(labels, 0.60, 10))], 0.0),
        control("only the sigmoid network: not the one asked about", [sigmoid], 0.0,
                Fault.MISSING),
        control("a leaky ReLU is not the ReLU asked for", [leaky], 0.0, Fault.MISSING),
        # what the op gave on the forward pass decides, not its class's name
        control("a sigmoid op named ReLUActivation", [vugrad_net(
            "mlp", ["Add", "MatrixMultiply", "ReLUActivation", "Softmax"], 0.96) | {
            "architecture": {"class": "MLP", "parameters": 2_010,
                             "ops": ["Add", "MatrixMultiply", "ReLUActivation", "Softmax"],
                             "op_samples": {"ReLUActivation": {"x": _X, "y": _SIGMOID}}}}],
            0.0, Fault.MISSING),
        # a Relu put after a sigmoid built of Exp, Add and Divide: its inputs are all in
        # (0, 1), where it is the identity: a sigmoid network still
        control("a Relu op only ever given a sigmoid's outputs", [vugrad_net(
            "mlp", ["Add", "Divide", "Exp", "MatrixMultiply", "Relu", "Softmax"], 0.96) | {
            "architecture": {"class": "MLP", "parameters": 2_010,
                             "ops": ["Add", "Divide", "Exp", "MatrixMultiply", "Relu",
                                     "Softmax"],
                             "op_samples": {"Relu": {"x": _SIGMOID, "y": _SIGMOID}}}}],
            0.0, Fault.MISSING),
        control("a ReLU op of another name (RectifiedLinear), seen to compute max(x, 0)",
                [vugrad_net("mlp", ["Add", "MatrixMultiply", "RectifiedLinear", "Softmax"],
                            0.95) | {"architecture": {
                    "class": "MLP", "parameters": 2_010,
                    "ops": ["Add", "MatrixMultiply", "RectifiedLinear", "Softmax"],
                    "op_samples": {"RectifiedLinear": {"x": _X, "y": np.maximum(_X, 0)}}}}],
                1.0),
        # trained on MNIST (784 inputs) where the question's data have 2 features: it
        # cannot be measured on them, and says so
        control("a network for other data, which raises on the question's inputs",
                [{"label": "var:net", "error": "ValueError: matmul: Input operand 1 has a "
                                               "mismatch in its core dimension 0",
                  "architecture": {"class": "Net", "parameters": 238_510}}], 0.0,
                Fault.MISSING),
        # ReLU stacked on the sigmoid: relu(sigmoid(layer1(x))) is not the network
        # retrained with ReLU in its place
        control("ReLU applied after the sigmoid", [vugrad_net(
            "mlp", ["Add", "MatrixMultiply", "Relu", "Sigmoid", "Softmax"], 0.95)], 0.0,
            Fault.MISSING),
        *_retrained_elsewhere(labels),
    ]


RELU_NET_EITHER = replace(RELU_NET, alternatives=(HiddenSet("mnist-hidden"),))


def vugrad_control(name: str, check: ModelAccuracyCheck, entries: list[dict[str, Any]],
                   models: Any, credit: float, fault: Fault | None = None
                   ) -> Control[ModelAccuracyCheck]:
    """A control of a course-library network question: the kernel's candidates."""
    payload = {"candidates": entries, "transform_source": "none", "transform": []}
    return Control(name, check, ctl.evidence(
        ctl.question_for(check), records=ctl.answered(payload), models=models), credit, fault)


def _retrained_elsewhere(labels: np.ndarray) -> list[Control[ModelAccuracyCheck]]:
    """The same question where the handout lets the network be retrained on MNIST too:
    a network the kernel ran on MNIST is measured against the reference's MNIST network
    (calibrated at 90% on 500 images there, 97% on the synthetic data)."""
    question = ctl.question_for(RELU_NET_EITHER)
    mnist = np.arange(500) % 10
    models = ctl.context(calibration={f"{question.id}:0": 0.97,
                                      f"{question.id}:0@mnist-hidden": 0.90,
                                      f"{question.id}:0@mnist-hidden:untrained": 0.10},
                         labels=labels, labels_elsewhere={"mnist-hidden": mnist})

    def net(accuracy: float, on: np.ndarray, data: Any, label: str = "var:net",
            **extra: Any) -> dict[str, Any]:
        return {"label": label, "error": None, "data": data,
                "architecture": {"class": "Net", "parameters": 238_510,
                                 "ops": ["Add", "MatrixMultiply", "Relu", "Softmax"]},
                "predictions": ctl.predictions(on, accuracy, 10), **extra}

    def control(name: str, entries: list[dict[str, Any]], credit: float,
                fault: Fault | None = None) -> Control[ModelAccuracyCheck]:
        return vugrad_control(name, RELU_NET_EITHER, entries, models, credit, fault)

    return [
        control("retrained on MNIST, 88% there against the reference's 90%",
                [net(0.88, mnist, 1)], 1.0),
        control("retrained on MNIST, 40% there: the MNIST reference's bands",
                [net(0.40, mnist, 1)], 0.0),
        control("on MNIST, its untrained copy as good as it: no training shown",
                [net(0.88, mnist, 1, untrained_predictions=ctl.predictions(mnist, 0.86,
                                                                            10))], 0.0),
        # the kernel says which set a network ran on; the labels never left the host, so
        # a wrong or made-up answer finds nothing to match
        control("MNIST predictions said to be on the synthetic data",
                [net(0.88, mnist, 0)], 0.0, Fault.ERRORED),
        control("a set index the question does not have", [net(0.88, mnist, 5)], 0.0,
                Fault.ERRORED),
        control("a set index that is not a number", [net(0.88, mnist, "1")], 0.0,
                Fault.ERRORED),
        Control("retrained on MNIST, where the calibration predates the MNIST reference",
                RELU_NET_EITHER, ctl.evidence(question, records=ctl.answered(
                    {"candidates": [net(0.88, mnist, 1)], "transform_source": "none",
                     "transform": []}), models=ctl.context(
                    calibration={f"{question.id}:0": 0.97}, labels=labels,
                    labels_elsewhere={"mnist-hidden": mnist})), 0.0, Fault.UNCALIBRATED),
        control("an MNIST net at chance beside the synthetic one at 96%: the better",
                [net(0.10, mnist, 1), net(0.96, labels, 0, label="var:mlp")], 1.0),
    ]


MODEL_ACCURACY = CheckKind(
    spec=ModelAccuracyCheck, name="model_accuracy", label=lambda c: "model accuracy",
    score=from_payload(lambda c, ev, p: score_accuracy(c, ev.key, p, ev.context())),
    request=request, hidden_sets=lambda c: c.hidden_sets, needs_data=True, grades_models=True,
    controls=controls, kernel="probe_torch")
