"""Forked kernels: the host's side of the zygote (``graders.sandbox.zygote_server``).

A kernel started the usual way is a fresh interpreter importing ipykernel and numpy
inside a fresh sandbox: most of a cold grading's time. With a zygote, bubblewrap still
makes each sandbox (every mount, namespace and limit as before), but runs only a small
holder in it; the zygote forks a kernel that joins that sandbox's namespaces, root and
cgroup, drops to the sandbox uid with no capabilities and loads the same seccomp program
(docs/SECURITY.md, "Forked kernels").

One zygote per grading process, started on first use, as root only (joining another
user namespace's sandbox takes the capabilities root has over it). Anything else (no
root, a GPU, another thread count) starts kernels the usual way.

``python -m graders.sandbox.zygote ENV`` is the zygote's start: a private mount namespace
where the grading environment is at the sandbox's path for it, so that every module the
zygote imported, and every one a kernel imports later, has the path it has inside.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from graders.boundary import ENV_MOUNT
from graders.errors import KernelStartError
from graders.sandbox.launcher import CLONE_NEWNS, MS_BIND, MS_PRIVATE, MS_REC, libc_call

log = logging.getLogger(__name__)

SERVER = Path(__file__).with_name("zygote_server.py")
START_TIMEOUT_S = 60.0
FORK_TIMEOUT_S = 20.0
# What a zygote may import beyond ipykernel and numpy, for the kernels that import it
# before their first cell: torch costs seconds of CPU per kernel; importing it starts
# no thread (checked by the zygote), so its kernels can be forked.
ZYGOTE_PRELOADS = ("torch", "torchvision")


def main(argv: list[str]) -> None:
    """Become the zygote: the environment bound at ``ENV_MOUNT`` in a mount namespace of
    this process alone, then an exec of its Python with the given environment only."""
    env_path, environment = argv[1], json.loads(argv[2])
    libc_call("unshare", CLONE_NEWNS)
    libc_call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
    # held open first: the environment may live under the folder covered next
    env = os.open(env_path, os.O_PATH | os.O_DIRECTORY)
    if not Path(ENV_MOUNT).is_dir():
        _cover_keeping(Path(ENV_MOUNT).parent)
        Path(ENV_MOUNT).mkdir()
    libc_call("mount", f"/proc/self/fd/{env}".encode(), ENV_MOUNT.encode(), None,
              MS_BIND | MS_REC, None)
    os.close(env)
    os.setgroups([])  # a user namespace refuses setgroups: the kernels inherit none
    # no death signal: it would come when the thread that started us ends; the zygote
    # ends when its pipe does, which a grader's exit (or SIGKILL) closes
    python = f"{ENV_MOUNT}/bin/python"
    os.execve(python, [python, "-P", "-c", SERVER.read_text()], environment)


def _cover_keeping(folder: Path) -> None:
    """A tmpfs over ``folder`` (in this mount namespace only), with each of its entries
    bound back: the zygote still reaches what lives there (a job folder, say), and a
    new name can be made in it."""
    kept = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    entries = sorted(os.listdir(folder))
    libc_call("mount", b"tmpfs", str(folder).encode(), b"tmpfs", 0, b"mode=0755")
    for name in entries:
        source, target = f"/proc/self/fd/{kept}/{name}", folder / name
        if os.path.islink(source):
            target.symlink_to(os.readlink(source))
            continue
        if os.path.isdir(source):
            target.mkdir()
        else:
            target.touch()
        libc_call("mount", source.encode(), str(target).encode(), None, MS_BIND | MS_REC, None)
    os.close(kept)


class Zygote:
    """One zygote process and the pipe to it; ``fork`` is safe from any thread."""

    def __init__(self, python_env: Path, environment: dict[str, str], bpf: bytes,
                 preload: tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()
        self.owner = os.getpid()  # a forked grader must not write to its parent's pipe
        # read only to say why it failed; open as long as the zygote runs
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "graders.sandbox.zygote", str(python_env),
             json.dumps(environment)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            start_new_session=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._send({"bpf": bpf.hex(), "preload": list(preload)})
        ready = self._receive()
        if not ready.get("ready"):
            raise KernelStartError(f"the zygote did not start: {ready}")
        found = ready.get("preloaded")
        self.preloaded = tuple(str(m) for m in found) if isinstance(found, list) else ()

    def _send(self, message: dict[str, object]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def _receive(self, timeout_s: float = START_TIMEOUT_S) -> dict[str, object]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        if not ready:
            # stalled (a kernel start takes milliseconds): given up, so that the next
            # kernel gets a new zygote; the kernels it forked live on in their sandboxes
            self.process.kill()
            raise KernelStartError(f"the zygote did not answer within {timeout_s:g} s")
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=START_TIMEOUT_S)
            self._stderr.seek(0)
            error = self._stderr.read().decode(errors="replace")[-2000:]
            raise KernelStartError(f"the zygote exited ({self.process.returncode}): {error}")
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise KernelStartError("the zygote answered nonsense")
        return answer

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def fork(self, request: dict[str, object]) -> int:
        """Fork a kernel into the sandbox whose holder is ``request["holder"]``; the
        kernel's pid on the host."""
        with self._lock:
            if not self.alive():
                raise KernelStartError("the zygote is gone")
            self._send(request)
            answer = self._receive(FORK_TIMEOUT_S)
        pid = answer.get("pid")
        if not isinstance(pid, int):
            raise KernelStartError(f"the zygote could not fork a kernel: {answer.get('error')}")
        return pid

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


_zygotes: dict[tuple[str, int, tuple[str, ...]], Zygote | None] = {}
_zygotes_lock = threading.Lock()


def shared_zygote(python_env: Path, threads: int,
                  preload: tuple[str, ...] = ()) -> Zygote | None:
    """This process's zygote for an environment, thread count and set of preloaded
    modules (``ZYGOTE_PRELOADS``), started on first use; None where kernels must start
    the usual way (not root, or the zygote would not start: logged once per attempt,
    never fatal)."""
    if os.geteuid() != 0:
        return None
    key = (str(python_env), threads, preload)
    with _zygotes_lock:
        if key in _zygotes:
            found = _zygotes[key]
            if found is None or found.alive():
                return found  # one that would not start is not tried again
            if found.owner == os.getpid():
                log.warning("the zygote exited (%s): starting another",
                            found.process.returncode)
        from graders.sandbox.config import zygote_environment
        from graders.sandbox.seccomp import seccomp_fd

        fd = seccomp_fd()
        try:
            with os.fdopen(fd, "rb") as fh:
                bpf = fh.read()
            zygote = Zygote(python_env, zygote_environment(threads), bpf, preload)
        except Exception:
            log.exception("the zygote did not start: kernels start the usual way")
            _zygotes[key] = None
            return None
        _zygotes[key] = zygote
        return zygote


if __name__ == "__main__":
    main(sys.argv)
