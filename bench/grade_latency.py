"""End-to-end grading latency of a correct EE-411 part-1 notebook, sandbox included.

Grades the notebook N times sequentially, then N times with 2 gradings in parallel
(separate processes, as the service's workers are), both on cold kernels, then N times
on warm kernels from a pool (each taken once the pool has refilled), and prints
median / p90 latency, throughput and the per-phase breakdown the report records. Plain Python:

    .venv/bin/python bench/grade_latency.py [-n 20] [--no-fork]
    .venv/bin/python bench/grade_latency.py --torch [-n 5]   # warm torch kernels' starts
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "ee411_hw3" / "correct_basic.ipynb"
PHASES = ("sandbox_start_s", "kernel_start_s", "execute_s", "probes_s", "compare_s")


def grade_warm(n: int) -> list[tuple[float, dict[str, float], float]]:
    """n gradings on warm kernels, each taken after the pool has refilled (not timed)."""
    from graders import Grader, KernelPool, SandboxExecutor, kernel_profiles
    from graders.catalog import discover
    from graders.sandbox.config import Limits

    assignment = discover()["ee411-hw3"]
    config = bench_config()
    pool = KernelPool(config)
    numpy_only = kernel_profiles(assignment, Limits())[0]
    grader = Grader(assignment, config, Limits(), executor=SandboxExecutor(config, pool))
    results = []
    try:
        for _ in range(n):
            assert pool.wait_ready(numpy_only)
            started = time.perf_counter()
            graded = grader.grade(NOTEBOOK.read_bytes(), NOTEBOOK.name)
            assert graded.report.execution.warm_kernel
            timings = graded.report.execution.timings.model_dump()
            results.append((time.perf_counter() - started, {k: timings[k] for k in PHASES},
                            graded.report.score))
    finally:
        pool.close()
    return results


def bench_config() -> Any:
    from graders.sandbox.config import SandboxConfig

    # --no-fork (through the environment: the parallel runs are other processes)
    return SandboxConfig(python_env=Path(sys.prefix),
                         jobs_root=Path(tempfile.gettempdir()) / "ml-autograder-bench",
                         fork_kernels=os.environ.get("BENCH_FORK_KERNELS", "1") == "1")


def grade_once(_: int) -> tuple[float, dict[str, float], float]:
    from graders import Grader
    from graders.catalog import discover
    from graders.sandbox.config import Limits

    assignment = discover()["ee411-hw3"]
    config = bench_config()
    started = time.perf_counter()
    graded = Grader(assignment, config, Limits()).grade(NOTEBOOK.read_bytes(), NOTEBOOK.name)
    elapsed = time.perf_counter() - started
    timings = graded.report.execution.timings.model_dump()
    return elapsed, {k: timings[k] for k in PHASES}, graded.report.score


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(label: str, results: list[tuple[float, dict[str, float], float]],
              wall: float) -> None:
    latencies = [r[0] for r in results]
    assert all(r[2] == 28.0 for r in results), "the benchmark notebook must score 28/28"
    print(f"{label}: n={len(results)} median={statistics.median(latencies):.3f}s "
          f"p90={percentile(latencies, 0.9):.3f}s throughput={len(results) / wall:.2f}/s")
    for phase in PHASES:
        values = [r[1][phase] for r in results]
        print(f"    {phase:<16} median={statistics.median(values):.3f}s")


def torch_starts(n: int) -> None:
    """n warm kernels of a torch profile (what a torch assignment's pool keeps), one after
    another, started by bubblewrap and then forked from the torch zygote: the wall time
    of each start and the CPU the machine spent on them all (the kernels are not this
    process's children, so the machine's counters, on a quiet machine)."""
    from graders import KernelPool, KernelProfile
    from graders.sandbox.config import Limits

    profile = KernelProfile.of(Limits(), ("numpy", "torch", "torchvision"))
    for fork in (False, True):
        os.environ["BENCH_FORK_KERNELS"] = "1" if fork else "0"
        pool = KernelPool(bench_config(), refill=False)
        try:
            first = time.perf_counter()
            assert pool.wait_ready(profile)  # the zygote's start, when forking
            first = time.perf_counter() - first
            pool.run(pool.take(profile))
            walls, cpu = [], _machine_cpu()
            for _ in range(n):
                started = time.perf_counter()
                assert pool.wait_ready(profile)
                walls.append(time.perf_counter() - started)
                taken = pool.run(pool.take(profile))
                assert taken is not None
                pool.retire(taken.session, taken.job)
            cpu = _machine_cpu() - cpu
        finally:
            pool.close()
        label = "forked from the torch zygote" if fork else "started by bubblewrap"
        print(f"torch kernel, {label}: first {first:.2f} s, then median "
              f"{statistics.median(walls):.2f} s per start, {cpu / n:.2f} s of CPU each")


def _machine_cpu() -> float:
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    busy = sum(int(f) for i, f in enumerate(fields) if i not in (3, 4))  # not idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--no-fork", action="store_true",
                        help="kernels started by bubblewrap, not forked from a zygote")
    parser.add_argument("--torch", action="store_true",
                        help="only warm torch kernels' starts, started and forked")
    args = parser.parse_args()
    if args.torch:
        torch_starts(args.n)
        return
    os.environ["BENCH_FORK_KERNELS"] = "0" if args.no_fork else "1"
    grade_once(0)  # warm the page cache and imports
    started = time.perf_counter()
    sequential = [grade_once(i) for i in range(args.n)]
    summarise("sequential", sequential, time.perf_counter() - started)
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(grade_once, range(2)))
        started = time.perf_counter()
        parallel = list(pool.map(grade_once, range(args.n)))
        summarise("2 in parallel", parallel, time.perf_counter() - started)
    started = time.perf_counter()
    warm = grade_warm(args.n)
    summarise("sequential, warm pool (refill not timed)", warm, time.perf_counter() - started)


if __name__ == "__main__":
    main()
