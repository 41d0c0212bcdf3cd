"""Forked kernels (graders.sandbox.zygote): confined exactly as a kernel bubblewrap starts,
and nothing one leaves behind reaches the zygote, a sibling or the next kernel."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from graders.runner.session import KernelSession
from graders.runner.workdir import prepare
from graders.sandbox.config import SandboxConfig
from graders.sandbox.zygote import shared_zygote
from tests.conftest import IS_ROOT, TEST_LIMITS

pytestmark = [pytest.mark.sandbox,
              pytest.mark.skipif(not IS_ROOT, reason="kernels are forked as root only")]

# What a kernel can learn about its confinement from inside: who it is, what it may do,
# what it sees of the file system, the network and the processes, and its environment.
CONFINEMENT = """
def __ag_confinement():
    import ctypes, errno, json, os, resource, socket, sys
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    mounts = sorted({(f[4], f[f.index("-") + 1], f[5].split(",")[0])
                     for f in (line.split() for line in open("/proc/self/mountinfo"))})
    libc = ctypes.CDLL(None, use_errno=True)
    denied = {}
    for name, args in (("unshare", (0x10000000,)), ("mount", (b"none", b"/tmp", b"tmpfs", 0, None)),
                       ("chroot", (b"/tmp",)), ("setns", (0, 0))):
        denied[name] = (getattr(libc, name)(*args), ctypes.get_errno())
    # clone(CLONE_PARENT | SIGCHLD): a child the kernel's parent would have to reap
    child = libc.syscall(56, 0x8000 | 17, 0, 0, 0, 0)
    if child == 0:
        os._exit(0)
    denied["clone_parent"] = (child, ctypes.get_errno())
    try:
        label = open("/proc/self/attr/current").read().strip()
    except OSError as exc:
        label = exc.errno
    try:
        open("/usr/ag-write-test", "w")
        root_writable = True
    except OSError as exc:
        root_writable = exc.errno
    limits = {name: resource.getrlimit(getattr(resource, name))
              for name in ("RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE",
                           "RLIMIT_NPROC", "RLIMIT_AS")}
    return json.dumps({
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()],
        "status": {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                                  "CapAmb", "NoNewPrivs", "Seccomp",
                                                  "Seccomp_filters")},
        "mounts": mounts, "limits": limits, "denied": denied, "root_writable": root_writable,
        "security_label": label,
        "host": socket.gethostname(), "interfaces": socket.if_nameindex(),
        "cwd": os.getcwd(), "env": sorted(os.environ.items()), "path": sys.path,
        "executable": sys.executable, "umask": os.umask(0o022),
        "session_leader": os.getsid(0) == os.getpid(),
    })
"""


@contextlib.asynccontextmanager
async def kernel(config: SandboxConfig,
                 preload: tuple[str, ...] = ()) -> AsyncIterator[KernelSession]:
    config.jobs_root.mkdir(parents=True, exist_ok=True)
    job = Path(tempfile.mkdtemp(dir=config.jobs_root))
    for sub in ("probe", "files"):
        (job / sub).mkdir(mode=0o755)
    prepare(job, config)
    session = KernelSession(job, nbformat.v4.new_notebook(), config, TEST_LIMITS, seed=0,
                            preload=preload)
    await session.launch(1)
    try:
        yield session
    finally:
        await session.stop()
        shutil.rmtree(job, ignore_errors=True)


async def evaluate(session: KernelSession, expression: str) -> Any:
    """A JSON-valued expression of the kernel's, read in pieces (an answer is capped)."""
    assert await session.hidden(f"__ag_text = {expression}")
    text = ""
    while True:
        piece = await session.expression(f"__ag_text[{len(text)}:{len(text) + 1000}]")
        assert piece is not None, expression
        piece = ast.literal_eval(piece)
        if not piece:
            return json.loads(text)
        text += piece


async def confinement(session: KernelSession) -> dict[str, Any]:
    assert await session.hidden(CONFINEMENT)
    return await evaluate(session, "__ag_confinement()")


