"""nbclient, adapted: a kernel manager that starts the sandbox launcher, and a client
that caps output, diverts probe messages and backs up the in-kernel call alarm.

nbclient's own hooks do the work where it has them (``on_cell_executed`` records each
cell's outcome); ``process_message`` is overridden because output caps must act on each
message before nbclient appends it to the notebook.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import queue
import signal
import time
from pathlib import Path
from typing import Any

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode
from traitlets import List, Unicode, default
from zmq.utils.monitor import recv_monitor_message

from graders.boundary import MIME
from graders.errors import KernelStartError
from graders.runner.sockets import PinnedSockets, pin
from graders.runner.strays import Process, stat_fields
from graders.sandbox.config import Limits

MAX_PROBE_MESSAGES = 20_000
MAX_PROBE_BYTES = 64 * 1024 * 1024
# One message part from the kernel: far above any plot or probe answer (a large PNG is a
# few MB), far below what would take the grader's memory. libzmq refuses a larger frame
# from its length header, before allocating it, by dropping the kernel's connection
# (which the client restores).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
RECEIVE_QUEUE = 16  # messages libzmq holds per socket before the sender waits or drops
DROPPED = "autograder_dropped"
SANDBOX_START_S = 10.0


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


def guarded_deserialize(deserialize: Any) -> Any:
    """jupyter_client's ``Session.deserialize`` for messages from a hostile kernel: the
    kernel holds the signing key, so a signed message can still be malformed (a header
    without an id, a list where a dict belongs, a replayed signature). Such a message
    becomes an inert one that answers nothing, never an exception in the grader."""

    def deserialize_or_drop(msg_list: Any, content: bool = True, copy: bool = True) -> Any:
        try:
            msg = deserialize(msg_list, content=content, copy=copy)
        except Exception as exc:  # whatever the kernel sent, it is not a message
            return _inert(f"a malformed message ({type(exc).__name__})")
        if not (isinstance(msg.get("header"), dict) and isinstance(msg.get("msg_id"), str)
                and isinstance(msg.get("msg_type"), str)
                and isinstance(msg.get("parent_header"), dict)
                and isinstance(msg.get("metadata"), dict)
                and (not content or _well_formed(msg["msg_type"], msg.get("content")))):
            return _inert("a malformed message")
        return msg

    return deserialize_or_drop


# The fields nbclient and the grader read, by message type, and the types they must have:
# a message whose content breaks them is dropped whole.
_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "stream": {"name": str, "text": str},
    "display_data": {"data": dict, "metadata": dict, "transient": dict},
    "update_display_data": {"data": dict, "metadata": dict, "transient": dict},
    "execute_result": {"data": dict, "metadata": dict, "execution_count": (int, type(None))},
    "error": {"ename": str, "evalue": str, "traceback": list},
    "status": {"execution_state": str},
    "execute_input": {"code": str},
    "clear_output": {"wait": bool},
    "execute_reply": {"status": str, "user_expressions": dict, "payload": list},
    "kernel_info_reply": {"status": str},
    "comm_open": {"comm_id": str, "data": dict},
    "comm_msg": {"comm_id": str, "data": dict},
    "comm_close": {"comm_id": str},
}
_REQUIRED = {"stream": ("name", "text"), "status": ("execution_state",),
             "error": ("ename", "evalue"), "execute_reply": ("status",),
             "display_data": ("data",), "execute_result": ("data",),
             "update_display_data": ("data",)}


def _well_formed(msg_type: str, content: Any) -> bool:
    if not isinstance(content, dict):
        return False
    if any(key not in content for key in _REQUIRED.get(msg_type, ())):
        return False
    for key, kind in _FIELDS.get(msg_type, {}).items():
        if key in content and not isinstance(content[key], kind):
            return False
    if msg_type == "error" and not all(isinstance(line, str)
                                       for line in content.get("traceback", [])):
        return False
    expressions = content.get("user_expressions") if msg_type == "execute_reply" else None
    return not (expressions and not all(isinstance(v, dict) for v in expressions.values()))


def _inert(why: str) -> dict[str, Any]:
    header = {"msg_id": "", "msg_type": DROPPED, "session": "", "username": "",
              "version": "5.3"}
    return {"header": header, "msg_id": "", "msg_type": DROPPED, "parent_header": {},
            "metadata": {}, "content": {DROPPED: why}, "buffers": []}


class SandboxedKernelManager(AsyncKernelManager):
    """Starts our launcher (which becomes bwrap) instead of a bare ipykernel.

    With ``socket_path`` set, the kernel binds its sockets in a tmpfs of the sandbox's own
    and the host reaches them through links it pins once they are bound
    (``graders.runner.sockets``): no folder of the host is writable from inside, and no
    name the sandbox owns decides where the host connects."""

    launcher_argv = List(Unicode())
    socket_path = Unicode(None, allow_none=True)  # the kernel's sockets' folder, inside
    pin_folder = Unicode("")  # where the host links to them (a folder only it can read)
    pin_timeout_s = 60.0
    sandbox_pid: int | None = None
    pinned: PinnedSockets | None = None
    # a forked kernel (graders.sandbox.zygote): the zygote, its request (all but the
    # holder's pid), and then the holder's and the kernel's host pids
    zygote: Any = None
    fork_request: dict[str, Any] | None = None
    holder_pid: int | None = None
    kernel_pid: int | None = None
    kernel_process: Process | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [a.replace("{connection_file}", self.connection_file) for a in self.launcher_argv]

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.socket_path is not None:
            process = getattr(self.provisioner, "process", None)
            init = await sandbox_init(process.pid, self.pin_timeout_s) \
                if process is not None else None
            if init is None or process is None:
                raise KernelStartError(
                    "the sandbox did not start its kernel (bubblewrap exited, or made no "
                    f"sandbox within {self.pin_timeout_s:g} s)")
            self.sandbox_pid = init
            if self.fork_request is not None:
                await self._fork_kernel(init, process)
            self.pinned = await pin(
                init, self.socket_path, [self.shell_port, self.iopub_port, self.stdin_port,
                                         self.control_port, self.hb_port],
                Path(self.pin_folder), alive=lambda: process.poll() is None,
                timeout_s=self.pin_timeout_s)
            self.ip = self.pinned.ip

    async def _fork_kernel(self, init: int, process: Any) -> None:
        """Have the zygote fork the kernel into the sandbox, once its holder runs (then
        bubblewrap has made every mount and namespace)."""
        deadline = time.monotonic() + self.pin_timeout_s
        while True:
            holder = next(iter(children(init)), None)
            if holder is not None and _command(holder) not in ("", "bwrap"):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise KernelStartError("the sandbox did not start its holder")
            await asyncio.sleep(0.002)
        # one read: its parent (the sandbox's init) and its start time name one process,
        # which the zygote checks again once it holds the namespaces
        fields = stat_fields(holder)
        if fields is None or fields[0] == "Z" or fields[1] != str(init):
            raise KernelStartError("the sandbox's holder exited at once")
        self.holder_pid = holder
        self.kernel_pid = await asyncio.to_thread(self.zygote.fork, {
            **(self.fork_request or {}), "holder": holder, "holder_start": fields[19]})
        self.kernel_process = Process.of(self.kernel_pid)

    async def _async_is_alive(self) -> bool:
        # a forked kernel is not bubblewrap's child: the sandbox outlives it when the
        # notebook stopped the holder that would have ended it
        if self.kernel_process is not None and not self.kernel_process.alive():
            return False
        return bool(await super()._async_is_alive())

    is_alive = _async_is_alive

    def cleanup_ipc_files(self) -> None:
        # in the sandbox: its tmpfs goes with it, and the session releases our pins once
        # the client's channels are closed
        if self.socket_path is None:
            super().cleanup_ipc_files()

    def release_sockets(self) -> None:
        if self.pinned is not None:
            self.pinned.close()
            self.pinned = None

    @default("context")
    def _context_default(self) -> Any:  # the control socket's
        self._created_context = True
        context = zmq.asyncio.Context()
        _bound(context)
        return context

    def client(self, **kwargs: Any) -> Any:
        kc = super().client(**kwargs)
        _bound(kc.context)
        kc.wait_for_ready = functools.partial(wait_for_ready, kc)  # type: ignore[method-assign]
        # the client's session is a clone of ours (traits only: ``unpack`` comes along)
        kc.session.deserialize = guarded_deserialize(kc.session.deserialize)
        return kc


async def wait_for_ready(kc: Any, timeout: float | None = None) -> None:
    """jupyter_client's ``wait_for_ready``, less its fixed 0.2 s: the kernel is ready when
    a kernel_info reply has come on the shell channel and an idle status that ends one of
    these requests on IOPub (which proves IOPub connected, and that what the kernel said
    before has been read), not after IOPub has been quiet for 0.2 s. A reply to any
    request sent counts: a kernel slow to start answers the first one after a later one
    is sent (requiring the latest made each wait answer the one before, to the end)."""
    deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
    sent: set[str] = set()
    ask = True
    while True:
        if ask:
            sent.add(kc.kernel_info())
        try:
            reply = await kc.shell_channel.get_msg(timeout=1)
        except queue.Empty:
            reply = None
        answered = reply.get("parent_header", {}).get("msg_id") if reply else None
        ask = reply is None
        if reply is not None and reply.get("msg_type") == "kernel_info_reply" \
                and answered in sent:
            kc._handle_kernel_info_reply(reply)
            with contextlib.suppress(queue.Empty):
                while True:
                    msg = await kc.iopub_channel.get_msg(timeout=0.2)
                    if msg.get("parent_header", {}).get("msg_id") in sent and \
                            msg.get("msg_type") == "status" and \
                            msg.get("content", {}).get("execution_state") == "idle":
                        return
            ask = True  # IOPub was not connected yet when it said so: ask again
        if not await kc.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} s")


def _bound(context: Any) -> None:
    """Every socket this context makes refuses a frame over the cap (before allocating
    it) and queues few messages: what a hostile kernel can make the grader hold is about
    ``MAX_MESSAGE_BYTES * RECEIVE_QUEUE`` per socket, not the kernel's whole memory."""
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        pass  # a kernel built without CONFIG_PROC_CHILDREN: read every process's parent
    except (OSError, ValueError):
        return []
    return sorted(int(e.name) for e in os.scandir("/proc") if e.name.isdigit()
                  and (fields := stat_fields(int(e.name))) is not None
                  and fields[1] == str(pid))


