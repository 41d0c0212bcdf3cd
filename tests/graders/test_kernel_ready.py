"""A kernel is ready once one of our kernel_info requests is answered and ended on IOPub,
even when it is slow to start and answers each request only after the next is sent
(on a loaded machine a started kernel took longer than the 1 s wait for its first reply,
and a wait that wanted the latest request answered lagged one behind until its timeout).

The kernel here is scripted: the property is about the order of messages, which a real
kernel produces only under load, when it pleases."""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

import pytest

from graders.runner.client import wait_for_ready


class SlowKernel:
    """Answers each kernel_info request ``lag_s`` after it was sent, on shell and IOPub."""

    def __init__(self, lag_s: float) -> None:
        self.lag_s, self.sent, self.ready = lag_s, 0, False
        self.shell: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.iopub: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.shell_channel = _Channel(self.shell)
        self.iopub_channel = _Channel(self.iopub)

    def kernel_info(self) -> str:
        self.sent += 1
        msg_id = f"info-{self.sent}"
        asyncio.get_running_loop().call_later(self.lag_s, self._answer, msg_id)
        return msg_id

    def _answer(self, msg_id: str) -> None:
        parent = {"msg_id": msg_id}
        self.shell.put_nowait({"msg_type": "kernel_info_reply", "parent_header": parent})
        self.iopub.put_nowait({"msg_type": "status", "parent_header": parent,
                               "content": {"execution_state": "idle"}})

    def _handle_kernel_info_reply(self, reply: dict[str, Any]) -> None:
        self.ready = True

    async def is_alive(self) -> bool:
        return True


class _Channel:
    def __init__(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self.q = q

    async def get_msg(self, timeout: float) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self.q.get(), timeout)
        except TimeoutError:
            raise queue.Empty from None


@pytest.mark.parametrize("lag_s", [0.05, 1.5, 2.5])
def test_a_kernel_slow_to_answer_is_ready_at_its_first_answer(lag_s):
    async def run() -> tuple[float, SlowKernel]:
        kernel = SlowKernel(lag_s)
        started = time.monotonic()
        await wait_for_ready(kernel, timeout=20)
        return time.monotonic() - started, kernel

    waited, kernel = asyncio.run(run())
    assert kernel.ready
    assert waited < 10  # ready at an answer, not at the timeout 20 s away (an error)
