"""How a submission's kernel is confined: limits, the bubblewrap invocation, GPU slots.

The kernel (and only the kernel) runs inside bubblewrap; nbclient and all grading logic
stay outside. ``LaunchPlan`` is everything ``graders.sandbox.launcher`` needs to start one
sandboxed kernel; ``bwrap_argv`` turns it into the command line (pure, so it is unit
tested without running anything).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from graders.boundary import (
    DATASETS_MOUNT,
    ENV_MOUNT,
    FILES_MOUNT,
    HOME,
    IPC_MOUNT,
    PROBE_MOUNT,
    TORCH_HOME,
)
from graders.errors import SandboxUnavailableError

GiB = 1024**3
MiB = 1024**2

KERNEL_CONNECTION = f"{IPC_MOUNT}/kernel.json"
KERNEL_ARGV = ("-f", KERNEL_CONNECTION, "--HistoryManager.hist_file=:memory:")
# Unix sockets take no space; the tmpfs is only large enough not to matter
IPC_TMPFS_BYTES = 1 * MiB
# Where notebooks commonly point a dataset's root: each is a link to the mounted
# datasets, so `datasets.CIFAR10(root="./data", download=True)` finds the files.
DATASET_LINKS = (f"{HOME}/data", f"{HOME}/datasets", "/home/data", "/content/data",
                 "/data", "/tmp/data")

# What the holder runs in the sandbox bubblewrap makes: it waits for the first process
# to join (the forked kernel), then for that process to end, and exits with the sandbox.
HOLDER = """\
import ctypes, os, select, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the kernel cannot open our memory
me = os.getpid()
deadline = time.monotonic() + 60
while True:
    joined = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
    if joined:
        break
    if time.monotonic() > deadline:
        raise SystemExit(3)
    time.sleep(0.002)
select.select([os.pidfd_open(min(joined))], [], [])
"""


# Environment variables passed through from the host when set (never secrets):
# older OpenBLAS builds crash on some processors without the core type.
PASSTHROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class SandboxMode(StrEnum):
    ROOT = "root"  # started as root: drop to the sandbox uid, per-job cgroups
    USER = "user"  # an ordinary user: bwrap as that user, rlimits only
    UNSAFE = "unsafe"  # no sandbox at all; development only, loudly labelled


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission; ``graders`` never reads the environment."""

    memory_bytes: int = 3 * GiB
    max_processes: int = 128
    cpu_seconds: int = 1800
    file_size_bytes: int = 256 * MiB
    # the PyTorch tutorials' DataLoader(num_workers=2) passes batches between processes
    # as file descriptors: 512 ran out mid-epoch on CIFAR-10 (a student's own cell failed)
    open_files: int = 4096
    tmp_bytes: int = 256 * MiB
    home_bytes: int = 256 * MiB
    # Caps set on purpose by the deployment; an assignment's own budgets apply below them
    # (infinite: the assignment's budgets apply as written).
    cell_timeout_s: float = math.inf
    total_timeout_s: float = math.inf
    startup_timeout_s: float = 60.0
    call_timeout_s: float = 30.0  # cap on any one probe call, whatever a spec asks
    output_cell_bytes: int = 1 * MiB
    output_total_bytes: int = 8 * MiB
    output_kill_bytes: int = 64 * MiB
    gpu: int | None = None
    # torch/BLAS/OpenMP threads: part of what makes a training run reproducible, so it
    # is fixed per job rather than taken from whatever cores the worker has
    threads: int = 1


