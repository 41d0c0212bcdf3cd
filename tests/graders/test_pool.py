"""The warm kernel pool: pristine, single-use kernels, and the cold start when it is empty."""

from __future__ import annotations

import json
import time

import pytest

from graders import KernelPool, KernelProfile, SandboxExecutor, kernel_profiles
from graders.pipeline.grade import grade_submission
from tests.conftest import NOTEBOOKS, TEST_LIMITS, points

pytestmark = pytest.mark.sandbox

FULL = {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.5": 12.0}
NUMPY = KernelProfile.of(TEST_LIMITS, ("numpy",))
# what the kernel holds: the user namespace, the home folder, the grader's own modules
INSPECT = ("__import__('json').dumps({"
           "'names': sorted(k for k in globals() if not k.startswith('_')),"
           "'home': sorted(__import__('os').listdir('.')),"
           "'numpy': 'numpy' in __import__('sys').modules,"
           "'grader': sorted(m for m in __import__('sys').modules"
           " if m.startswith('_autograder'))})")
IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}


@pytest.fixture
def pool(sandbox_config):
    made = KernelPool(sandbox_config, per_profile=1)
    yield made
    made.close()


def warm_and_cold(pool: KernelPool, ee411, sandbox_config, data: bytes, filename: str):
    """The same submission graded on a warm kernel from ``pool`` and on a cold one."""
    warm = grade_submission(data, filename, assignment=ee411, config=sandbox_config,
                            limits=TEST_LIMITS, executor=SandboxExecutor(sandbox_config, pool))
    cold = grade_submission(data, filename, assignment=ee411, config=sandbox_config,
                            limits=TEST_LIMITS)
    assert warm.report.execution.warm_kernel and not cold.report.execution.warm_kernel
    return warm, cold


def inspect(pool: KernelPool, warm) -> dict:
    text = pool.run(warm.session.expression(INSPECT))
    assert text is not None
    return json.loads(text.strip("'\""))


def test_a_warm_kernel_has_run_nothing_but_the_warm_up_and_is_handed_out_once(pool):
    assert pool.wait_ready(NUMPY)
    first = pool.run(pool.take(NUMPY))
    assert first is not None
    seen = inspect(pool, first)
    assert set(seen["names"]) <= IPYTHON_NAMES, seen["names"]
    assert set(seen["home"]) <= {".ipython"}, seen["home"]  # IPython's profile, as cold
    assert seen["numpy"] is True
    assert seen["grader"] == []  # not even the bootstrap: that runs for the submission

    assert pool.wait_ready(NUMPY)  # refilled in the background
    second = pool.run(pool.take(NUMPY))
    assert second is not None
    assert second.session is not first.session and second.job != first.job
    assert pool.ready(NUMPY) <= 1 and pool.handed_out == 2
    for taken in (first, second):
        pool.retire(taken.session, taken.job)


def test_a_submission_on_a_warm_kernel_scores_as_on_a_cold_one_and_says_it_was_warm(
        pool, ee411, sandbox_config):
    data = (NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb").read_bytes()
    numpy_only, with_torch = kernel_profiles(ee411, TEST_LIMITS)
    assert "torch" in with_torch.preload and "torch" not in numpy_only.preload
    assert pool.wait_ready(numpy_only)  # a part-1 notebook never mentions torch
    warm, cold = warm_and_cold(pool, ee411, sandbox_config, data, "hw.ipynb")
    assert points(warm, FULL) == points(cold, FULL) == FULL
    assert warm.report.probes == cold.report.probes or [
        (p.call_id, p.status) for p in warm.report.probes] == [
        (p.call_id, p.status) for p in cold.report.probes]
    pool.close()  # teardowns done: nothing of the warm kernel is left behind
    assert list(sandbox_config.jobs_root.iterdir()) == []


def test_while_runs_wait_a_used_profile_keeps_one_kernel_more_warm_then_gives_it_back(pool):
    def settle(count: int) -> None:
        for _ in range(600):
            if pool.ready(NUMPY) == count and not pool.run(_starting(pool)):
                return
            time.sleep(0.05)
        raise AssertionError(f"{pool.ready(NUMPY)} warm, not {count}")

    pool.set_backlog(5)
    assert pool.wait_ready(NUMPY)
    settle(1)  # runs wait, but no grading has used the profile yet: nothing extra
    first = pool.run(pool.take(NUMPY))
    assert first is not None
    settle(2)  # taken while runs wait: two kept warm
    assert pool.target(NUMPY) == 2
    pool.set_backlog(0)
    settle(1)  # the queue drained: the extra one is stopped
    assert pool.target(NUMPY) == 1
    pool.retire(first.session, first.job)


async def _starting(pool: KernelPool) -> int:
    return sum(pool._starting.values())


def test_an_empty_pool_falls_back_to_a_cold_start(ee411, sandbox_config):
    starved = KernelPool(sandbox_config, memory_budget_bytes=1)  # no kernel fits
    try:
        assert not any(starved.wait_ready(p) for p in kernel_profiles(ee411, TEST_LIMITS))
        graded = grade_submission(
            (NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb").read_bytes(), "hw.ipynb",
            assignment=ee411, config=sandbox_config, limits=TEST_LIMITS,
            executor=SandboxExecutor(sandbox_config, starved))
        assert not graded.report.execution.warm_kernel
        assert points(graded, FULL) == FULL
    finally:
        starved.close()


def test_modules_shipped_in_a_zip_cannot_shadow_what_the_grader_imports_warm_or_cold(
        pool, ee411, sandbox_config):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hw3/hw3.ipynb", (NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb")
                    .read_bytes())
        for name in ("numpy", "json", "sitecustomize"):
            zf.writestr(f"hw3/{name}.py", f"raise ImportError('the shipped {name}.py ran')\n")
    data = buf.getvalue()
    numpy_only, _ = kernel_profiles(ee411, TEST_LIMITS)
    assert pool.wait_ready(numpy_only)
    warm, cold = warm_and_cold(pool, ee411, sandbox_config, data, "hw3.zip")
    assert points(warm, FULL) == points(cold, FULL) == FULL
    for graded in (warm, cold):
        text = json.dumps(graded.notebook)
        assert "the shipped" not in text
        assert all(c.status.value == "ok" for c in graded.report.execution.cells)
        assert graded.report.execution.files.get("numpy.py") == "submission"
