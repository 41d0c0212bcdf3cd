"""The zygote: one interpreter that has imported ipykernel and numpy, and forks a kernel
into each sandbox bubblewrap has made, instead of a fresh interpreter importing them.

Runs as ``python -P -c <this file's source>`` from the grading environment at the
sandbox's path for it (``graders.sandbox.zygote`` starts it in a mount namespace of its
own where the environment is bound there), with the kernel's environment and nothing
else: it never runs student code and holds nothing a kernel may not see. Stdlib only
(and what the kernel imports anyway); nothing of the grader is imported here.

Each kernel joins the namespaces of a sandbox bubblewrap has already made (its mount,
pid, network, IPC, UTS, cgroup and user namespaces: the same confinement a kernel
bubblewrap starts has), its root, its cgroup and its limits, then drops every
capability and loads the same seccomp program before the kernel's first line. The
sandbox's own process (a holder) exits when the kernel does, so the host sees the
kernel's end as it always has: bubblewrap exiting.

Protocol, one JSON object per line: the host writes ``{"bpf": HEX, "preload": [NAME,
...]}`` once (the zygote imports those too, then answers ``{"ready": true}``), then one
request per kernel; the zygote answers each with ``{"pid": N}`` (the kernel's pid on
the host) or ``{"error": TEXT}``. When a kernel exits its status goes to the file the
request named.
"""

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import threading

# Everything a kernel imports before the first cell, imported once here (the point).
import ipykernel.kernelapp  # noqa: F401  (the kernel's own entry point)
import numpy  # noqa: F401

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
# the user namespace last: once in it, no capability is left over the namespaces around it
NAMESPACES = (("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET),
              ("cgroup", CLONE_NEWCGROUP), ("pid", CLONE_NEWPID), ("mnt", CLONE_NEWNS),
              ("user", CLONE_NEWUSER))
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 4, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_CHILD_SUBREAPER = 47, 4, 36
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CAP_LAST = 63
LINUX_CAPABILITY_VERSION_3 = 0x20080522

libc = ctypes.CDLL(None, use_errno=True)


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def call(name, *args):
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def drop_capabilities():
    for cap in range(CAP_LAST + 1):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")  # EINVAL: no such cap
    call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def clear_capability_sets(check=True):
    """Every capability set empty; ``check``: read back from /proc (the sandbox's /proc
    shows only processes of its own pid namespace: the go-between, outside it, cannot)."""
    header = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    call("capset", ctypes.byref(header), data)
    if not check:
        return
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb") \
                    and int(value, 16) != 0:
                raise OSError(f"capability set {key} is not empty")


def load_seccomp(program):
    count = len(program) // 8
    filters = (SockFilter * count).from_buffer_copy(program)
    prog = SockFprog(count, ctypes.cast(filters, ctypes.POINTER(SockFilter)))
    call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    call("prctl", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0)


def security_label(proc):
    try:
        with open(f"{proc}/attr/current") as f:
            return f.read().strip()
    except OSError:
        return None


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def enter(request):
    """In the forked child: join the sandbox, as far as a process outside its pid
    namespace can (the kernel itself is forked after this, inside it)."""
    for procs in request["procs"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    holder = request["holder"]
    root = os.open(f"/proc/{holder}/root", os.O_RDONLY | os.O_DIRECTORY)
    joined = []
    for name, flag in NAMESPACES:
        if os.readlink(f"/proc/{holder}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}"):
            if name in ("pid", "mnt", "user", "net"):
                raise OSError(f"the sandbox shares the {name} namespace of its host")
            continue
        joined.append((os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY), flag))
    # The same process as the host saw, still: a pid is reused, and another job's holder
    # may have it now. A pid with its start time before and after the opens names one
    # process, whose namespaces the descriptors now hold whatever becomes of it.
    if start_time(holder) != request["holder_start"]:
        raise OSError("the sandbox's holder is gone")
    # a security module's label (AppArmor, SELinux) changes only at an exec: a kernel
    # forked from here would keep ours, not the one bubblewrap's exec gave the sandbox
    if security_label(f"/proc/{holder}") != security_label("/proc/self"):
        raise OSError("the sandbox runs under another security label than the zygote "
                      "(an AppArmor or SELinux policy): kernels must be started there")
    for fd, flag in joined:
        call("setns", fd, flag)
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    drop_capabilities()  # the bounding set, while the capability to drop it is held
    os.setresgid(request["gid"], request["gid"], request["gid"])
    os.setresuid(request["uid"], request["uid"], request["uid"])
    clear_capability_sets(check=False)  # the go-between too holds none from here


# the kernels alive, by host pid, and where each one's status goes: module state, so that
# a kernel forked from here can forget it (a notebook can walk the objects it inherited)
STATUSES: dict[int, str] = {}
PENDING = bytearray()


def become_kernel(request, program):
    """In the kernel (pid namespace joined): the rest of what bubblewrap and the launcher
    do before the kernel's first line, then the kernel."""
    STATUSES.clear()
    PENDING.clear()
    clear_capability_sets()
    call("prctl", PR_SET_DUMPABLE, 1, 0, 0, 0)  # as after an exec
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    import resource
    for which, value in request["rlimits"]:
        resource.setrlimit(which, (value, value))
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1 << 16)
    os.chdir(request["home"])
    os.environ.clear()
    os.environ.update(request["env"])
    load_seccomp(program)
    sys.argv = ["ipykernel_launcher", *request["argv"]]
    from ipykernel import kernelapp
    kernelapp.launch_new_instance()