@dataclass(frozen=True)
class SandboxConfig:
    """Where things are on the host, and how to become the sandbox user."""

    python_env: Path  # prefix of the grading environment (a venv or an installation)
    jobs_root: Path
    sandbox_uid: int = 10001
    sandbox_gid: int = 10001
    unsafe_no_sandbox: bool = False
    bwrap: str = "bwrap"
    datasets_dir: Path | None = None  # torchvision layout, mounted read-only
    weights_dir: Path | None = None  # torch hub checkpoints, mounted read-only
    # kernels forked from a zygote into each sandbox (root only; graders.sandbox.zygote)
    fork_kernels: bool = True

    @property
    def mode(self) -> SandboxMode:
        if self.unsafe_no_sandbox:
            return SandboxMode.UNSAFE
        return SandboxMode.ROOT if os.geteuid() == 0 else SandboxMode.USER

    def bwrap_path(self) -> str:
        found = shutil.which(self.bwrap)
        if not found:
            raise SandboxUnavailableError(
                "bubblewrap (bwrap) is not installed: refusing to run student code "
                "unsandboxed. Install it (Debian: apt-get install bubblewrap)."
            )
        return found


@dataclass(frozen=True, kw_only=True)
class LaunchPlan:
    """What the launcher needs; written as JSON into a directory only we can read.
    A plain dataclass: the launcher runs before every kernel, and importing pydantic
    there cost 0.1 s of CPU per start."""

    mode: SandboxMode
    bwrap: str
    uid: int
    gid: int
    python_env: str
    ipc_dir: str
    probe_dir: str
    etc_dir: str
    stage_dir: str | None = None  # root mode: world-traversable mount point
    files_dir: str | None = None  # attachments from a zip, copied into HOME at start
    datasets_dir: str | None = None
    dataset_entries: tuple[str, ...] = ()  # top-level names, also linked into HOME
    weights_dir: str | None = None
    cgroup_procs: tuple[str, ...] = ()
    memory_bytes: int
    max_processes: int
    cpu_seconds: int
    file_size_bytes: int
    open_files: int
    tmp_bytes: int
    home_bytes: int
    gpu: int | None = None
    threads: int = 1
    # bubblewrap runs only a holder; the kernel is forked into the sandbox by the zygote
    forked: bool = False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LaunchPlan:
        """A plan the session wrote; an unknown or missing field is a TypeError."""
        fields = json.loads(text)
        fields["mode"] = SandboxMode(fields["mode"])
        for key in ("cgroup_procs", "dataset_entries"):
            fields[key] = tuple(fields.get(key, ()))
        return cls(**fields)


# One string-hash seed for every kernel, warm or cold: a kernel started before its
# submission arrived cannot know the submission's seed, and a regrade must see the same
# set and dict order as the first grading (the submission's own seed goes to random,
# numpy and torch when the run begins).
HASH_SEED = "0"


def kernel_environment(plan: LaunchPlan) -> dict[str, str]:
    """The whole environment the kernel sees: an allow-list, nothing inherited."""
    env = zygote_environment(plan.threads)
    if plan.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(plan.gpu)
        env["NVIDIA_VISIBLE_DEVICES"] = str(plan.gpu)
        # cuBLAS picks reduction orders by workspace; a fixed one makes GEMMs repeatable
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    return env


