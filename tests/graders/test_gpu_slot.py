"""A GPU slot's sandbox, for real: it binds the slot's device (skipped where the machine
has none) and /sys, and the kernel sees only that device in CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import pytest

from tests.conftest import make_notebook

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("gpu", [0, 2])
def test_a_gpu_slot_kernel_starts_and_sees_only_its_device(grade, gpu):
    graded = grade(make_notebook(
        "import os\nprint('slot', os.environ['CUDA_VISIBLE_DEVICES'], "
        "os.environ['NVIDIA_VISIBLE_DEVICES'])",
        "import os\nprint(sorted(d for d in os.listdir('/dev') if d.startswith('nvidia')))"),
        gpu=gpu)
    outputs = "".join(o.get("text", "") for c in graded.notebook.cells
                      for o in c.get("outputs", []))
    assert f"slot {gpu} {gpu}" in outputs
    present = {f"nvidia{i}" for i in range(16)} & set(outputs.replace("'", " ").split())
    assert present <= {f"nvidia{gpu}"}  # never another slot's device
