"""Whether this machine can start a sandbox at all, asked once per process and said in
words staff can act on: a deployment without bubblewrap (or without user namespaces)
must say so before any student's work is taken, not fail every grading."""

from __future__ import annotations

import functools
import subprocess

from graders.errors import SandboxUnavailableError
from graders.sandbox.config import SandboxConfig, SandboxMode


def sandbox_problem(config: SandboxConfig) -> str | None:
    """Why no sandbox can start here, or None when one can."""
    if config.mode is SandboxMode.UNSAFE:
        return None
    try:
        bwrap = config.bwrap_path()
    except SandboxUnavailableError as exc:
        return str(exc)
    return _namespaces_problem(bwrap)


@functools.cache
def _namespaces_problem(bwrap: str) -> str | None:
    # the namespaces every sandbox asks for, around a command that does nothing
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap ({bwrap}) could not be run: {exc}"
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        return (f"bubblewrap ({bwrap}) cannot create the sandbox's namespaces here: "
                f"{detail} (are unprivileged user namespaces disabled?)")
    return None
