"""A model's layers in order, its parameter count and what its forward uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks._model import describe_models, from_payload
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.architecture import score_architecture
from graders.scoring.models.context import ModelContext
from graders.spec import ArchitectureCheck, Conv2d, Linear, ModelLocator, Question

MLP = ArchitectureCheck(points=3, locate=ModelLocator(names=("model", "net"), output_dim=10),
                        layers=(Linear(784, 512), Linear(512, 256), Linear(256, 10)),
                        parameters=535_818, requires=("relu",))


def _forward(activation: str, extra: str = "") -> str:
    return ("    def forward(self, x):\n"
            f"{extra}"
            f"        x = {activation}(self.fc1(x.view(-1, 784)))\n"
            f"        x = {activation}(self.fc2(x))\n"
            "        return self.fc3(x)\n")


def _net(sizes: tuple[int, ...], forward: str) -> dict[tuple[str, int], Any]:
    """The model probe's answer: one MLP of these sizes, bound to ``net``."""
    return ctl.answered({"candidates": [{"label": "var:net", "error": None,
                                         "architecture": ctl.linear_net(sizes, forward)}],
                         "transform_source": "student", "transform": ["ToTensor"]})


def controls() -> list[Control[ArchitectureCheck]]:
    """The handout's 784-512-256-10 MLP with ReLU: the layers are half the credit and the
    ReLU the other half, in quarters; a network with no right layer earns nothing."""
    question = ctl.question_for(MLP)

    def control(name: str, sizes: tuple[int, ...], forward: str,
                credit: float) -> Control[ArchitectureCheck]:
        return Control(name, MLP, ctl.evidence(question, records=_net(sizes, forward)),
                       credit)

    handout = (784, 512, 256, 10)
    return [
        control("784-512-256-10 with F.relu", handout, _forward("F.relu"), 1.0),
        # fc1 and fc2 wrong, fc3 right: a third of the layers, and the ReLU
        control("784-500-256-10: a hidden layer of the wrong size", (784, 500, 256, 10),
                _forward("F.relu"), 0.5),
        control("a different network (32-16-10) with ReLU: no right layer, nothing",
                (32, 16, 10), _forward("F.relu"), 0.0),
        # two TAs gave a right body with the wrong head half and three quarters
        control("784-512-256-5: the right body, the wrong number of classes",
                (784, 512, 256, 5), _forward("F.relu"), 0.5),
        control("784-500-256-5 with sigmoid: a third of the layers, no ReLU, wrong head",
                (784, 500, 256, 5), _forward("torch.sigmoid"), 0.0),
        control("32-16-5 with ReLU: no right layer and the wrong head", (32, 16, 5),
                _forward("F.relu"), 0.0),
        control("784-512-256-128-10: an extra layer", (784, 512, 256, 128, 10),
                _forward("F.relu"), 0.75),
        # the handout's frame (three linear layers, 784 in, 10 out), no width right: a
        # quarter of the layers' half, and the ReLU
        control("784-300-100-10: the handout's depth, input and output, other widths",
                (784, 300, 100, 10), _forward("F.relu"), 0.5),
        control("784-300-100-10 with sigmoid: other widths and no ReLU",
                (784, 300, 100, 10), _forward("torch.sigmoid"), 0.0),
        control("784-300-10: a layer short, other widths", (784, 300, 10),
                _forward("F.relu"), 0.0),
        control("784-500-256-10 with sigmoid: a third of the layers and no ReLU",
                (784, 500, 256, 10), _forward("torch.sigmoid"), 0.0),
        control("sigmoid activations where ReLU is asked", handout, _forward("torch.sigmoid"),
                0.5),
        control("sigmoid, with the ReLU lines commented out", handout, _forward(
            "torch.sigmoid", "        # x = F.relu(self.fc1(x.view(-1, 784)))\n"), 0.5),
        # nn.LeakyReLU as a module is no ReLU; F.leaky_relu in forward is none either
        control("F.leaky_relu where ReLU is asked", handout, _forward("F.leaky_relu"), 0.5),
        *_charged_once(),
        *_run_on_the_data(),
        *_pooled_after_each(),
        Control("no model in the notebook's variables", MLP, ctl.evidence(
            question, records=ctl.answered({"candidates": [], "transform_source": "student",
                                             "transform": []})), 0.0, Fault.MISSING),
        Control("describing the models timed out", MLP, ctl.evidence(
            question, records=ctl.failed(CallStatus.TIMEOUT, "did not finish within 600 s")),
            0.0, Fault.TIMED_OUT),
    ]


