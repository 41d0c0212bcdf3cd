"""The engine's exceptions: our faults, never the student's.

    GraderError
    ├── InfrastructureError          transient: workers retry these, a bounded number of times
    │   ├── SandboxUnavailableError  bubblewrap (or another piece) missing: fail closed
    │   ├── SandboxError             the sandbox could not be set up (cgroup, mount, launcher)
    │   └── KernelStartError         the kernel inside the sandbox did not come up
    ├── ConfigurationError           staff must act: never retried, reported to staff
    │   ├── SpecError                a spec or reference solution is inconsistent
    │   ├── MissingGraderDataError   datasets, weights or hidden sets are not installed
    │   └── CalibrationMissingError  accuracy questions with no (valid) calibration
    └── SubmissionFormatError        the upload is not a readable notebook: the caller turns
                                     it into a clear 4xx / a not-gradable report

A student's exception, timeout, crash or wrong answer is none of these: it is data in the
graded report.
"""


class GraderError(Exception):
    """Base class of every fault raised by the engine."""


class InfrastructureError(GraderError):
    """A fault of the machinery that may go away when tried again."""


class SandboxUnavailableError(InfrastructureError):
    """bubblewrap (or another piece the sandbox needs) is missing: we fail closed."""


class SandboxError(InfrastructureError):
    """The sandbox could not be set up (cgroup, mount, launcher failure)."""


class KernelStartError(InfrastructureError):
    """The kernel inside the sandbox did not come up."""


class ConfigurationError(GraderError):
    """The assignment or the deployment is set up wrongly; retrying cannot help."""


class SpecError(ConfigurationError):
    """An assignment's spec or reference solution is inconsistent."""


class MissingGraderDataError(ConfigurationError):
    """Datasets, pretrained weights or hidden test sets the assignment needs are missing."""


class CalibrationMissingError(ConfigurationError):
    """The assignment's accuracy questions have no valid calibration yet."""


class SubmissionFormatError(GraderError):
    """The uploaded file is not a notebook or Python module we can read.

    Raised for the caller (CLI, service) to turn into a clear message; the engine turns it
    into a not-gradable report when it is handed an unreadable file directly.
    """
