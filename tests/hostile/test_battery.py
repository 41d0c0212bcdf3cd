"""The hostile battery (tests/hostile/battery.py), graded the way a deadline's batch is:
two at a time on warm kernels through one pool. Each case is then checked on its own:
the answers it did not attack keep their points, the attack earns nothing, the student
is told what happened, nothing of the host leaks, and no sandboxed process survives."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from graders import Grader, SandboxExecutor
from graders.pipeline.grade import Graded, kernel_profiles
from graders.runner.pool import KernelPool
from tests.conftest import TEST_LIMITS, points, sandbox_processes
from tests.hostile.battery import CASES, FULL, Case
from tests.hostile.test_containment import outputs_text

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def battery(ee411, sandbox_config) -> dict[str, Graded]:
    pool = KernelPool(sandbox_config, per_profile=2)
    pool.prefill(kernel_profiles(ee411, TEST_LIMITS))
    grader = Grader(ee411, sandbox_config, TEST_LIMITS, executor=SandboxExecutor(
        sandbox_config, pool))
    bases = sorted({case.base for case in CASES})
    work = [(f"base:{b}", Case(f"base:{b}", base=b).submission()) for b in bases] + \
        [(case.name, case.submission()) for case in CASES]
    descriptors = len(os.listdir("/proc/self/fd"))
    try:
        with ThreadPoolExecutor(max_workers=2) as threads:
            graded = list(threads.map(lambda item: grader.grade(*item[1]), work))
    finally:
        pool.close()
    assert sandbox_processes() == [], "a sandboxed process outlived the battery"
    # every kernel's pinned sockets and monitors were released (about 40 kernels ran)
    assert len(os.listdir("/proc/self/fd")) - descriptors < 10
    return {name: g for (name, _), g in zip(work, graded, strict=True)}


def test_the_battery_is_large_enough_to_mean_something():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_hand_in_is_contained(battery, case: Case):
    graded = battery[case.name]
    honest = battery[f"base:{case.base}"]
    report = graded.report
    assert report.status.value == "graded", report.reason
    got, before = points(graded), points(honest)
    # the answers the attack did not touch keep what they earn without it
    kept = {q: got[q] for q in case.keeps}
    assert kept == {q: before[q] for q in case.keeps}, report.execution.warnings
    if case.base == "correct_basic.ipynb":
        assert kept == {q: FULL[q] for q in case.keeps}
    # and nothing scores more than the same work without the attack
    assert all(got[q] <= before[q] + 1e-9 for q in got), (got, before)
    text = outputs_text(graded)
    for expected in case.output:
        assert expected in text, text[-1500:]
    for leak in case.never:
        assert leak not in text, text[-1500:]
    if case.warning is not None:
        assert any(case.warning in w for w in report.execution.warnings), \
            report.execution.warnings
    assert report.execution.tampered is case.tampered, report.execution.warnings
    # the grading ends within its budget, however the notebook behaves
    limits = report.execution.limits
    assert limits is not None
    spent = report.execution.timings.total_s
    assert spent <= TEST_LIMITS.total_timeout_s + limits.probe_phase_s + 10


def test_the_walk_for_the_reference_finds_it_where_it_is_visible(tmp_path, capsys):
    """The search's "found 0" means something: run on the host over a folder holding a
    solution and hidden labels, the same cells find both and finish the walk."""
    case = next(c for c in CASES if c.name == "looking for the reference and the hidden labels")
    (tmp_path / "course" / "ee411_hw3").mkdir(parents=True)
    (tmp_path / "course" / "ee411_hw3" / "solution.py").write_text("def gradient(): ...\n")
    (tmp_path / "labels-hidden.npz").write_bytes(b"")
    namespace: dict[str, object] = {}
    first, *steps = case.cells
    exec(first.replace("look('/')", f"look({str(tmp_path)!r})"), namespace)
    for cell in steps:
        exec(cell, namespace)
    printed = capsys.readouterr().out
    assert "found 2 [" in printed and "walked True" in printed, printed
