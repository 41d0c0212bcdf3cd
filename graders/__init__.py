"""The grading engine: sandboxed execution, probes, scoring and reports.

Nothing here knows about HTTP or SQL. ``service`` imports only the names below.

Layout (the trust boundary, from the student's side inwards):
``kernel/`` hostile side, injected into the student's kernel as source;
``sandbox/`` confinement only; ``runner/`` the host side of execution (nbclient);
``protocol`` the typed messages across the boundary; ``scoring/`` pure scoring;
``spec/`` the vocabulary of ``reference/*/spec.py``; ``pipeline/`` grading end to end.
"""

from graders.calibrate import cached_accuracies, ensure_calibration
from graders.calibrate import calibrate as run_calibration
from graders.catalog import LoadedAssignment, discover, grader_data_problems
from graders.errors import (
    CalibrationMissingError,
    ConfigurationError,
    GraderError,
    InfrastructureError,
    MissingGraderDataError,
    SandboxUnavailableError,
    SpecError,
    SubmissionFormatError,
)
from graders.pipeline.grade import (
    Graded,
    grade_submission,
    kernel_profiles,
    needs_calibration,
    rescore,
)
from graders.pipeline.intake import load_submission
from graders.results import (
    REPORT_ADAPTER,
    CheckResult,
    GradeReport,
    Outcome,
    QuestionResult,
    ReportStatus,
    report_from_json,
    report_to_json,
    to_gradescope,
)
from graders.runner.executor import SandboxExecutor
from graders.runner.pool import KernelPool, KernelProfile
from graders.runner.workdir import sweep_leftovers
from graders.sandbox.config import GiB, Limits, SandboxConfig
from graders.spec import Visibility
from graders.version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "REPORT_ADAPTER",
    "CalibrationMissingError",
    "CheckResult",
    "ConfigurationError",
    "GiB",
    "GradeReport",
    "Graded",
    "GraderError",
    "InfrastructureError",
    "KernelPool",
    "KernelProfile",
    "Limits",
    "LoadedAssignment",
    "MissingGraderDataError",
    "Outcome",
    "QuestionResult",
    "ReportStatus",
    "SandboxConfig",
    "SandboxExecutor",
    "SandboxUnavailableError",
    "SpecError",
    "SubmissionFormatError",
    "Visibility",
    "cached_accuracies",
    "discover",
    "ensure_calibration",
    "grade_submission",
    "grader_data_problems",
    "kernel_profiles",
    "load_submission",
    "needs_calibration",
    "report_from_json",
    "report_to_json",
    "rescore",
    "run_calibration",
    "sweep_leftovers",
    "to_gradescope",
]