RUN = replace(MLP, input_shape=(1, 28, 28), logits=True)


def _defined_not_called(noise: np.ndarray) -> list[Control[ArchitectureCheck]]:
    """Layers the forward pass never called (the kernel's hooks saw which ran) are not
    the network: an ``nn.ReLU`` defined beside a forward applying the sigmoid is no ReLU,
    an unused layer no layer."""
    question = ctl.question_for(RUN)
    relu_module = {"name": "relu", "type": "ReLU"}

    def control(name: str, sizes: tuple[int, ...], forward: str, called: list[str],
                credit: float, extra: Sequence[dict[str, Any]] = ()) -> Control[ArchitectureCheck]:
        arch = ctl.linear_net(sizes, forward)
        arch["leaves"] = [*arch["leaves"], *extra]
        entry = {"label": "var:net", "error": None, "architecture": arch,
                 "forward": {"outputs": noise * 3, "called": called}}
        return Control(name, RUN, ctl.evidence(question, records=ctl.answered(
            {"candidates": [entry], "transform_source": "student", "transform": []})), credit)

    layers = ["fc1", "fc2", "fc3"]
    handout = (784, 512, 256, 10)
    relu_forward = ("    def forward(self, x):\n        x = self.relu(self.fc1(x.view(-1, 784)))"
                    "\n        x = self.relu(self.fc2(x))\n        return self.fc3(x)\n")
    return [
        control("nn.ReLU defined and called", handout, relu_forward,
                ["fc1", "relu", "fc2", "fc3"], 1.0, [relu_module]),
        control("nn.ReLU defined, forward applies the sigmoid", handout,
                _forward("torch.sigmoid"), layers, 0.5, [relu_module]),
        # the layers that run are the handout's; the dead one's parameters still count
        # (the notebook holds them), which costs the parameter count's quarter
        control("an extra layer defined and never called", (784, 512, 256, 256, 10),
                _forward("F.relu"), ["fc1", "fc2", "fc4"], 0.75),
        *_as_it_ran(noise),
    ]


_X = np.linspace(-3, 3, 64)


