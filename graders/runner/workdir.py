"""A job's working directory on the host, and the one place its staging path is named.

Layout of ``job-XXXX/`` (mode 0711, owned by the grader):
``host/`` (0700) connection files and launch plans; ``probe/`` (read-only in the sandbox)
the plan and input arrays; ``files/`` support files with the student's over them;
``etc/`` passwd/group/hosts; ``ipc/`` the kernel's sockets.
"""

from __future__ import annotations

from pathlib import Path

from graders.sandbox.config import SandboxConfig, write_etc

STAGE_PREFIX = ".ml-autograder-stage-"


def stage_path(job: Path) -> Path:
    """Root mode: the world-traversable point under which the launcher binds the job's
    directories (see graders.sandbox.launcher); removed when the session stops."""
    return Path("/tmp") / f"{STAGE_PREFIX}{job.name}"


def prepare(job: Path, config: SandboxConfig) -> None:
    """Create the job's fixed sub-directories with the modes the sandbox user needs."""
    for sub in ("host", "probe"):
        (job / sub).mkdir(exist_ok=True)
    (job / "host").chmod(0o700)
    write_etc(job / "etc", config.sandbox_uid, config.sandbox_gid)
    job.chmod(0o711)
    (job / "probe").chmod(0o755)
    for f in (job / "probe").iterdir():
        f.chmod(0o644)


def sweep_leftovers(config: SandboxConfig) -> int:
    """At start-up: remove the job folders, staging folders and empty cgroups of graders
    that are provably gone (their pid no longer exists), whatever their age."""
    from graders.sandbox.cgroups import sweep_stale

    return sweep_stale(jobs_root=config.jobs_root)
