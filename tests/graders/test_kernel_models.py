"""The kernel's model witnesses, run in this process on real torch objects: what a model
outputs on a batch shaped like the data, and which optimizers stepped with gradients.
(The host judges both; tests/graders/test_kind_controls.py holds the judging.)"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import graders.kernel
from graders.scoring.models.architecture import _probabilities
from tests.conftest import ROOT
from tests.graders.test_kernel_loader import _probe_torch

MLP_LAYERS = (nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))


def test_a_softmax_before_the_loss_shows_in_the_outputs_and_logits_do_not():
    forward = _probe_torch()["forward_probe"]
    logits = forward(nn.Sequential(*MLP_LAYERS), [1, 28, 28])  # type: ignore[operator]
    probs = forward(nn.Sequential(*MLP_LAYERS, nn.Softmax(dim=1)), [1, 28, 28])  # type: ignore[operator]
    logs = forward(nn.Sequential(*MLP_LAYERS, nn.LogSoftmax(dim=1)), [1, 28, 28])  # type: ignore[operator]
    assert probs["outputs"].shape == (4, 10)
    assert _probabilities(probs["outputs"])
    assert not _probabilities(logits["outputs"]) and not _probabilities(logs["outputs"])


def test_a_network_that_cannot_take_the_data_says_why_and_one_that_wants_it_flat_runs():
    forward = _probe_torch()["forward_probe"]
    cnn = nn.Sequential(nn.Conv2d(1, 16, 3), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 3 * 3, 10))
    broken = forward(cnn, [1, 28, 28])  # type: ignore[operator]
    assert "shapes cannot be multiplied" in broken["error"]
    flat = forward(nn.Sequential(nn.Linear(784, 10)), [1, 28, 28])  # type: ignore[operator]
    assert flat["outputs"].shape == (4, 10)
    # the model is left in the mode it was in
    net = nn.Sequential(*MLP_LAYERS)
    forward(net, [1, 28, 28])  # type: ignore[operator]
    assert net.training


@pytest.fixture()
def watched() -> Iterator[dict[str, object]]:
    tools = _probe_torch()
    tools["watch_optimizers"]()  # type: ignore[operator]
    yield tools
    state = sys.modules.pop(str(tools["STEPS"]))
    for handle in state.handles:
        handle.remove()


def test_only_an_optimizer_that_stepped_with_gradients_is_counted(watched):
    net = nn.Sequential(*MLP_LAYERS)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    trained = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    torch.optim.Adam(net.parameters(), lr=0.01)  # built, handed nowhere
    no_grad = torch.optim.Adam(nn.Linear(3, 2).parameters(), lr=1.0)
    watched["after_cell"](4)  # type: ignore[operator]
    for _ in range(3):
        trained.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        trained.step()
    no_grad.step()  # no backward: nothing to step on
    steps = watched["optimizer_steps"]()  # type: ignore[operator]
    by_class = {r["class"]: r for r in steps}
    assert set(by_class) == {"SGD", "Adam"}
    sgd, adam = by_class["SGD"], by_class["Adam"]
    assert (sgd["steps"], sgd["with_grad"], sgd["after_cells"]) == (3, 3, [4])
    assert sgd["settings"]["nesterov"] is True and sgd["settings"]["lr"] == 0.01
    assert [100, 784] in sgd["shapes"]
    assert (adam["steps"], adam["with_grad"], adam["settings"]["lr"]) == (1, 0, 1.0)


def test_steps_in_the_cell_that_imports_torch_name_the_cell_that_ran_before_it(
        monkeypatch):
    """The figures watch knows the last cell from the first one on; the step watch,
    installed when torch is imported, starts from it (it named no cell, -1, and a
    host that reads parts took those steps for the notebook's first cell's)."""
    import types

    figures = types.ModuleType("_autograder_figures")
    figures.cell = 2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_autograder_figures", figures)
    tools = _probe_torch()
    tools["watch_optimizers"]()  # type: ignore[operator]
    try:
        net = nn.Linear(4, 2)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        optimizer.zero_grad()
        net(torch.randn(3, 4)).sum().backward()
        optimizer.step()
        (record,) = tools["optimizer_steps"]()  # type: ignore[operator]
        assert record["after_cells"] == [2]
    finally:
        state = sys.modules.pop(str(tools["STEPS"]))
        for handle in state.handles:
            handle.remove()


def test_the_untrained_control_is_a_fresh_copy_and_leaves_the_notebook_as_it_was():
    tools = _probe_torch()
    net = nn.Sequential(*MLP_LAYERS)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.5)  # "trained": nothing reset_parameters would draw
    state = torch.random.get_rng_state()
    fresh = tools["untrained_copy"](net)  # type: ignore[operator]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(bool((p == 0.5).all()) for p in net.parameters())
    assert not any(bool((p == 0.5).all()) for p in fresh.parameters())
    again = tools["untrained_copy"](net)  # type: ignore[operator]
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), again.parameters(),
                                                 strict=True))


class _OwnLinear(nn.Module):
    """A student's layer written from scratch: nothing re-draws its parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((10, 784), 0.5))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1) @ self.weight.T + self.bias


