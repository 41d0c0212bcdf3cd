"""``Grader``: one assignment version, ready to grade. Built once per assignment version
(the spec, the reference, the model requests its checks ask the kernel for, the
calibration, the limits, the sandbox), then ``grade`` for each submission and
``rescore`` for each stored report. The service's workers, the CLI, batch grading and
the benchmarks all grade through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graders.catalog import LoadedAssignment
from graders.pipeline.grade import Graded, grade_submission, rescore
from graders.results import GradeReport
from graders.runner.executor import Executor
from graders.sandbox.config import Limits, SandboxConfig


@dataclass(frozen=True)
class Grader:
    assignment: LoadedAssignment
    config: SandboxConfig
    limits: Limits
    # the hidden test sets (read here, never mounted) and the reference accuracies that
    # trained-model questions are scored against
    hidden_dir: Path | None = None
    calibration: dict[str, float] | None = None
    executor: Executor | None = None

    @classmethod
    def calibrated(cls, assignment: LoadedAssignment, *, config: SandboxConfig,
                   limits: Limits, hidden_dir: Path | None,
                   executor: Executor | None = None) -> Grader:
        """A grader with its calibration: the cached one, measured now when missing
        (waiting for a calibration already running elsewhere)."""
        from graders.calibrate import ensure_calibration

        calibration = ensure_calibration(assignment, config=config, limits=limits,
                                         hidden_dir=hidden_dir)
        return cls(assignment, config, limits, hidden_dir, calibration, executor)

    def grade(self, data: bytes, filename: str, *, seed: int | None = None,
              sha256: str | None = None) -> Graded:
        """Grade one submission end to end. Student faults are in the report; ours raise.
        ``sha256``: the bytes' hash when already known (read verified from storage)."""
        return grade_submission(data, filename, assignment=self.assignment,
                                config=self.config, limits=self.limits, seed=seed,
                                sha256=sha256,
                                hidden_dir=self.hidden_dir, calibration=self.calibration,
                                executor=self.executor)

    def rescore(self, report: GradeReport) -> GradeReport:
        """A stored report under this version's rubric; nothing runs."""
        return rescore(report, self.assignment, hidden_dir=self.hidden_dir,
                       calibration=self.calibration)
