"""A job's working directory on the host, and the one place its staging path is named.

Layout of ``job-XXXX/`` (mode 0711, owned by the grader):
``host/`` (0700) connection files and launch plans; ``probe/`` (read-only in the sandbox)
the plan and input arrays; ``files/`` support files with the student's over them;
``etc/`` passwd/group/hosts; ``ipc/`` the kernel's sockets.
"""

from __future__ import annotations

from pathlib import Path

from graders.runner.kernel_code import Paths, unsafe_paths, write_modules
from graders.sandbox.config import SandboxConfig, SandboxMode, write_etc

STAGE_PREFIX = ".ml-autograder-stage-"


def stage_path(job: Path) -> Path:
    """Root mode: the world-traversable point under which the launcher binds the job's
    directories (see graders.sandbox.launcher); removed when the session stops."""
    return Path("/tmp") / f"{STAGE_PREFIX}{job.name}"


def prepare(job: Path, config: SandboxConfig) -> None:
    """Create the job's fixed sub-directories with the modes the sandbox user needs, and
    put the probe modules' sources where the kernel reads them."""
    for sub in ("host", "probe"):
        (job / sub).mkdir(exist_ok=True)
    write_modules(job / "probe", job_paths(job, config))
    (job / "host").chmod(0o700)
    write_etc(job / "etc", config.sandbox_uid, config.sandbox_gid)
    job.chmod(0o711)
    (job / "probe").chmod(0o755)
    for f in (job / "probe").iterdir():
        f.chmod(0o644)


def job_paths(job: Path, config: SandboxConfig) -> Paths | None:
    """The mounts' host folders when there is no sandbox (development only)."""
    if config.mode is not SandboxMode.UNSAFE:
        return None
    datasets = config.datasets_dir
    return unsafe_paths(job, datasets if datasets is not None and datasets.is_dir() else None)


def sweep_leftovers(config: SandboxConfig) -> int:
    """At start-up: remove the job folders, staging folders and empty cgroups of graders
    that are provably gone (their pid no longer exists), whatever their age."""
    from graders.sandbox.cgroups import sweep_stale

    return sweep_stale(jobs_root=config.jobs_root)