def test_the_untrained_control_redraws_parameters_no_layer_resets():
    fresh = _probe_torch()["untrained_copy"](_OwnLinear())  # type: ignore[operator]
    assert not bool((fresh.weight == 0.5).any())
    assert float(fresh.weight.detach().abs().max()) <= 1 / 784 ** 0.5 + 1e-6


def test_a_network_that_reads_a_grey_image_as_rows_runs_without_its_channel():
    class Rows(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn, self.out = nn.RNN(28, 16, batch_first=True), nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.rnn(x)[0][:, -1])  # (N, 28, 28) only

    ran = _probe_torch()["forward_probe"](Rows(), [1, 28, 28])  # type: ignore[operator]
    assert ran["outputs"].shape == (4, 10)


def _vugrad():  # type: ignore[no-untyped-def]
    """The course's library, as the sandbox mounts it for VU's hand-ins."""
    sys.path.insert(0, str(ROOT / "reference" / "vu_dl_a2" / "support"))
    try:
        import vugrad
    finally:
        sys.path.pop(0)
    return vugrad


def test_a_vugrad_networks_untrained_control_is_drawn_afresh():
    import numpy as np

    vg, ops = _vugrad(), _ops()

    class MLP(vg.Module):
        def __init__(self) -> None:
            self.layer = vg.Linear(2, 2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.layer(x)

        def parameters(self):  # type: ignore[no-untyped-def]
            return self.layer.parameters()

    net = MLP()
    for p in net.parameters():
        p.value = np.full(p.value.shape, 0.5)
    fresh = ops["_untrained_copy"](net)  # type: ignore[operator]
    assert all(np.all(p.value == 0.5) for p in net.parameters())
    assert not any(np.all(p.value == 0.5) for p in fresh.parameters())


def test_a_forward_written_for_the_loaders_batch_size_still_runs():
    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.view(100, -1))  # the notebook's batch_size = 100

    ran = _probe_torch()["forward_probe"](Fixed(), [1, 28, 28])  # type: ignore[operator]
    assert ran["outputs"].shape == (8, 10)  # the first rows of the batch of 100


def test_without_the_step_hook_the_kernel_says_it_counted_nothing_rather_than_zero():
    tools = _probe_torch()
    assert str(tools["STEPS"]) not in sys.modules
    assert tools["optimizer_steps"]() is None  # type: ignore[operator]


def test_the_run_names_the_layers_forward_called_and_not_those_it_only_defined():
    class SigmoidNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, 32), nn.Linear(32, 10)
            self.relu = nn.ReLU()  # defined, never called: forward applies the sigmoid
            self.spare = nn.Linear(32, 32)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(torch.sigmoid(self.fc1(x.flatten(1))))

    net = SigmoidNet()
    ran = _probe_torch()["forward_probe"](net, [1, 28, 28])  # type: ignore[operator]
    assert ran["called"] == ["fc1", "fc2"]
    # the hooks are gone afterwards: the notebook's model is left as it was
    assert all("forward" not in vars(m) for m in net.modules())


def _ops() -> dict[str, object]:
    ops: dict[str, object] = {"__name__": "probe_ops_under_test"}
    source = Path(graders.kernel.__file__).with_name("probe_ops.py").read_text()
    exec(compile(source, "probe_ops.py", "exec"), ops)
    return ops


def _relu_trial(op: type) -> dict[str, object]:
    import numpy as np

    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, 0.5]])
    spec = {"id": "relu", "names": ["ReLU"], "inputs": [x.tolist()],
            "goutput": np.full(x.shape, 2.0).tolist()}
    return _ops()["trial"](spec, {"ReLUOp": op})  # type: ignore[operator]