def _as_it_ran(noise: np.ndarray) -> list[Control[ArchitectureCheck]]:
    """What the pass computed, as torch's own functions saw it (the kernel's function
    mode), decides; the model's source, its layers' names and its own account of its
    modules do not."""
    question = ctl.question_for(RUN)
    handout = (784, 512, 256, 10)
    relu_source = _forward("F.relu")

    def control(name: str, credit: float, *, functions: list[str],
                called: list[str] | None = None, leaves: Sequence[dict[str, Any]] = (),
                own_forward: bool = False, sizes: tuple[int, ...] = handout,
                others: Sequence[dict[str, Any]] = (),
                hooked: Any = False, watched: Any = False, on_path: list[str] | None = None,
                samples: dict[str, Any] | None = None,
                source: str = "") -> Control[ArchitectureCheck]:
        arch = {**ctl.linear_net(sizes, source or relu_source), "own_forward": own_forward}
        arch["leaves"] = [*arch["leaves"], *leaves]
        entry = {"label": "var:net", "error": None, "architecture": arch,
                 "forward": {"outputs": noise * 3, "functions": functions, "hooked": hooked,
                             "watched": watched,
                             "called": ["fc1", "fc2", "fc3"] if called is None else called,
                             "on_path": on_path, "samples": samples or {}}}
        return Control(name, RUN, ctl.evidence(question, records=ctl.answered(
            {"candidates": [entry, *others], "transform_source": "student",
             "transform": []})), credit)

    ran_relu = ["flatten", "linear", "relu"]
    ran_sigmoid = ["flatten", "linear", "sigmoid"]
    # an untrained network of the handout's shape beside the trained one (a decoy)
    decoy = {"label": "var:mlp", "error": None,
             "architecture": {**ctl.linear_net(handout, relu_source), "trained": False},
             "forward": {"outputs": noise * 3, "functions": ran_relu,
                         "called": ["fc1", "fc2", "fc3"]}}
    trained_sigmoid = {"label": "var:net", "error": None,
                       "architecture": {**ctl.linear_net((784, 256, 10), relu_source),
                                        "trained": True},
                       "forward": {"outputs": noise * 3, "functions": ran_sigmoid,
                                   "called": ["fc1", "fc2"]}}
    # the question's MLP trained on a copy inside a function (the global one untrained),
    # beside a trained network of another kind: the MLP still answers
    trained_cnn = {"label": "var:vgg", "error": None,
                   "architecture": {"class": "VGG", "parameters": 1_000, "trained": True,
                                    "leaves": [{"name": "c1", "type": "Conv2d",
                                                "in_channels": 3, "out_channels": 8,
                                                "kernel_size": [3, 3]}]},
                   "forward": {"error": "RuntimeError: expected 3 channels"}}
    untrained_mlp = {**decoy, "label": "var:net"}
    return [
        Control("the question's network untrained beside a trained one of another kind",
                RUN, ctl.evidence(question, records=ctl.answered(
                    {"candidates": [trained_cnn, untrained_mlp],
                     "transform_source": "student", "transform": []})), 1.0),
        control("F.relu in forward, and relu ran", 1.0, functions=ran_relu),
        # a forward hook that rewrites the ReLU's output (or returns another head's): run
        # without its hooks the network gives other outputs
        control("relu ran, but forward hooks change what the network computes", 0.5,
                functions=ran_relu, hooked=True),
        control("'hooked' sent as a string is read as no hooks", 1.0, functions=ran_relu,
                hooked="yes"),
        # forward runs the handout's layers only while it is observed (torch's function
        # mode on, a layer's forward wrapped), another network otherwise
        control("the handout's network only while watched", 0.0, functions=ran_relu,
                watched=True),
        control("'watched' sent as a string is read as not", 1.0, functions=ran_relu,
                watched="yes"),
        # `if self.use_relu:` false, or `torch.relu = torch.sigmoid` before training
        control("F.relu in forward's source, but only sigmoid ran", 0.5,
                functions=ran_sigmoid),
        # class ReLU(nn.Module) whose forward applies the sigmoid
        control("a layer named ReLU computing with a forward of its own", 0.5,
                functions=ran_sigmoid, called=["fc1", "act", "fc2", "fc3"],
                leaves=[{"name": "act", "type": "ReLU", "genuine": False}]),
        # ReLU(z) = max(z, 0) written as a clamp from below
        control("x.clamp(min=0) as the ReLU, and a clamp ran", 1.0,
                functions=["flatten", "linear", "clamp"], on_path=["flatten", "linear", "clamp"],
                source="    def forward(self, x):\n        h = self.fc1(x.flatten(1))"
                       ".clamp(min=0)\n        return self.fc3(self.fc2(h).clamp(min=0))\n"),
        control("x.clamp(max=0) is no ReLU", 0.5,
                functions=["flatten", "linear", "clamp"], on_path=["flatten", "linear", "clamp"],
                source="    def forward(self, x):\n        h = self.fc1(x.flatten(1))"
                       ".clamp(max=0)\n        return self.fc3(self.fc2(h).clamp(max=0))\n"),
        # relu computed for a "dead units" statistic beside a sigmoid network: the
        # output does not descend from it
        control("relu ran, but only for a statistic the output does not use", 0.5,
                functions=[*ran_sigmoid, "relu", "eq", "mean"], on_path=ran_sigmoid),
        control("relu ran, and the output descends from it", 1.0,
                functions=[*ran_relu, "eq", "mean"], on_path=ran_relu),
        # nn.ReLU.forward replaced by a sigmoid and the function recording switched off:
        # the layer's own sampled outputs show what it computes
        control("an nn.ReLU seen computing a sigmoid, no functions recorded", 0.5,
                functions=None, called=["fc1", "act", "fc2", "fc3"],  # type: ignore[arg-type]
                leaves=[{"name": "act", "type": "ReLU"}],
                samples={"act": {"x": _X, "y": 1 / (1 + np.exp(-_X))}}),
        control("an nn.ReLU seen computing max(x, 0), no functions recorded", 1.0,
                functions=None, called=["fc1", "act", "fc2", "fc3"],  # type: ignore[arg-type]
                leaves=[{"name": "act", "type": "ReLU"}],
                samples={"act": {"x": _X, "y": np.maximum(_X, 0)}}),
        # net.forward = other.forward: the net's own layers never run
        control("forward replaced on the instance, none of its layers ran", 0.0,
                functions=ran_sigmoid, called=[], own_forward=True),
        Control("an untrained decoy of the handout's shape beside the trained network", RUN,
                ctl.evidence(question, records=ctl.answered(
                    {"candidates": [trained_sigmoid, decoy], "transform_source": "student",
                     "transform": []})), 0.0),
    ]


