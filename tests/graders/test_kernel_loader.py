"""The probe evaluates a student's loader without the notebook's worker processes: those
are paused (SIGSTOP, from the host) before grading, and a persistent worker would never
answer. The kernel module is executed here as plain source, as the kernel does."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

import graders.kernel


def _probe_torch() -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "probe_torch_under_test"}
    source = Path(graders.kernel.__file__).with_name("probe_torch.py").read_text()
    exec(compile(source, "probe_torch.py", "exec"), namespace)
    return namespace


def test_a_loader_with_persistent_workers_is_read_in_process_in_the_same_order():
    data = TensorDataset(torch.arange(40.0).view(20, 2), torch.arange(20))
    loader = DataLoader(data, batch_size=6, num_workers=2, persistent_workers=True)
    copy = _probe_torch()["_in_process"](loader)  # type: ignore[operator]
    assert copy.num_workers == 0
    assert [y.tolist() for _, y in copy] == [list(range(i, min(i + 6, 20)))
                                              for i in range(0, 20, 6)]


def test_a_loader_without_workers_is_used_as_it_is():
    loader = DataLoader(TensorDataset(torch.zeros(4, 2)), batch_size=2)
    assert _probe_torch()["_in_process"](loader) is loader  # type: ignore[operator]


class _Split(torch.utils.data.Dataset):
    """A torchvision-like dataset: ``transform``, ``targets``, ``train``, ``data``."""

    def __init__(self, train: bool) -> None:
        self.train, self.transform = train, (lambda x: x)
        self.targets, self.data = [0, 1] * 5, torch.zeros(10, 28, 28)

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.data[i], self.targets[i]


def test_loaders_kept_in_a_dict_are_found_as_the_transfer_learning_tutorial_keeps_them():
    probe = _probe_torch()
    splits = {x: _Split(x == "train") for x in ("train", "val")}
    namespace = {"image_datasets": splits,
                 "dataloaders": {x: DataLoader(splits[x], batch_size=4) for x in splits}}
    names = [entry["name"] for entry in probe["describe_loaders"](namespace)]  # type: ignore[operator]
    assert "dataloaders['val']" in names and "image_datasets['train']" in names
    assert probe["test_loader"](namespace) is namespace["dataloaders"]["val"]  # type: ignore[operator]


def test_a_large_list_is_not_searched():
    probe = _probe_torch()
    namespace = {"many": [_Split(False)] * 100}
    assert probe["describe_loaders"](namespace) == []  # type: ignore[operator]