def test_an_op_keeping_its_state_outside_the_context_is_caught_by_a_second_forward():
    import numpy as np

    class ReLUOp:  # found under the "Op" suffix too
        @staticmethod
        def forward(context, x):  # type: ignore[no-untyped-def]
            context["mask"] = x > 0
            return np.maximum(x, 0)

        @staticmethod
        def backward(context, goutput):  # type: ignore[no-untyped-def]
            return goutput * context["mask"]

    class GlobalReLU(ReLUOp):
        @staticmethod
        def forward(context, x):  # type: ignore[no-untyped-def]
            GlobalReLU.mask = x > 0  # a class attribute: the latest node's mask
            return np.maximum(x, 0)

        @staticmethod
        def backward(context, goutput):  # type: ignore[no-untyped-def]
            return goutput * GlobalReLU.mask

    right = _relu_trial(ReLUOp)
    assert right["found"] == "ReLUOp"
    expected = 2.0 * (np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, 0.5]]) > 0)
    assert np.array_equal(right["grads"][0], expected)  # type: ignore[index]
    assert not np.array_equal(_relu_trial(GlobalReLU)["grads"][0], expected)  # type: ignore[index]


def test_a_layer_called_through_its_forward_method_counts_as_called():
    class Direct(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.relu, self.fc2 = nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2.forward(self.relu(self.fc1.forward(x.flatten(1))))

    net = Direct()
    ran = _probe_torch()["forward_probe"](net, [1, 28, 28])  # type: ignore[operator]
    assert ran["called"] == ["fc1", "relu", "fc2"] and ran["unwatched"] == []
    assert all("forward" not in vars(m) for m in net.modules())  # the class's forward again


def _train(optimizer: torch.optim.Optimizer, net: nn.Module, steps: int = 3) -> None:
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()


def test_a_step_counts_as_torch_class_whose_step_ran_with_the_settings_it_stepped_with(
        watched):
    from torch.optim.optimizer import _global_optimizer_post_hooks

    net = nn.Sequential(*MLP_LAYERS)

    class SGD(torch.optim.Adam):  # a renamed Adam, its defaults rewritten to look like SGD
        def __init__(self, params, lr=0.001, momentum=0.9):  # type: ignore[no-untyped-def]
            super().__init__(params, lr=lr)
            self.defaults["momentum"] = momentum

    class OwnStep(torch.optim.SGD):
        def step(self, closure=None):  # type: ignore[no-untyped-def, override]
            return None

    _train(SGD(net.parameters(), lr=0.001), net)
    _train(OwnStep(net.parameters(), lr=0.5), net)
    zeroed = torch.optim.SGD(net.parameters(), lr=0.25)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    zeroed.step()  # zero gradients move nothing
    decayed = torch.optim.AdamW(net.parameters(), lr=0.5, weight_decay=0.1)
    decayed.step()  # weight decay moves the weights on zero gradients: still no training
    by_hand = torch.optim.Adagrad(net.parameters(), lr=0.125)
    for hook in list(_global_optimizer_post_hooks.values()):
        hook(by_hand, (), {})  # the post-hook called by the notebook: no step ran
    steps = {r["class"]: r for r in watched["optimizer_steps"]()}  # type: ignore[operator]
    assert steps["Adam"]["with_grad"] == 3 and "momentum" not in steps["Adam"]["settings"]
    assert steps["OwnStep (own step)"]["with_grad"] == 0
    assert steps["SGD"]["settings"]["lr"] == 0.25 and steps["SGD"]["with_grad"] == 0
    assert steps["Adagrad"]["with_grad"] == 0
    assert steps["AdamW"]["steps"] == 1 and steps["AdamW"]["with_grad"] == 0
    # the records are the kernel's own: the module exposes no list to append to
    assert not hasattr(sys.modules[str(watched["STEPS"])], "records")


def test_a_model_is_described_by_torchs_registries_not_by_its_own_methods(watched):
    describe = watched["describe"]

    class Liar(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.core = nn.Linear(784, 10)
            object.__setattr__(self, "_decoy", nn.Sequential(*MLP_LAYERS))

        def named_modules(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            yield "", self
            yield from ((n, m) for n, m in self._decoy.named_modules() if n)

        def parameters(self, recurse=True):  # type: ignore[no-untyped-def, override]
            return self._decoy.parameters()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.core(x.flatten(1))

    described = describe(Liar())  # type: ignore[operator]
    assert [leaf["type"] for leaf in described["leaves"]] == ["Linear"]
    assert described["parameters"] == 784 * 10 + 10
    net = nn.Sequential(*MLP_LAYERS)
    assert describe(net)["trained"] is False  # type: ignore[operator]
    _train(torch.optim.SGD(net.parameters(), lr=0.1), net, steps=1)
    assert describe(net)["trained"] is True  # type: ignore[operator]


def test_the_run_records_the_torch_functions_that_ran_however_they_were_reached():
    tools = _probe_torch()
    forward = tools["forward_probe"]

    class ReLU(nn.Module):  # named ReLU, computing the sigmoid
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(x)

    class DeadRelu(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.act = nn.Linear(784, 10), ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if False:
                x = nn.functional.relu(x)
            return self.act(self.fc(x.flatten(1)))

    ran = forward(DeadRelu(), [1, 28, 28])  # type: ignore[operator]
    assert "sigmoid" in ran["functions"] and "relu" not in ran["functions"]
    described = tools["describe"](DeadRelu())  # type: ignore[operator]
    assert {leaf["name"]: leaf["genuine"] for leaf in described["leaves"]} == {
        "fc": True, "act": False}
    real = forward(nn.Sequential(*MLP_LAYERS), [1, 28, 28])  # type: ignore[operator]
    assert "relu" in real["functions"]
    # a forward set on the instance is reported, and what it ran is what is recorded
    swapped = nn.Sequential(*MLP_LAYERS)
    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Sigmoid())
    swapped.forward = other.forward  # type: ignore[method-assign]
    assert tools["describe"](swapped)["own_forward"] is True  # type: ignore[operator]
    ran = forward(swapped, [1, 28, 28])  # type: ignore[operator]
    assert ran["called"] == [] and "sigmoid" in ran["functions"]


def _mlp() -> tuple[nn.Module, ...]:
    return (nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))


class _SigmoidCall(nn.Sequential):
    """A ReLU network on paper whose ``__call__`` answers with sigmoids: no hook, and
    forward is torch's own."""

    def __call__(self, x):  # type: ignore[override]
        return torch.sigmoid(super().__call__(x))


class _Noisy(nn.Module):
    """An honest network whose forward adds noise of its own, in evaluation too."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(*_mlp())

    def forward(self, x):
        return self.net(x) + torch.randn(len(x), 10)


def test_a_call_of_its_own_or_a_hook_changing_outputs_is_caught_and_noise_is_not():
    forward = _probe_torch()["forward_probe"]
    assert forward(_SigmoidCall(*_mlp()), [1, 28, 28])["hooked"] is True  # type: ignore[operator]
    compiled = nn.Sequential(*_mlp())
    compiled._compiled_call_impl = lambda x: torch.sigmoid(compiled._call_impl(x))  # type: ignore[assignment]
    assert forward(compiled, [1, 28, 28])["hooked"] is True  # type: ignore[operator]
    hooked = nn.Sequential(*_mlp())
    hooked[2].register_forward_hook(lambda m, i, o: torch.sigmoid(i[0]))
    assert forward(hooked, [1, 28, 28])["hooked"] is True  # type: ignore[operator]
    # a hook that only records, and a noisy forward with a recording hook: nothing to say
    quiet = nn.Sequential(*_mlp())
    quiet[2].register_forward_hook(lambda m, i, o: None)
    assert forward(quiet, [1, 28, 28])["hooked"] is False  # type: ignore[operator]
    noisy = _Noisy()
    noisy.net[2].register_forward_hook(lambda m, i, o: None)
    assert forward(noisy, [1, 28, 28])["hooked"] is False  # type: ignore[operator]
    assert forward(nn.Sequential(*_mlp()), [1, 28, 28])["hooked"] is False  # type: ignore[operator]


def _run(net: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 3) -> None:
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()


def test_a_run_taking_on_another_settings_weights_is_continued_and_a_reset_one_fresh(watched):
    net = nn.Sequential(*_mlp())
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    _run(net, torch.optim.SGD(net.parameters(), lr=0.01))
    _run(net, torch.optim.Adam(net.parameters(), lr=0.01))  # on from SGD's weights
    net.load_state_dict(initial)
    _run(net, torch.optim.SGD(net.parameters(), lr=0.1))  # reset first: fresh
    for _ in range(2):  # a fresh optimizer per epoch continues its own run
        _run(net, torch.optim.SGD(net.parameters(), lr=0.1))
    with torch.no_grad():  # initialised afresh in place: fresh
        for module in net:
            if isinstance(module, nn.Linear):
                module.reset_parameters()
    _run(net, torch.optim.RMSprop(net.parameters(), lr=0.01))
    # the continued setting run afresh too (a later part's): a record of its own
    fresh = nn.Sequential(*_mlp())
    _run(fresh, torch.optim.Adam(fresh.parameters(), lr=0.01))
    flags = sorted((r["class"], r["settings"]["lr"], r["continued"], r["fresh"], r["steps"])
                   for r in watched["optimizer_steps"]())  # type: ignore[operator]
    assert flags == [("Adam", 0.01, False, True, 3), ("Adam", 0.01, True, False, 3),
                     ("RMSprop", 0.01, False, True, 3), ("SGD", 0.01, False, True, 3),
                     ("SGD", 0.1, False, True, 9)]


def test_a_sampler_serving_less_from_its_second_epoch_on_is_judged_by_that_epoch():
    from torch.utils.data import DataLoader, Sampler, TensorDataset

    class Shrinking(Sampler[list[int]]):
        def __init__(self) -> None:
            self.epoch = 0

        def __len__(self) -> int:
            return 5

        def __iter__(self):  # type: ignore[override]
            self.epoch += 1
            span = 40 if self.epoch == 1 else 10
            return iter([[i % span for i in range(j * 8, j * 8 + 8)] for j in range(5)])

    data = TensorDataset(torch.randn(40, 2), torch.arange(40) % 4)
    served = _probe_torch()["_served"]
    loader = DataLoader(data, batch_sampler=Shrinking())
    found = served(loader, (torch.arange(40) % 4).numpy(), 40)  # type: ignore[operator]
    assert (found["largest"], found["indices"], found["distinct"]) == (8, 40, 10)
    honest = served(DataLoader(data, batch_size=8, shuffle=True),  # type: ignore[operator]
                    (torch.arange(40) % 4).numpy(), 40)
    assert (honest["largest"], honest["indices"], honest["distinct"]) == (8, 40, 40)


def test_an_sgd_whose_update_function_was_replaced_steps_as_nobodys_optimizer(watched):
    import torch.optim.sgd as sgd_module

    genuine = sgd_module.sgd
    net = nn.Sequential(*_mlp())
    try:
        _run(net, torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9), steps=2)
        sgd_module.sgd = lambda params, grads, *a, **k: genuine(params, grads, *a, **k)
        _run(net, torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9), steps=2)
    finally:
        sgd_module.sgd = genuine
    classes = sorted((r["settings"]["lr"], r["class"])
                     for r in watched["optimizer_steps"]())  # type: ignore[operator]
    assert classes == [(0.001, "SGD"), (0.01, "SGD (own step)")]


def test_a_layers_sizes_are_read_from_its_weight_not_its_attributes():
    describe = _probe_torch()["describe"]
    net = nn.Sequential(nn.Flatten(), nn.Linear(3072, 64), nn.ReLU(), nn.Linear(64, 3))
    net[1].out_features, net[3].in_features = 512, 512  # print(net) now shows 3072-512-3
    conv = nn.Conv2d(3, 8, 3)
    conv.out_channels = 64
    leaves = {leaf["name"]: leaf for leaf in describe(nn.Sequential(conv, net))["leaves"]}  # type: ignore[operator]
    assert (leaves["1.1"]["in_features"], leaves["1.1"]["out_features"]) == (3072, 64)
    assert leaves["1.3"]["in_features"] == 64
    assert (leaves["0"]["out_channels"], leaves["0"]["kernel_size"]) == (8, [3, 3])


def test_the_pretrained_weights_are_read_where_the_sandbox_mounts_them_only():
    from graders.boundary import TORCH_HOME

    assert _probe_torch()["WEIGHTS_FOLDER"] == f"{TORCH_HOME}/hub/checkpoints"


class _SigmoidWithStatistic(nn.Module):
    """A sigmoid MLP that also computes how many units a ReLU would leave dead."""

    def __init__(self, relu_out: bool = False) -> None:
        super().__init__()
        self.fc1, self.fc2, self.relu_out = nn.Linear(784, 100), nn.Linear(100, 10), relu_out
        self.dead = 0.0

    def forward(self, x):
        h = self.fc1(x.flatten(1))
        self.dead = (nn.functional.relu(h) == 0).float().mean()
        return self.fc2(nn.functional.relu(h) if self.relu_out else torch.sigmoid(h))


def test_the_calls_on_the_outputs_path_leave_out_a_relu_computed_beside_it():
    forward = _probe_torch()["forward_probe"]
    beside = forward(_SigmoidWithStatistic(), [1, 28, 28])  # type: ignore[operator]
    assert "relu" in beside["functions"]
    assert "relu" not in beside["on_path"] and "sigmoid" in beside["on_path"]
    through = forward(_SigmoidWithStatistic(relu_out=True), [1, 28, 28])  # type: ignore[operator]
    assert "relu" in through["on_path"] and "sigmoid" not in through["on_path"]
    # a scripted part's tensors come from nowhere the mode sees: no path is claimed
    scripted = nn.Sequential(torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(784, 10))),
                             nn.ReLU())
    assert forward(scripted, [1, 28, 28])["on_path"] is None  # type: ignore[operator]


def test_vugrad_networks_kept_in_a_dict_of_runs_are_found_once_each():
    ops: dict[str, object] = {"__name__": "probe_ops_under_test"}
    source = Path(graders.kernel.__file__).with_name("probe_ops.py").read_text()
    exec(compile(source, "probe_ops.py", "exec"), ops)
    relu, sigmoid = object(), object()
    namespace = {"mlp": sigmoid, "runs": {"relu": (relu, [0.6]), "sigmoid": (sigmoid, [0.3])},
                 "_hidden": relu}
    held = list(ops["_held"](namespace))  # type: ignore[operator]
    assert ("runs['relu'][0]", relu) in held and ("mlp", sigmoid) in held
    assert not any(label.startswith("_") for label, _ in held)


def test_steps_not_moved_by_the_optimizers_own_rule_or_undone_after_each_step_train_nothing(
        watched):
    from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))

    def loss(net: nn.Module) -> None:
        nn.functional.cross_entropy(net(x), y).backward()

    # Adam's steps passed off as SGD's: SGD's step hooks called by hand around them
    net = nn.Sequential(*_mlp())
    sgd = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(4):
        adam.zero_grad()
        loss(net)
        for hook in list(_global_optimizer_pre_hooks.values()):
            hook(sgd, (), {})
        adam.step()
        for hook in list(_global_optimizer_post_hooks.values()):
            hook(sgd, (), {})
    # every step undone: the weights loaded back after each
    rolled = nn.Sequential(*_mlp())
    start = {k: v.clone() for k, v in rolled.state_dict().items()}
    undone = torch.optim.SGD(rolled.parameters(), lr=0.002, momentum=0.9)
    for _ in range(5):
        undone.zero_grad()
        loss(rolled)
        undone.step()
        rolled.load_state_dict(start)
    # the asked lr on a first group holding an unused parameter, the network beside it
    grouped = nn.Sequential(*_mlp())
    _run(grouped, torch.optim.Adam([{"params": [nn.Parameter(torch.ones(1))], "lr": 1.0},
                                    {"params": grouped.parameters(), "lr": 0.01}]))
    # honest runs of every rule checked (weight decay, Nesterov, AMSGrad, decoupled decay,
    # a scheduler, clipping) all count
    for cls, kwargs in [(torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True,
                                           "weight_decay": 1e-3}),
                        (torch.optim.Adam, {"lr": 1e-3, "weight_decay": 1e-4, "amsgrad": True}),
                        (torch.optim.AdamW, {"lr": 5e-4, "weight_decay": 0.05})]:
        honest = nn.Sequential(*_mlp())
        optimizer = cls(honest.parameters(), **kwargs)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
        for _ in range(6):
            optimizer.zero_grad()
            loss(honest)
            nn.utils.clip_grad_norm_(honest.parameters(), 0.5)
            optimizer.step()
            schedule.step()
    found = {(r["class"], r["settings"]["lr"]): r
             for r in watched["optimizer_steps"]()}  # type: ignore[operator]
    forged = found[("SGD", 0.001)]
    assert (forged["steps"], forged["with_grad"], forged["off_rule"]) == (4, 0, 4)
    assert found[("SGD", 0.002)]["with_grad"] <= 1 and found[("SGD", 0.002)]["undone"] >= 4
    assert ("Adam", 1.0) not in found and found[("Adam", 0.01)]["with_grad"] == 3
    for key in (("SGD", 0.01), ("Adam", 1e-3), ("AdamW", 5e-4)):
        assert found[key]["with_grad"] == 6 and "off_rule" not in found[key], key


def test_a_forward_computing_otherwise_when_watched_or_with_stored_data_says_so():
    forward = _probe_torch()["forward_probe"]

    class Watched(nn.Module):
        """The ReLU network only while torch's function mode records the pass."""

        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, 32), nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden = self.fc1(x.flatten(1))
            act = torch.relu if torch._C._is_torch_function_mode_enabled() else torch.sigmoid
            return self.fc2(act(hidden))

    class Lookup(nn.Module):
        """A nearest-neighbour vote from a bank of images kept beside the network."""

        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(784, 10)
            self.bank, self.labels = torch.randn(500, 784), torch.randint(0, 10, (500,))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flatten(1)
            near = torch.cdist(x, self.bank).argmin(1)
            return self.fc(x) + 25 * nn.functional.one_hot(self.labels[near], 10)

    honest = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(),
                           nn.Dropout(0.5), nn.Linear(32, 10))
    watched, lookup, plain = (forward(m, [1, 28, 28]) for m in  # type: ignore[operator]
                              (Watched(), Lookup(), honest))
    assert watched["watched"] is True and plain["watched"] is False
    assert lookup["stored"] >= 500 * 784 and plain["stored"] < 100
    assert honest.training  # left in the mode it was in
    # and on the grader's images, as the accuracy is measured on them
    from torchvision import transforms

    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8).numpy()
    stored = _probe_torch()["stored_in_forward"]
    assert stored(Lookup(), images, transforms.ToTensor()) >= 500 * 784  # type: ignore[operator]
    assert stored(honest, images, transforms.ToTensor()) < 100  # type: ignore[operator]