def fork_kernel(request, program):
    """Fork a kernel into the sandbox; its pid on the host."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the go-between: joins, forks the kernel into the pid namespace, exits
        code = 1
        try:
            os.close(read)
            os.setsid()  # the kernel's session is new, and it is not its leader
            enter(request)
            kernel = os.fork()
            if kernel == 0:
                code = 2
                os.close(write)
                write = -1  # its number may name another file by the time of an error
                become_kernel(request, program)
                code = 0
            else:
                os.write(write, str(kernel).encode())
                code = 0
        except BaseException as exc:
            if write >= 0:
                with contextlib.suppress(OSError):
                    os.write(write, ("!" + str(exc)[:500]).encode())
        finally:
            os._exit(code)
    os.close(write)
    answer = b""
    while True:
        chunk = os.read(read, 4096)
        if not chunk:
            break
        answer += chunk
    os.close(read)
    os.waitpid(child, 0)
    text = answer.decode(errors="replace")
    if not text or text.startswith("!"):
        return {"error": text[1:] or "the kernel's fork went away"}
    return {"pid": int(text)}


def reap(limit=64):
    """Reap ended kernels, at most ``limit`` (True: more may be waiting). Each one's
    status is written where its request said (whole, by a rename) before it is reaped:
    its sandbox cannot end before that, so the host finds the status once it sees the
    sandbox gone."""
    for _ in range(limit):
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        if info is None or info.si_pid == 0:
            return False
        code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        target = STATUSES.pop(info.si_pid, None)
        if target is not None:
            try:
                with open(target + ".part", "w") as f:
                    f.write(str(code))
                os.rename(target + ".part", target)
            except OSError:
                pass
        os.waitpid(info.si_pid, 0)
    return True


def preload(names):
    """Import the modules this zygote's kernels import before their first cell (torch,
    for the assignments that train: seconds of CPU per kernel otherwise). One the
    environment lacks is left for the kernel to fail on, as it would unforked."""
    done = []
    for name in names:
        try:
            __import__(name)
        except Exception:
            continue
        done.append(name)
    return done


def serve():
    call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # the kernels are reaped here
    lines = os.fdopen(0, "rb", buffering=0)
    out = os.fdopen(1, "wb", buffering=0)
    first = json.loads(lines.readline())
    program = bytes.fromhex(first["bpf"])
    preloaded = preload(first.get("preload", []))
    # checked after every import: none of them may have started a thread
    if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
        raise SystemExit("zygote: a thread is running; forking would copy it half-done")
    # a kernel is reaped the moment it ends: its sandbox's init waits for that to exit
    woken, wake = os.pipe()
    os.set_blocking(wake, False)
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    out.write(json.dumps({"ready": True, "preloaded": preloaded}).encode() + b"\n")
    more = False
    while True:
        # the requests are served between reaps: a stream of ended processes must not
        # keep every other kernel from starting
        ready, _, _ = select.select([lines, woken], [], [], 0 if more else 5.0)
        if woken in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(woken, 4096)
        more = reap()
        if lines not in ready:
            continue
        chunk = lines.read(65536)
        if not chunk:
            return  # the host went away: so do we (the kernels live on in their sandboxes)
        PENDING.extend(chunk)
        while b"\n" in PENDING:
            end = PENDING.index(b"\n")
            line = bytes(PENDING[:end])
            del PENDING[:end + 1]
            request = json.loads(line)
            try:
                answer = fork_kernel(request, program)
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            if "pid" in answer:
                STATUSES[answer["pid"]] = request["status"]
            out.write(json.dumps(answer).encode() + b"\n")


if __name__ == "__main__":
    serve()