def test_a_forked_kernel_is_confined_exactly_as_a_kernel_bubblewrap_starts(sandbox_config):
    usual = dataclasses.replace(sandbox_config, fork_kernels=False)

    async def both() -> tuple[dict[str, Any], dict[str, Any], dict[str, bool]]:
        async with kernel(sandbox_config) as forked, kernel(usual) as started:
            assert forked.forked is not None and started.forked is None
            assert forked.kernel is not None and forked.holder is not None
            # the kernel is in every namespace of the sandbox bubblewrap made, none of ours
            same = {}
            for name in ("ipc", "uts", "net", "cgroup", "pid", "mnt", "user"):
                theirs = os.readlink(f"/proc/{forked.holder.pid}/ns/{name}")
                same[name] = os.readlink(f"/proc/{forked.kernel.pid}/ns/{name}") == theirs \
                    != os.readlink(f"/proc/self/ns/{name}")
            return await confinement(forked), await confinement(started), same

    forked, started, same = asyncio.run(both())
    assert all(same.values()), same
    assert forked == started
    assert started["status"]["CapEff"] == "0000000000000000"
    assert started["status"]["Seccomp"] == "2" and started["root_writable"] != True  # noqa: E712
    assert all(result == -1 for result, _ in started["denied"].values()), started["denied"]


LEAVE_BEHIND = """
import builtins, os, subprocess, sys, threading, time
import numpy
numpy.dot = lambda *a, **k: 42
numpy.ag_left = "here"
builtins.ag_left = "here"
os.environ["AG_LEFT"] = "here"
sys.modules["json"].ag_left = "here"
for folder in ("/tmp", os.path.expanduser("~"), "/dev/shm", "/ipc"):
    try:
        with open(os.path.join(folder, "ag_left"), "w") as f:
            f.write("here")
    except OSError:
        pass
threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
subprocess.Popen(["sleep", "600"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
"""

WHAT_IS_LEFT = (
    "__import__('json').dumps({"
    "'files': [f for f in ('/tmp/ag_left', __import__('os').path.expanduser('~/ag_left'),"
    " '/dev/shm/ag_left', '/ipc/ag_left') if __import__('os').path.exists(f)],"
    "'numpy': [hasattr(__import__('numpy'), 'ag_left'),"
    " __import__('numpy').dot(__import__('numpy').ones(2), __import__('numpy').ones(2))],"
    "'builtins': hasattr(__import__('builtins'), 'ag_left'),"
    "'json': hasattr(__import__('json'), 'ag_left'),"
    "'env': __import__('os').environ.get('AG_LEFT'),"
    "'processes': sorted(int(p) for p in __import__('os').listdir('/proc') if p.isdigit()),"
    "'threads': __import__('threading').active_count()})"
)


def test_what_one_forked_kernel_leaves_behind_no_later_kernel_sees(sandbox_config):
    async def run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with kernel(sandbox_config) as fresh:
            before = await evaluate(fresh, WHAT_IS_LEFT)
        async with kernel(sandbox_config) as first:
            assert await first.hidden(LEAVE_BEHIND)
            polluted = await evaluate(first, WHAT_IS_LEFT)
            async with kernel(sandbox_config) as sibling:  # while the first still runs
                during = await evaluate(sibling, WHAT_IS_LEFT)
        async with kernel(sandbox_config) as later:
            after = await evaluate(later, WHAT_IS_LEFT)
        assert during == after
        return before, polluted, after

    before, polluted, after = asyncio.run(run())
    # what the first kernel did took hold there (the check can fail) ...
    assert polluted["numpy"] == [True, 42] and polluted["builtins"] and polluted["env"]
    assert len(polluted["files"]) >= 2 and len(polluted["processes"]) > 3
    # ... and none of it is seen by a kernel forked after it, or beside it
    assert after == before
    assert after["files"] == [] and after["numpy"] == [False, 2.0]
    assert after["processes"] == [1, 2, 3]  # the sandbox's init, its holder, the kernel


FORK_BOMB = """
import os
while True:
    os.fork()
"""