def test_a_vugrad_op_multiplied_by_zero_is_not_behind_the_output():
    import numpy as np

    vg, ops = _vugrad(), _ops()
    x = vg.TensorNode(np.random.default_rng(0).normal(size=(4, 3)))
    zero = vg.TensorNode(np.zeros((4, 3)))
    outside = vg.TensorNode(1 / (1 + np.exp(-x.value)))  # a sigmoid computed in numpy
    # (the course's library has no ReLU until the student writes one: its sigmoid here)
    out = outside + vg.sigmoid(x) * zero
    names, _ = ops["_ops_behind"](out)  # type: ignore[operator]
    assert not any("sigmoid" in n.lower() for n in names)
    kept, _ = ops["_ops_behind"](vg.sigmoid(x) + outside)  # type: ignore[operator]
    assert any("sigmoid" in n.lower() for n in kept)


def test_a_vugrad_layer_dead_on_the_batch_is_still_behind_the_output():
    import numpy as np

    vg, ops = _vugrad(), _ops()

    class ReLU(vg.Op):
        @staticmethod
        def forward(context, x):  # type: ignore[no-untyped-def]
            context["x"] = x
            return np.maximum(x, 0)

        @staticmethod
        def backward(context, goutput):  # type: ignore[no-untyped-def]
            return goutput * (context["x"] > 0)

    rng = np.random.default_rng(0)
    x = vg.TensorNode(-np.abs(rng.normal(size=(4, 3))) - 1)  # every unit dead here
    w = vg.TensorNode(rng.normal(size=(3, 2)))
    out = ReLU.do_forward(x).matmul(w) + vg.TensorNode(np.ones((4, 2)))
    names, _ = ops["_ops_behind"](out)  # type: ignore[operator]
    assert "ReLU" in names
    # while a ReLU multiplied by a zero computed in the graph is not
    live = vg.TensorNode(rng.normal(size=(4, 3)))
    hidden = ReLU.do_forward(live) * (live - live)
    names, _ = ops["_ops_behind"](vg.sigmoid(live) + hidden)  # type: ignore[operator]
    assert "ReLU" not in names