def _run_on_the_data() -> list[Control[ArchitectureCheck]]:
    """Judged by what the model does, not by its layers' names: run on a batch shaped
    like the data, it must take it, and give logits where CrossEntropyLoss follows."""
    question = ctl.question_for(RUN)
    noise = np.random.default_rng(0).normal(size=(4, 10)).astype(np.float32)
    softmax = np.exp(noise) / np.exp(noise).sum(axis=1, keepdims=True)

    def control(name: str, forward: dict[str, Any] | None, credit: float,
                sizes: tuple[int, ...] = (784, 512, 256, 10)) -> Control[ArchitectureCheck]:
        entry = {"label": "var:net", "error": None,
                 "architecture": ctl.linear_net(sizes, _forward("F.relu"))}
        if forward is not None:
            entry["forward"] = forward
        return Control(name, RUN, ctl.evidence(question, records=ctl.answered(
            {"candidates": [entry], "transform_source": "student", "transform": []})), credit)

    return [
        control("the handout's MLP giving logits", {"outputs": noise * 3}, 1.0),
        control("log-softmax outputs (CrossEntropyLoss of them is the same loss)",
                {"outputs": np.log(softmax)}, 1.0),
        # the output layer's share of the layers' half: (2/3 + 1) / 2, in quarters
        control("a softmax before CrossEntropyLoss: probabilities out", {"outputs": softmax},
                0.75),
        # a new head computed and thrown away: forward returns the body's outputs
        control("a head called, its result dropped: forward gives 256 outputs",
                {"outputs": np.random.default_rng(1).normal(size=(4, 256))}, 0.5),
        *_library_head(noise),
        control("a network whose classifier does not fit the data (its forward raises)",
                {"error": "RuntimeError: mat1 and mat2 shapes cannot be multiplied "
                          "(4x256 and 576x10)"}, 0.0),
        control("a forward that returns no tensor", {"error": "forward returned a dict, "
                                                              "not a tensor"}, 0.0),
        control("no run on the data came back with the model", None, 0.0),
        *_defined_not_called(noise),
    ]


def _library_head(noise: np.ndarray) -> list[Control[ArchitectureCheck]]:
    """"Replace the last layer for two classes": a model whose forward still gives the
    library head's outputs (ImageNet's 1000) replaced nothing; a head of the wrong size
    was replaced, wrongly (at most half)."""
    check = replace(RUN, layers=(*MLP.layers[:-1], Linear(256, 2)), parameters=None,
                    placed_head=1000)
    question = ctl.question_for(check)

    def control(name: str, outputs: int, credit: float) -> Control[ArchitectureCheck]:
        entry = {"label": "var:net", "error": None,
                 "architecture": ctl.linear_net((784, 512, 256, outputs), _forward("F.relu")),
                 "forward": {"outputs": np.resize(noise, (4, outputs)) * 3}}
        return Control(name, check, ctl.evidence(question, records=ctl.answered(
            {"candidates": [entry], "transform_source": "student", "transform": []})), credit)

    return [control("the head replaced for the two classes", 2, 1.0),
            control("the library's 1000-way head left in place", 1000, 0.0),
            control("the head replaced with ten outputs", 10, 0.5)]


DROPOUT = replace(MLP, points=2, parameters=None, requires=("dropout",))
_DROPOUT_LINE = "        x = F.dropout(x, 0.5, self.training)\n"


