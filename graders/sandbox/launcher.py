"""The kernel command: set up confinement, then become bubblewrap.

``python -m graders.sandbox.launcher PLAN CONNECTION_FILE`` is what the kernel manager starts in
place of ipykernel. It runs trusted (as root when the service runs as root), joins the
job's cgroup, makes the directories the sandbox needs reachable, drops to the sandbox
uid, sets rlimits and execs bwrap with an empty environment: bwrap's own process would
otherwise keep our environment, readable inside at /proc/1/environ.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from pathlib import Path

from graders.sandbox.config import IPC_MOUNT, LaunchPlan, SandboxMode, bwrap_argv
from graders.sandbox.seccomp import seccomp_fd

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 1, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1


def libc_call(name: str, *args: object) -> None:
    """A libc call that raises OSError (with errno's text) when it fails."""
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _stage_mounts(plan: LaunchPlan, stage: Path) -> dict[str, str]:
    """Bind the directories bwrap needs under a world-traversable staging point.

    The sandbox uid cannot traverse a checkout under a 0700 directory (``/root``), so in a
    private mount namespace of this process alone we bind them below ``stage``.
    """
    libc_call("unshare", CLONE_NEWNS)
    libc_call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
    paths = {}
    for key, source in _sources(plan).items():
        target = stage / key
        libc_call("mount", source.encode(), str(target).encode(), None, MS_BIND | MS_REC, None)
        paths[key] = str(target)
    return paths


def _sources(plan: LaunchPlan) -> dict[str, str]:
    sources = {"env": plan.python_env, "ipc": plan.ipc_dir, "probe": plan.probe_dir,
               "etc": plan.etc_dir}
    for key in ("files", "datasets", "weights"):
        value = getattr(plan, f"{key}_dir")
        if value is not None:
            sources[key] = value
    return sources


def rlimits(plan: LaunchPlan) -> list[tuple[int, int]]:
    """The kernel's resource limits, each at most what this process's hard limit allows."""
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, plan.cpu_seconds),
        (resource.RLIMIT_FSIZE, plan.file_size_bytes),
        (resource.RLIMIT_NOFILE, plan.open_files),
    ]
    if plan.mode is SandboxMode.USER:
        # No cgroups as an ordinary user: the address-space limit stands in for memory
        # (it breaks CUDA, hence not with a GPU), and RLIMIT_NPROC counts every process
        # of this uid, so it is set above what the user already runs.
        if plan.gpu is None:
            limits.append((resource.RLIMIT_AS, plan.memory_bytes))
        mine = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owned(p))
        limits.append((resource.RLIMIT_NPROC, mine + plan.max_processes))
    capped = []
    for which, value in limits:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        capped.append((which, value))
    return capped


def _set_rlimits(plan: LaunchPlan) -> None:
    for which, value in rlimits(plan):
        resource.setrlimit(which, (value, value))


def _owned(p: Path) -> bool:
    try:
        return p.stat().st_uid == os.getuid()
    except OSError:
        return False


def _write_kernel_connection(connection_file: str, ipc_dir: str, uid: int, gid: int) -> None:
    info = json.loads(Path(connection_file).read_text())
    info["ip"] = f"{IPC_MOUNT}/k"
    target = Path(ipc_dir) / "kernel.json"
    target.write_text(json.dumps(info))
    if os.geteuid() == 0:
        os.chown(target, uid, gid)
    target.chmod(0o600)


def main(argv: list[str]) -> None:
    plan_file, connection_file = argv[1], argv[2]
    plan = LaunchPlan.from_json(Path(plan_file).read_text())
    _write_kernel_connection(connection_file, plan.ipc_dir, plan.uid, plan.gid)
    for procs in plan.cgroup_procs:
        Path(procs).write_text(str(os.getpid()))
    if plan.mode is SandboxMode.ROOT:
        if plan.stage_dir is None:
            raise SystemExit("launcher: root mode needs a staging directory")
        paths = _stage_mounts(plan, Path(plan.stage_dir))
    else:
        paths = _sources(plan)
    fd = seccomp_fd()
    os.set_inheritable(fd, True)
    args = bwrap_argv(
        plan, env_path=paths["env"], ipc_path=paths["ipc"], probe_path=paths["probe"],
        etc_path=paths["etc"], seccomp_fd=fd, files_path=paths.get("files"),
        datasets_path=paths.get("datasets"), weights_path=paths.get("weights"),
    )
    if plan.mode is SandboxMode.ROOT:
        os.setgroups([])
        os.setgid(plan.gid)
        os.setuid(plan.uid)
    _set_rlimits(plan)
    # If whoever started us (a worker) dies, bwrap must die too, and with it (through
    # --die-with-parent and the pid namespace) everything inside. Set after setuid,
    # which clears it; execve of the non-setuid bwrap keeps it.
    libc_call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        raise SystemExit("launcher: parent already gone")
    os.execve(plan.bwrap, args, {})


if __name__ == "__main__":
    main(sys.argv)
