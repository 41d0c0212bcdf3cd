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