HAS_TORCH = "torch" in sys.modules or importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(not HAS_TORCH, reason="the grading environment has no torch")
def test_a_torch_kernel_is_forked_from_a_zygote_with_torch_imported_and_confined_the_same(
        sandbox_config):
    """Torch's import (seconds of CPU per kernel) happens once, in a zygote of its own;
    its kernels are confined exactly as the others, a patch of torch stays in the kernel
    that made it, and numpy kernels never hold torch."""
    modules = "__import__('json').dumps(sorted(set(__import__('sys').modules) & {'torch', " \
              "'torchvision'}))"

    async def run() -> None:
        async with kernel(sandbox_config, ("numpy", "torch", "torchvision")) as first, \
                kernel(sandbox_config) as plain:
            zygote = first.forked
            assert zygote is not None and zygote is not plain.forked
            assert zygote.preloaded == ("torch", "torchvision")
            # in the kernel before its first line: the warm-up's import finds it there
            assert await evaluate(first, modules) == ["torch", "torchvision"]
            assert await evaluate(plain, modules) == []
            assert await confinement(first) == await confinement(plain)
            assert await evaluate(first, "__import__('json').dumps(float("
                                         "__import__('torch').ones(3).sum()))") == 3.0
            assert await first.hidden("import torch; torch.ones = lambda *a, **k: 'patched'")
        async with kernel(sandbox_config, ("numpy", "torch", "torchvision")) as later:
            assert later.forked is zygote
            assert await evaluate(later, "__import__('json').dumps(float("
                                         "__import__('torch').ones(2).sum()))") == 2.0

    asyncio.run(run())


def test_a_fork_bomb_in_one_forked_kernel_reaches_neither_the_zygote_nor_a_sibling(
        sandbox_config):
    async def run() -> None:
        async with kernel(sandbox_config) as sibling, kernel(sandbox_config) as bomb:
            zygote = bomb.forked
            assert zygote is not None and zygote is sibling.forked
            with contextlib.suppress(Exception):  # the bomb's kernel may not answer
                await bomb.hidden(FORK_BOMB, timeout=6.0)
            assert bomb.read_stats().pids_limit_hits > 0  # the bomb went off, and hit
            assert await evaluate(sibling, "__import__('json').dumps(6 * 7)") == 42
            assert zygote.alive()
            async with kernel(sandbox_config) as later:
                assert later.forked is zygote
                assert await evaluate(later, "__import__('json').dumps(6 * 7)") == 42

    asyncio.run(run())


def test_the_zygote_is_one_per_process_and_its_memory_holds_no_kernels_work(sandbox_config):
    zygote = shared_zygote(sandbox_config.python_env, TEST_LIMITS.threads)
    assert zygote is not None and zygote.alive()
    assert shared_zygote(sandbox_config.python_env, TEST_LIMITS.threads) is zygote
    # the zygote runs nothing a submission sends: its environment is the kernels' own,
    # with nothing of the grader's (no secret of the service can be read from a fork)
    environ = Path(f"/proc/{zygote.process.pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert names <= {"PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "MPLCONFIGDIR",
                     "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "TORCH_HOME",
                     "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "OPENBLAS_CORETYPE",
                     "OPENBLAS_L2_SIZE"}, names
    assert not any(name.startswith("AUTOGRADER") for name in os.environ if name in names)


STOP_THE_HOLDER = """
import os, signal
holder = min(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid()))
os.kill(holder, signal.SIGSTOP)  # the process whose end ends the sandbox, stopped
os._exit(3)
"""


def test_a_kernel_that_stops_its_holder_then_exits_is_seen_dead_with_its_status(
        sandbox_config):
    async def run() -> tuple[bool, bool, int | None]:
        async with kernel(sandbox_config) as session:
            assert session.holder is not None
            with contextlib.suppress(Exception):  # no reply comes: the kernel is gone
                await session.hidden(STOP_THE_HOLDER, timeout=3.0)
            sandbox_up = session.holder.alive()  # stopped, not gone: bubblewrap stays up
            alive = await session.is_alive()
            return sandbox_up, alive, session.exit_code()

    sandbox_up, alive, code = asyncio.run(run())
    assert sandbox_up and not alive
    assert code == 3  # the kernel's own status, not the holder's