def test_steps_with_a_closure_an_own_clipping_hook_or_a_fused_scaler_are_judged_by_their_rule(
        watched):
    from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))

    def closure_of(net: nn.Module, optimizer: torch.optim.Optimizer):  # type: ignore[no-untyped-def]
        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            return loss
        return closure

    for cls, kwargs in [(torch.optim.SGD, {"lr": 0.03, "momentum": 0.9}),
                        (torch.optim.Adam, {"lr": 3e-3})]:
        net = nn.Sequential(*_mlp())
        optimizer = cls(net.parameters(), **kwargs)
        for _ in range(5):
            optimizer.step(closure_of(net, optimizer))
    # an unused layer first among the parameters: its values never move, the rest do
    unused = nn.Linear(3, 3)
    net = nn.Sequential(*_mlp())
    optimizer = torch.optim.SGD([*unused.parameters(), *net.parameters()], lr=0.02)
    for _ in range(5):
        optimizer.step(closure_of(net, optimizer))
    # clipping in the optimizer's own pre-hook, after the global hooks have run
    clipped = nn.Sequential(*_mlp())
    own = torch.optim.SGD(clipped.parameters(), lr=0.04)

    def clip(optimizer, args, kwargs) -> None:  # type: ignore[no-untyped-def]
        nn.utils.clip_grad_norm_(clipped.parameters(), 1e-3)

    own.register_step_pre_hook(clip)
    _run(clipped, own, steps=5)
    # a fused Adam under a GradScaler: the step unscales the gradients itself
    scaled = nn.Sequential(*_mlp())
    fused = torch.optim.Adam(scaled.parameters(), lr=5e-3, fused=True)
    scaler = torch.amp.GradScaler("cpu")
    for _ in range(5):
        fused.zero_grad()
        scaler.scale(nn.functional.cross_entropy(scaled(x), y)).backward()
        scaler.step(fused)
        scaler.update()
    # Adam's closure steps passed off as SGD's: SGD's step hooks called around them (a
    # parameter no closure gives a gradient first in SGD's list, to go unjudged)
    net = nn.Sequential(*_mlp())
    sgd = torch.optim.SGD([nn.Parameter(torch.ones(3)), *net.parameters()], lr=0.005)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(4):
        closure = closure_of(net, adam)
        for hook in list(_global_optimizer_pre_hooks.values()):
            hook(sgd, (closure,), {})
        adam.step(closure)
        for hook in list(_global_optimizer_post_hooks.values()):
            hook(sgd, (closure,), {})
    found = {(r["class"], r["settings"]["lr"]): r
             for r in watched["optimizer_steps"]()}  # type: ignore[operator]
    for key in (("SGD", 0.03), ("Adam", 3e-3), ("SGD", 0.02), ("SGD", 0.04), ("Adam", 5e-3)):
        assert found[key]["with_grad"] == 5 and "off_rule" not in found[key], key
    assert found[("SGD", 0.005)]["with_grad"] == 0 and found[("Adam", 1e-3)]["with_grad"] == 4


