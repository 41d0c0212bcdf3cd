"""The kernel's sockets, reached from the host without trusting names the sandbox owns.

The kernel binds its ZMQ sockets in a tmpfs of the sandbox's own (``/ipc``). Once it has
(before any student code runs), the host opens each socket file with
``O_PATH | O_NOFOLLOW`` through ``/proc/<sandbox init>/root/ipc`` (a mount point the
read-only sandbox cannot replace), checks that it is a socket, and connects through a
private folder of links to ``/proc/self/fd/<fd>``. libzmq's reconnects then reach the
same inode whatever the notebook later puts at those names: a symlink there would
otherwise send the grader's traffic (the notebook's own cells) to any socket of the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders.errors import KernelStartError


@dataclass
class PinnedSockets:
    folder: Path  # the host-private links, one per port: "<folder>/k-<port>"
    fds: list[int] = field(default_factory=list)

    @property
    def ip(self) -> str:
        return str(self.folder / "k")

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


async def pin(init_pid: int, socket_dir: str, ports: list[int], folder: Path, *,
              alive: object, timeout_s: float) -> PinnedSockets:
    """Wait for the kernel to bind ``<socket_dir>/k-<port>`` for every port, then pin
    them. ``alive()`` is False once the sandbox has exited (then fail at once)."""
    root = f"/proc/{init_pid}/root{socket_dir}"
    deadline = time.monotonic() + timeout_s
    names = [f"k-{port}" for port in ports]
    while True:
        try:
            if all(stat.S_ISSOCK(os.lstat(f"{root}/{n}").st_mode) for n in names):
                break
        except PermissionError as exc:
            raise KernelStartError(
                f"the grader cannot reach the sandbox's files through /proc ({exc}): it "
                "needs ptrace access to the sandboxes it starts (run it as their owner, or "
                "as root with CAP_SYS_PTRACE)") from exc
        except OSError:
            pass  # not bound yet, or bwrap has not moved into the sandbox's root yet
        if not alive():  # type: ignore[operator]
            raise KernelStartError("the sandbox exited before its kernel bound its sockets")
        if time.monotonic() > deadline:
            raise KernelStartError(f"the kernel did not bind its sockets within {timeout_s:g} s")
        await asyncio.sleep(0.005)
    pinned = PinnedSockets(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    directory = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        for name in names:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=directory)
            pinned.fds.append(fd)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                raise KernelStartError(f"{socket_dir}/{name} is not the kernel's socket")
            os.symlink(f"/proc/self/fd/{fd}", folder / name)
    except BaseException:
        pinned.close()
        raise
    finally:
        os.close(directory)
    return pinned