def _charged_once() -> list[Control[ArchitectureCheck]]:
    """A later question adds dropout to the MLP an earlier question graded: only the
    dropout earns (or loses) its credit there; the layers were charged once already."""
    question = ctl.question_for(DROPOUT)
    models = replace(ctl.context(), architectures=(("2.1", MLP.layers),
                                                   (question.id, DROPOUT.layers)))

    def control(name: str, sizes: tuple[int, ...], forward: str,
                credit: float) -> Control[ArchitectureCheck]:
        return Control(name, DROPOUT, ctl.evidence(question, records=_net(sizes, forward),
                                                   models=models), credit)

    return [
        control("dropout added to the MLP graded in 2.1", (784, 512, 256, 10),
                _forward("F.relu", _DROPOUT_LINE), 1.0),
        control("dropout added to an MLP whose wrong hidden layer 2.1 charged already",
                (784, 500, 256, 10), _forward("F.relu", _DROPOUT_LINE), 1.0),
        control("2.1's MLP again, without dropout: its right layers are not paid twice",
                (784, 512, 256, 10), _forward("F.relu"), 0.0),
        control("a different network (32-16-10) with dropout: not the network",
                (32, 16, 10), _forward("F.relu", _DROPOUT_LINE), 0.0),
        *_dropout_rate(question, models),
    ]


def _dropout_rate(question: Question, models: ModelContext) -> list[Control[ArchitectureCheck]]:
    """"Dropout with p = 0.5": a Dropout module of another rate costs a quarter."""
    check = replace(DROPOUT, settings=(("Dropout", "p", 0.5),))
    question = replace(question, checks=(check,))

    def control(name: str, rate: float, credit: float) -> Control[ArchitectureCheck]:
        arch = ctl.linear_net((784, 512, 256, 10), _forward(
            "F.relu", "        x = self.drop(x)\n"))
        arch["leaves"] = [*arch["leaves"], {"name": "drop", "type": "Dropout", "p": rate}]
        payload = {"candidates": [{"label": "var:net", "error": None, "architecture": arch}],
                   "transform_source": "student", "transform": ["ToTensor"]}
        return Control(name, check, ctl.evidence(question, records=ctl.answered(payload),
                                                 models=models), credit)

    placed = replace(DROPOUT, placed=(("dropout", "Linear"),))
    placed_question = replace(question, checks=(placed,))

    def where(name: str, at: int, credit: float,
              sequence: list[str] | None = None) -> Control[ArchitectureCheck]:
        """The Dropout module at position ``at`` among the MLP's leaves, as run
        (``sequence``: every call forward made, repeats kept)."""
        arch = ctl.linear_net((784, 512, 256, 10), _forward("F.relu"))
        leaves = list(arch["leaves"])
        leaves.insert(at, {"name": "drop", "type": "Dropout", "p": 0.5})
        entry: dict[str, Any] = {"label": "var:net", "error": None,
                                 "architecture": {**arch, "leaves": leaves}}
        if sequence is not None:
            entry["forward"] = {"outputs": np.zeros((4, 10)), "called":
                                list(dict.fromkeys(sequence)), "sequence": sequence}
        payload = {"candidates": [entry],
                   "transform_source": "student", "transform": ["ToTensor"]}
        return Control(name, placed, ctl.evidence(placed_question, records=ctl.answered(
            payload), models=models), credit)

    return [control("nn.Dropout(0.5), as asked", 0.5, 1.0),
            control("nn.Dropout(0.1): dropout, at another rate", 0.1, 0.75),
            # "dropout after the fully connected layers"
            where("dropout after the first fully connected layer", 1, 1.0),
            # misplaced: half the piece (on the logits, after the output layer, it
            # regularises nothing)
            where("dropout only before any fully connected layer (on the inputs)", 0, 0.5),
            where("dropout only after the output layer (on the logits)", 3, 0.5,
                  ["fc1", "fc2", "fc3", "drop"]),
            # declared after every layer in __init__, never run: the order declared
            # says only that it comes after a Linear
            where("a dropout declared after every layer, forward not run", 3, 1.0),

            # one Dropout module applied on the inputs and again after fc1
            where("one dropout module used before and after the first layer", 0, 1.0,
                  ["drop", "fc1", "drop", "fc2", "fc3"])]


