"""The facts about a worker that a training run's numbers depend on and that cannot be
pinned from inside the sandbox: the CPU's vector extensions and the grading
environment's library versions. Read once per process, on the host."""

from __future__ import annotations

import functools
import platform
from importlib import metadata
from pathlib import Path

from graders.results import RunEnvironment
from graders.sandbox.config import Limits, SandboxConfig

# The extensions that select different BLAS/oneDNN code paths (and so rounding).
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
                "amx_tile", "neon", "asimd", "sve")
LIBRARIES = ("numpy", "scipy", "torch", "torchvision", "scikit-learn")


@functools.cache
def _cpu() -> tuple[str, tuple[str, ...]]:
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model") and value.strip():
                model = value.strip()
            elif key in ("flags", "Features"):
                flags.update(value.split())
            if model and flags:
                break
    except OSError:
        pass
    return model, tuple(f for f in VECTOR_FLAGS if f in flags)


@functools.cache
def _libraries(python_env: Path) -> tuple[tuple[str, str], ...]:
    found = {}
    for site in sorted(python_env.glob("lib/python3*/site-packages")):
        for dist in metadata.distributions(path=[str(site)]):
            name = (dist.metadata["Name"] or "").lower()
            if name in LIBRARIES:
                found[name] = dist.version
    return tuple(sorted(found.items()))


def run_environment(config: SandboxConfig, limits: Limits) -> RunEnvironment:
    model, flags = _cpu()
    return RunEnvironment(
        cpu_model=model, cpu_flags=list(flags), threads=limits.threads,
        device="cpu" if limits.gpu is None else f"cuda:{limits.gpu}",
        libraries=dict(_libraries(config.python_env)))