def test_a_transformer_on_torchs_fast_path_is_not_taken_for_a_network_watched_otherwise():
    forward = _probe_torch()["forward_probe"]

    class Encoder(nn.Module):
        """Rows of the image as a sequence, the last quarter of the positions padded."""

        def __init__(self) -> None:
            super().__init__()
            layer = nn.TransformerEncoderLayer(28, 4, 56, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
            self.head = nn.Linear(28 * 28, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = x.reshape(len(x), 28, 28)
            pad = torch.zeros(len(x), 28, dtype=torch.bool)
            pad[:, 21:] = True
            return self.head(self.encoder(rows, src_key_padding_mask=pad).flatten(1))

    assert torch.backends.mha.get_fastpath_enabled()
    found = forward(Encoder(), [1, 28, 28])  # type: ignore[operator]
    assert found["watched"] is False
    assert torch.backends.mha.get_fastpath_enabled()  # left as the notebook had it


def test_an_output_preallocated_in_forward_is_not_stored_data():
    from torchvision import transforms

    class HandConv(nn.Module):
        """A convolution written by hand into a preallocated output (the handout's
        "implement conv2d yourself")."""

        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(64, 1, 3, 3))
            self.fc = nn.Linear(64 * 26 * 26, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.reshape(len(x), 1, 28, 28)
            out = torch.zeros(len(x), 64, 26, 26)
            for i in range(26):
                for j in range(26):
                    patch = x[:, :, i:i + 3, j:j + 3].reshape(len(x), -1)
                    out[:, :, i, j] = patch @ self.weight.reshape(64, -1).T
            return self.fc(out.flatten(1))

    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8).numpy()
    stored = _probe_torch()["stored_in_forward"]
    assert stored(HandConv(), images, transforms.ToTensor()) < 1000  # type: ignore[operator]


def test_a_network_of_the_checkpoints_shapes_is_compared_with_it_at_any_similarity(tmp_path):
    tools = _probe_torch()
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))
    opposite = {k: -v for k, v in net.state_dict().items()}  # a mean cosine of -1
    torch.save(opposite, tmp_path / "net-0123.pth")
    tools["WEIGHTS_FOLDER"] = str(tmp_path)
    found = tools["pretrained_match"](net)  # type: ignore[operator]
    assert (found["file"], found["matched"], found["tensors"]) == ("net-0123.pth", 2, 2)
    assert found["similarity"] == pytest.approx(-1.0)
    other = tools["pretrained_match"](nn.Sequential(nn.Linear(5, 5)))  # type: ignore[operator]
    assert other["file"] is None


