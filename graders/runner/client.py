"""nbclient, adapted: a kernel manager that starts the sandbox launcher, and a client
that caps output, diverts probe messages and backs up the in-kernel call alarm.

nbclient's own hooks do the work where it has them (``on_cell_executed`` records each
cell's outcome); ``process_message`` is overridden because output caps must act on each
message before nbclient appends it to the notebook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode
from traitlets import List, Unicode

from graders.boundary import MIME
from graders.sandbox.config import Limits

MAX_PROBE_MESSAGES = 20_000
MAX_PROBE_BYTES = 64 * 1024 * 1024
# One message part from the kernel, before it is parsed: far above any plot or probe
# answer (arrays travel as files), far below what would take the grader's memory.
MAX_MESSAGE_BYTES = 80 * 1024 * 1024
DROPPED = "autograder_dropped"


def bounded_unpack(data: bytes) -> Any:
    """jupyter_client's JSON unpacker for messages from a hostile kernel: a part too large
    or nested too deeply to parse safely becomes a marker rather than an exception (a
    RecursionError) or gigabytes of objects in the grading process."""
    if len(data) > MAX_MESSAGE_BYTES:
        return {DROPPED: f"a message of {len(data):,} bytes"}
    try:
        return json.loads(data)
    except RecursionError:
        return {DROPPED: "a message nested too deeply"}


class SandboxedKernelManager(AsyncKernelManager):
    """Starts our launcher (which becomes bwrap) instead of a bare ipykernel."""

    launcher_argv = List(Unicode())

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [a.replace("{connection_file}", self.connection_file) for a in self.launcher_argv]


class CappedClient(NotebookClient):
    """nbclient with output caps, and probe messages diverted from the notebook."""

    def __init__(self, nb: NotebookNode, km: AsyncKernelManager, limits: Limits) -> None:
        super().__init__(
            nb,
            km=km,
            timeout=int(limits.cell_timeout_s),
            startup_timeout=int(limits.startup_timeout_s),
            allow_errors=True,
            interrupt_on_timeout=False,
            shutdown_kernel="immediate",
            record_timing=False,
            iopub_timeout=4,
        )
        self.limits = limits
        self.cell_bytes: dict[int, int] = {}
        self.total_bytes = 0
        self.flooded: set[int] = set()
        self.killed_for_output: int | None = None
        self.probe_messages: list[dict[str, Any]] = []
        self.probe_bytes = 0
        self.call_started: float | None = None
        self.call_id: str | None = None
        self.killed_for_call = False
        self.dropped: list[str] = []  # messages refused unparsed (see bounded_unpack)

    async def watch_calls(self, limits: dict[str, float], default_s: float,
                          grace_s: float = 3.0) -> None:
        """Backstop for the in-kernel alarm: a call that ignores it is killed from here,
        once past its own limit (a function call's seconds, a model request's minutes)."""
        while True:
            await asyncio.sleep(0.2)
            started = self.call_started
            limit_s = limits.get(self.call_id or "", default_s) + grace_s
            if started is not None and time.monotonic() - started > limit_s:
                self.killed_for_call = True
                self._kill_kernel()
                return

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        msg_type = msg["msg_type"]
        content = msg.get("content", {})
        if isinstance(content, dict) and DROPPED in content:
            self.dropped.append(str(content[DROPPED]))
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text=f"[autograder] output refused unread: {content[DROPPED]}\n"))
            return None
        if msg_type == "display_data" and MIME in content.get("data", {}):
            payload = content["data"][MIME]
            size = _size(payload) if isinstance(payload, dict) else 0
            self.probe_bytes += size
            if (
                isinstance(payload, dict)
                and len(self.probe_messages) < MAX_PROBE_MESSAGES
                and self.probe_bytes < MAX_PROBE_BYTES
            ):
                self.probe_messages.append(payload)
                kind = payload.get("kind")
                if kind == "start":
                    self.call_started = time.monotonic()
                    self.call_id = str(payload.get("call_id"))[:200]
                elif kind == "result":
                    self.call_started = None
            return None
        if msg_type in ("stream", "display_data", "execute_result", "update_display_data"):
            size = _output_size(content)
            used = self.cell_bytes.get(cell_index, 0) + size
            self.cell_bytes[cell_index] = used
            self.total_bytes += size
            if used > self.limits.output_kill_bytes and self.killed_for_output is None:
                self.killed_for_output = cell_index
                self._kill_kernel()
            if (
                used > self.limits.output_cell_bytes
                or self.total_bytes > self.limits.output_total_bytes
            ):
                if cell_index not in self.flooded:
                    self.flooded.add(cell_index)
                    cell.outputs.append(
                        nbformat.v4.new_output(
                            "stream", name="stderr",
                            text="[autograder] output limit reached; further output dropped\n",
                        )
                    )
                return None
        return super().process_message(msg, cell, cell_index)

    def _kill_kernel(self) -> None:
        process = getattr(self.km.provisioner, "process", None) if self.km else None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


def _size(value: Any) -> int:
    """About the JSON size of ``value``, without recursion (the parser bounded its depth,
    but a wide message should not cost a second serialisation either)."""
    total, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            total += 2 + sum(len(str(k)) + 4 for k in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            total += 2 + len(node)
            stack.extend(node)
        else:
            total += len(str(node))
    return total


def _output_size(content: dict[str, Any]) -> int:
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    return sum(len(v) if isinstance(v, str) else _size(v) for v in data.values())
