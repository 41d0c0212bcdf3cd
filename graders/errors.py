"""Grader (infrastructure) faults.

A student's exception, timeout or wrong answer is never one of these: those are data in
the report. These are our own failures, and only these are worth retrying.
"""


class GraderError(Exception):
    """Base class of every infrastructure fault raised by the engine."""


class SandboxUnavailableError(GraderError):
    """bubblewrap (or another piece the sandbox needs) is missing: we fail closed."""


class SandboxError(GraderError):
    """The sandbox could not be set up (cgroup, mount, launcher failure)."""


class KernelStartError(GraderError):
    """The kernel inside the sandbox did not come up."""


class ProbeProtocolError(GraderError):
    """The grader's own probe code misbehaved in a way a submission cannot cause."""


class SpecError(GraderError):
    """An assignment's spec or reference solution is inconsistent."""


class SubmissionFormatError(GraderError):
    """The uploaded file is not a notebook or Python module we can read.

    Raised for the caller (CLI, service) to turn into a clear message; the engine turns it
    into a not-gradable report when it is handed an unreadable file directly.
    """