def test_data_handed_to_torch_from_numpy_or_a_forward_hiding_from_the_recording_is_stored():
    import numpy as np
    from torchvision import transforms

    bank = np.random.default_rng(0).normal(size=(2000, 784)).astype(np.float32)

    class Lookup(nn.Module):
        """A nearest-neighbour bank made in forward from a numpy array kept as a global,
        through a tensor method (the call has a parameter among its inputs)."""

        def __init__(self, hide: bool = False) -> None:
            super().__init__()
            self.fc, self.hide = nn.Linear(784, 10), hide

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.hide and torch._C._is_torch_function_mode_enabled():
                raise RuntimeError("not while recorded")
            x = x.flatten(1)
            near = torch.cdist(x, self.fc.weight.new_tensor(bank)).argmin(1)
            return self.fc(x) + 25 * nn.functional.one_hot(near % 10, 10)

    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8).numpy()
    stored = _probe_torch()["stored_in_forward"]
    assert stored(Lookup(), images, transforms.ToTensor()) >= 2000 * 784  # type: ignore[operator]
    assert stored(Lookup(hide=True), images, transforms.ToTensor()) == -1  # type: ignore[operator]
    # a constant table made a tensor in forward counts once, not as array and tensor
    table = np.ones((100, 784), dtype=np.float32)

    class Table(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1) @ torch.tensor(table).T

    assert stored(Table(), images, transforms.ToTensor()) == 100 * 784  # type: ignore[operator]
    # a forward that does not run at all says nothing
    broken = nn.Sequential(nn.Linear(5, 5))
    assert stored(broken, images, transforms.ToTensor()) is None  # type: ignore[operator]
