"""The host connects to a kernel's sockets through descriptors pinned once the kernel has
bound them: what the sandbox later puts at those names (a symlink to a socket of the
host) never receives the grader's traffic. Run here on a folder of this process's own
(``/proc/<own pid>/root`` is ``/``), with real ZMQ sockets."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
import zmq

from graders.errors import KernelStartError
from graders.runner.sockets import pin


def test_a_name_replaced_after_pinning_still_reaches_the_kernels_socket(tmp_path):
    ipc = tmp_path / "ipc"
    ipc.mkdir()
    context = zmq.Context()
    kernel = context.socket(zmq.REP)
    kernel.bind(f"ipc://{ipc}/k-7")
    pinned = asyncio.run(pin(os.getpid(), str(ipc), [7], tmp_path / "s", alive=lambda: True,
                             timeout_s=5))
    # the notebook swaps the name for a link to a socket of the host
    host = socket.socket(socket.AF_UNIX)
    host.bind(str(tmp_path / "host.sock"))
    host.listen()
    host.setblocking(False)
    os.rename(ipc / "k-7", ipc / "moved")
    os.symlink(tmp_path / "host.sock", ipc / "k-7")
    grader = context.socket(zmq.REQ)
    grader.connect(f"ipc://{pinned.ip}-7")
    grader.send(b"execute_request")
    assert kernel.poll(5000) and kernel.recv() == b"execute_request"
    with pytest.raises(BlockingIOError):
        host.accept()  # nothing of the grader's reached it
    pinned.close()
    assert not (tmp_path / "s").exists()
    for sock in (grader, kernel):
        sock.close(linger=0)
    context.term()
    host.close()


def test_a_symlink_where_the_kernels_socket_should_be_is_refused(tmp_path):
    ipc = tmp_path / "ipc"
    ipc.mkdir()
    (tmp_path / "target").mkdir()
    os.symlink(tmp_path / "target", ipc / "k-3")
    with pytest.raises(KernelStartError, match="did not bind its sockets"):
        asyncio.run(pin(os.getpid(), str(ipc), [3], tmp_path / "s", alive=lambda: True,
                        timeout_s=0.2))


def test_a_sandbox_that_exits_before_binding_fails_at_once(tmp_path):
    (tmp_path / "ipc").mkdir()
    with pytest.raises(KernelStartError, match="exited before"):
        asyncio.run(pin(os.getpid(), str(tmp_path / "ipc"), [1], tmp_path / "s",
                        alive=lambda: False, timeout_s=30))