async def sandbox_init(bwrap_pid: int, timeout_s: float = SANDBOX_START_S) -> int | None:
    """The host pid of the sandbox's first process (bwrap's child, pid 1 inside): its
    ``/proc/<pid>/root`` is the sandbox's file system. None if bwrap exited first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        comm = _command(bwrap_pid)
        if not comm:
            return None
        fields = stat_fields(bwrap_pid)
        if fields is None or fields[0] == "Z":
            return None
        found = children(bwrap_pid) if comm == "bwrap" else []
        if found:
            return found[0]
        await asyncio.sleep(0.002)
    return None


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
        self._monitor: zmq.Socket[bytes] | None = None

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

    def watch_iopub(self) -> None:
        """Be told when libzmq drops the kernel's publisher (a frame over the cap)."""
        assert self.kc is not None
        kc: Any = self.kc
        address = f"inproc://iopub-monitor-{id(self)}-{time.monotonic_ns()}"
        kc.iopub_channel.socket.monitor(address, zmq.EVENT_DISCONNECTED)
        if self._monitor is not None:
            self._monitor.close(linger=0)
        self._monitor = zmq.Context.shadow(kc.context.underlying).socket(zmq.PAIR)
        self._monitor.connect(address)

    async def restore_iopub(self, cell: NotebookNode, index: int,
                            timeout_s: float = 10.0) -> bool:
        """After a frame over the cap, the kernel's output channel is gone (libzmq does not
        reconnect after refusing one): say so in the cell and connect it again. False if
        the kernel could not be heard again."""
        lost = False
        while self._monitor is not None and self._monitor.poll(0):
            lost |= recv_monitor_message(self._monitor)["event"] == zmq.EVENT_DISCONNECTED
        if not lost:
            return True
        self.dropped.append(f"a message over {MAX_MESSAGE_BYTES:,} bytes")
        self.flooded.add(index)  # over every output limit by definition
        cell.outputs.append(nbformat.v4.new_output(
            "stream", name="stderr",
            text=f"[autograder] output refused unread: a message over {MAX_MESSAGE_BYTES:,} "
                 "bytes; the rest of this cell's output is lost\n"))
        kc: Any = self.kc
        kc.iopub_channel.close()
        kc._iopub_channel = None
        self.watch_iopub()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            kc.kernel_info()  # every request publishes a status: proof the channel is back
            try:
                await kc.iopub_channel.get_msg(timeout=0.5)
            except queue.Empty:
                continue
            with contextlib.suppress(queue.Empty):
                while time.monotonic() < deadline:  # a chatty thread must not hold us
                    await kc.iopub_channel.get_msg(timeout=0.2)
            return True
        return False

    def close_monitor(self) -> None:
        if self._monitor is not None:
            self._monitor.close(linger=0)
            self._monitor = None

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
