"""The grading engine: sandboxed execution, probes, scoring and reports.

Nothing here knows about HTTP or SQL. ``service`` imports only the names below.

Layout (the trust boundary, from the student's side inwards):
``kernel/`` hostile side, injected into the student's kernel as source;
``sandbox/`` confinement only; ``runner/`` the host side of execution (nbclient);
``protocol`` the typed messages across the boundary; ``checks/`` the check kinds and
their registry (what each asks the kernel for, and how it is scored); ``scoring/`` pure
scoring;
``spec/`` the vocabulary of ``reference/*/spec.py``; ``pipeline/`` grading end to end.
"""

# The public names are loaded on first use (PEP 562): the sandbox launcher runs as
# ``python -m graders.sandbox.launcher`` before every kernel, and importing the whole
# engine there cost 0.7 s per kernel start.
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graders.calibrate import cached_accuracies, calibration_warnings, ensure_calibration
    from graders.calibrate import calibrate as run_calibration
    from graders.catalog import (
        LoadedAssignment,
        discover,
        grader_data_problems,
        load_assignment,
    )
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
        kernel_profiles,
        needs_calibration,
    )
    from graders.pipeline.grader import Grader
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
    from graders.sandbox.probe import sandbox_problem
    from graders.spec import Visibility
    from graders.version import ENGINE_VERSION

_PUBLIC: dict[str, tuple[str, str]] = {
    "CalibrationMissingError": ("graders.errors", "CalibrationMissingError"),
    "CheckResult": ("graders.results", "CheckResult"),
    "ConfigurationError": ("graders.errors", "ConfigurationError"),
    "ENGINE_VERSION": ("graders.version", "ENGINE_VERSION"),
    "GiB": ("graders.sandbox.config", "GiB"),
    "GradeReport": ("graders.results", "GradeReport"),
    "Graded": ("graders.pipeline.grade", "Graded"),
    "Grader": ("graders.pipeline.grader", "Grader"),
    "GraderError": ("graders.errors", "GraderError"),
    "InfrastructureError": ("graders.errors", "InfrastructureError"),
    "KernelPool": ("graders.runner.pool", "KernelPool"),
    "KernelProfile": ("graders.runner.pool", "KernelProfile"),
    "Limits": ("graders.sandbox.config", "Limits"),
    "LoadedAssignment": ("graders.catalog", "LoadedAssignment"),
    "MissingGraderDataError": ("graders.errors", "MissingGraderDataError"),
    "Outcome": ("graders.results", "Outcome"),
    "QuestionResult": ("graders.results", "QuestionResult"),
    "REPORT_ADAPTER": ("graders.results", "REPORT_ADAPTER"),
    "ReportStatus": ("graders.results", "ReportStatus"),
    "SandboxConfig": ("graders.sandbox.config", "SandboxConfig"),
    "SandboxExecutor": ("graders.runner.executor", "SandboxExecutor"),
    "SandboxUnavailableError": ("graders.errors", "SandboxUnavailableError"),
    "SpecError": ("graders.errors", "SpecError"),
    "SubmissionFormatError": ("graders.errors", "SubmissionFormatError"),
    "Visibility": ("graders.spec", "Visibility"),
    "cached_accuracies": ("graders.calibrate", "cached_accuracies"),
    "calibration_warnings": ("graders.calibrate", "calibration_warnings"),
    "discover": ("graders.catalog", "discover"),
    "ensure_calibration": ("graders.calibrate", "ensure_calibration"),
    "grader_data_problems": ("graders.catalog", "grader_data_problems"),
    "kernel_profiles": ("graders.pipeline.grade", "kernel_profiles"),
    "load_assignment": ("graders.catalog", "load_assignment"),
    "load_submission": ("graders.pipeline.intake", "load_submission"),
    "needs_calibration": ("graders.pipeline.grade", "needs_calibration"),
    "report_from_json": ("graders.results", "report_from_json"),
    "report_to_json": ("graders.results", "report_to_json"),
    "run_calibration": ("graders.calibrate", "calibrate"),
    "sandbox_problem": ("graders.sandbox.probe", "sandbox_problem"),
    "sweep_leftovers": ("graders.runner.workdir", "sweep_leftovers"),
    "to_gradescope": ("graders.results", "to_gradescope"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'graders' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


__all__ = [
    "ENGINE_VERSION",
    "REPORT_ADAPTER",
    "CalibrationMissingError",
    "CheckResult",
    "ConfigurationError",
    "GiB",
    "GradeReport",
    "Graded",
    "Grader",
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
    "calibration_warnings",
    "discover",
    "ensure_calibration",
    "grader_data_problems",
    "kernel_profiles",
    "load_assignment",
    "load_submission",
    "needs_calibration",
    "report_from_json",
    "report_to_json",
    "run_calibration",
    "sandbox_problem",
    "sweep_leftovers",
    "to_gradescope",
]