CNN = ArchitectureCheck(
    points=2, locate=ModelLocator(names=("model",), output_dim=10),
    layers=(Conv2d(1, 16, 3), Conv2d(16, 32, 3), Conv2d(32, 64, 3), Linear(None, 10)),
    requires=("max_pool",), each=(("max_pool", "Conv2d"),))


def _pooled_after_each() -> list[Control[ArchitectureCheck]]:
    """"A max-pooling layer after every convolution": judged on the order forward called
    the modules (one pooling module called three times follows each convolution)."""
    question = ctl.question_for(CNN)
    convs: list[dict[str, Any]] = [
        {"name": f"c{i + 1}", "type": "Conv2d", "in_channels": a, "out_channels": b,
         "kernel_size": [3, 3]} for i, (a, b) in enumerate(((1, 16), (16, 32), (32, 64)))]
    leaves: list[dict[str, Any]] = [
        *convs, {"name": "pool", "type": "MaxPool2d", "kernel_size": 2, "stride": 2},
        {"name": "one", "type": "MaxPool2d", "kernel_size": 1, "stride": 1},
        {"name": "relu", "type": "ReLU"},
        {"name": "fc", "type": "Linear", "in_features": 64, "out_features": 10}]

    def control(name: str, sequence: list[str], credit: float, *,
                source: str = "") -> Control[ArchitectureCheck]:
        kept = [leaf for leaf in leaves if leaf["name"] in sequence]
        arch = {"class": "CNN", "leaves": kept, "parameters": 23_946,
                "forward_source": source or "    def forward(self, x):\n"
                                            "        return self.fc(self.pool(x))\n"}
        entry = {"label": "var:model", "error": None, "architecture": arch,
                 "forward": {"outputs": np.zeros((4, 10)), "sequence": sequence,
                             "called": list(dict.fromkeys(sequence))}}
        return Control(name, CNN, ctl.evidence(question, records=ctl.answered(
            {"candidates": [entry], "transform_source": "student", "transform": []})),
            credit)

    three = ["c1", "relu", "pool", "c2", "relu", "pool", "c3", "relu", "pool", "fc"]
    return [
        control("one pooling module called after each of the three convolutions", three,
                1.0),
        control("no pooling after the third convolution", [*three[:-2], "fc"], 0.5),
        # MaxPool2d(1) passes its input through: no pooling
        control("a pooling of one pixel after the third convolution",
                [*three[:-2], "one", "fc"], 0.5),
        control("poolings of one pixel after every convolution",
                [n if n != "pool" else "one" for n in three], 0.5),
        control("all the pooling at the end, after the last convolution",
                ["c1", "relu", "c2", "relu", "c3", "relu", "pool", "pool", "pool", "fc"], 0.5),
        control("pooling modules after two convolutions, F.max_pool2d after the third",
                ["c1", "relu", "pool", "c2", "relu", "pool", "c3", "relu", "fc"], 1.0,
                source="    def forward(self, x):\n        x = self.pool(self.c1(x))\n"
                       "        x = self.pool(self.c2(x))\n"
                       "        return self.fc(F.max_pool2d(self.c3(x), 2).flatten(1))\n"),
        # F.max_pool2d leaves no module to count: the source says it pools
        control("pooling by F.max_pool2d (no module to place)",
                ["c1", "relu", "c2", "relu", "c3", "relu", "fc"], 1.0,
                source="    def forward(self, x):\n        for conv in self.convs:\n"
                       "            x = F.max_pool2d(F.relu(conv(x)), 2)\n"
                       "        return self.fc(x.flatten(1))\n"),
    ]


ARCHITECTURE = CheckKind(
    spec=ArchitectureCheck, name="architecture", label=lambda c: "architecture",
    score=from_payload(lambda c, ev, p: score_architecture(c, p, ev.context())),
    request=lambda c, _: describe_models(saved=c.locate.source != "memory", public=False,
                                         forward=c.input_shape),
    needs_data=True, grades_models=True, controls=controls, kernel="probe_torch")