def zygote_environment(threads: int) -> dict[str, str]:
    """The environment of every kernel with no GPU (and of the zygote that forks them:
    the hash seed and the thread pools' sizes are fixed when an interpreter starts)."""
    env = {
        "PATH": f"{ENV_MOUNT}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME,
        "USER": "student",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": HASH_SEED,
        **thread_environment(threads),
        "TORCH_HOME": TORCH_HOME,
    }
    for key in PASSTHROUGH_ENV:
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def thread_environment(threads: int) -> dict[str, str]:
    """Every thread pool a numerical library sizes from the environment, set alike."""
    n = str(max(1, threads))
    return {name: n for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                 "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                                 "VECLIB_MAXIMUM_THREADS")}


def _root_links() -> list[str]:
    """Mirror the host's top-level library and binary directories (merged /usr or not)."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{name}"]
    return args


ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "fonts",
    "nsswitch.conf", "mime.types", "ssl/certs",
)
GPU_CONTROL_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")


def bwrap_argv(
    plan: LaunchPlan,
    *,
    env_path: str,
    ipc_path: str,
    probe_path: str,
    etc_path: str,
    seccomp_fd: int | None,
    files_path: str | None = None,
    datasets_path: str | None = None,
    weights_path: str | None = None,
) -> list[str]:
    """The bubblewrap command line that starts ipykernel for one plan.

    The ``*_path`` arguments are where those directories are reachable for the bwrap
    process (in root mode, a private staging mount; otherwise the host paths).
    """
    args = [
        plan.bwrap,
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
        *_root_links(),
    ]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for name in ("passwd", "group", "hosts"):
        args += ["--ro-bind", f"{etc_path}/{name}", f"/etc/{name}"]
    args += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(plan.tmp_bytes), "--tmpfs", "/tmp",
        "--dir", "/home",
        "--size", str(plan.home_bytes), "--tmpfs", HOME,
        # Colab's working folder: notebooks save there (/content/drive/MyDrive/...,
        # made by drive.mount on Colab), writable and private as the home is
        "--size", str(plan.home_bytes), "--tmpfs", "/content",
        "--ro-bind", env_path, ENV_MOUNT,
        # The kernel's sockets live in a small tmpfs of the sandbox's own (the host
        # reaches them through /proc/<pid>/root): nothing the notebook writes there
        # lands on the host's disk. Only the connection file comes from the host.
        "--size", str(IPC_TMPFS_BYTES), "--tmpfs", IPC_MOUNT,
        "--ro-bind", f"{ipc_path}/kernel.json", KERNEL_CONNECTION,
        "--ro-bind", probe_path, PROBE_MOUNT,
    ]
    if files_path is not None:
        args += ["--ro-bind", files_path, FILES_MOUNT]
    if datasets_path is not None:
        args += ["--ro-bind", datasets_path, DATASETS_MOUNT]
        for link in DATASET_LINKS:
            args += ["--symlink", DATASETS_MOUNT, link]
        for entry in plan.dataset_entries:
            if entry and "/" not in entry and not entry.startswith("."):
                args += ["--symlink", f"{DATASETS_MOUNT}/{entry}", f"{HOME}/{entry}"]
    if weights_path is not None:
        args += ["--ro-bind", weights_path, f"{TORCH_HOME}/hub/checkpoints"]
    if plan.gpu is not None:
        # before the root turns read-only: the mount points are made on the way
        for dev in (*GPU_CONTROL_DEVICES, f"/dev/nvidia{plan.gpu}"):
            args += ["--dev-bind-try", dev, dev]
        args += ["--ro-bind-try", "/sys", "/sys"]
    args += ["--remount-ro", "/"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--clearenv"]
    for key, value in kernel_environment(plan).items():
        args += ["--setenv", key, value]
    args += ["--chdir", HOME, "--"]
    if plan.forked:
        # -S -I: the holder imports nothing but the standard library's few modules
        return [*args, f"{ENV_MOUNT}/bin/python", "-S", "-I", "-c", HOLDER]
    # -P: the home (the handed-in files) is not on sys.path at start-up, so a shipped
    # sitecustomize.py or numpy.py is never imported in place of the real one
    return [*args, f"{ENV_MOUNT}/bin/python", "-P", "-m", "ipykernel_launcher", *KERNEL_ARGV]


def write_etc(directory: Path, uid: int, gid: int) -> None:
    """Minimal passwd/group/hosts, so the kernel knows who it is and what localhost is."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "passwd").write_text(
        f"root:x:0:0:root:/root:/bin/false\nstudent:x:{uid}:{gid}:student:{HOME}:/bin/false\n"
    )
    (directory / "group").write_text(f"root:x:0:\nstudent:x:{gid}:\n")
    (directory / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")
    for f in directory.iterdir():
        f.chmod(0o644)
    directory.chmod(0o755)
