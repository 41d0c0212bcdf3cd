"""grade_submission(): intake -> plan -> execute -> score -> report; and rescore().

The calibration (reference accuracies for trained-model questions) is an input: it is
measured explicitly (``graders.calibrate``), never inside a student's grading.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from nbformat import NotebookNode

from graders.catalog import LoadedAssignment, grader_data_problems
from graders.checks import kind_of
from graders.errors import CalibrationMissingError, SpecError, SubmissionFormatError
from graders.evidence import EvidenceRecord, handed_in
from graders.inputs import PlannedCall, derive_seed, fingerprint, plan_calls
from graders.pipeline.budget import decide, limits_for
from graders.pipeline.intake import Submission, load_submission
from graders.pipeline.machine import run_environment
from graders.pipeline.model_plan import plan_models, write_requests
from graders.pipeline.notebook import summarise_cells, truncate_outputs
from graders.pipeline.overlay import overlay_package
from graders.pipeline.staging import stage_files, write_plan
from graders.results import (
    AppliedLimits,
    ExecutionSummary,
    GradeReport,
    Outcome,
    QuestionResult,
    ReportStatus,
    Timings,
)
from graders.runner.execute import Execution, ProbeRequest
from graders.runner.executor import Executor, SandboxExecutor
from graders.runner.pool import KernelProfile
from graders.sandbox.config import Limits, SandboxConfig
from graders.scoring.questions import MISSING_DATA, ModelContext, ReferenceCache, score_question
from graders.spec import Assignment
from graders.version import ENGINE_VERSION


@dataclass(frozen=True)
class Graded:
    report: GradeReport
    notebook: NotebookNode | None
    # accuracies measured when grading the reference itself (calibration)
    measured: dict[str, float] = field(default_factory=dict)


def needs_calibration(assignment: LoadedAssignment) -> bool:
    """Some check scores a trained model on hidden images against the reference's."""
    return any(kind_of(c).hidden_sets(c)
               for q in assignment.spec.questions for c in q.checks)


def grade_submission(
    data: bytes,
    filename: str,
    *,
    assignment: LoadedAssignment,
    config: SandboxConfig,
    limits: Limits,
    seed: int | None = None,
    hidden_dir: Path | None = None,
    calibration: dict[str, float] | None = None,
    calibrating: bool = False,
    executor: Executor | None = None,
    sha256: str | None = None,
) -> Graded:
    """Grade one submission end to end. Student faults are in the report; ours raise.

    ``hidden_dir`` holds the hidden test sets of trained-model questions (never mounted);
    ``calibration`` the reference accuracies those questions are scored against (see
    ``graders.calibrate``); ``calibrating`` grades the reference notebook to measure them.
    """
    spec = assignment.spec
    started = time.perf_counter()
    try:
        submission = overlay_package(load_submission(data, filename, sha256=sha256),
                                     filename, data,
                                     spec.overlay)
    except SubmissionFormatError as exc:
        return Graded(GradeReport.not_gradable(
            assignment_id=spec.id, assignment_version=spec.version,
            engine_version=ENGINE_VERSION, reason=str(exc)), None)
    missing = grader_data_problems(assignment, datasets_dir=config.datasets_dir,
                                   hidden_dir=hidden_dir, weights_dir=config.weights_dir)
    if missing:
        hidden_dir = None  # incomplete: the questions that need it are not graded
    elif calibration is None and not calibrating and needs_calibration(assignment):
        raise CalibrationMissingError(
            f"{spec.id} has accuracy questions and no calibration: run "
            f"`autograder calibrate {spec.id}` first")
    seed = derive_seed(submission.sha256, spec.id) if seed is None else seed
    calls = plan_calls(spec, seed, max_call_s=limits.call_timeout_s)
    requests, _ = plan_models(spec, assignment.solution)
    if missing:
        requests = [r for r in requests if not r.hidden]
    budget = decide(assignment, limits, submission.notebook, calls, requests)
    executor = executor or SandboxExecutor(config)
    config.jobs_root.mkdir(parents=True, exist_ok=True)
    # the grader's pid in the name: a sweep can tell when its owner is gone
    job = Path(tempfile.mkdtemp(prefix=f"job-{os.getpid()}-", dir=config.jobs_root))
    try:
        (job / "probe").mkdir()
        models = write_requests(job / "probe", requests, hidden_dir)
        write_plan(job / "probe", calls, spec.symbols, models)
        staged = stage_files(job / "files", assignment.path / "support",
                             submission.attachments)
        execution = executor.execute(
            submission.notebook, job=job, limits=budget.limits, seed=seed,
            request=ProbeRequest(
                symbols=spec.symbols, budget_s=budget.probe_s,
                call_limit_s=budget.call_default_s, call_limits=dict(budget.calls),
                preload=preload_for(assignment, submission)),
            cell_timeouts=dict(budget.sections))
    finally:
        shutil.rmtree(job, ignore_errors=True)
    t_compare = time.perf_counter()
    evidence = EvidenceRecord(
        seed=seed, inputs_fingerprint=fingerprint(calls, requests),
        submission_sha256=submission.sha256, candidates=tuple(execution.candidates),
        probes=tuple(execution.records), cells=tuple(summarise_cells(execution.notebook)),
        cell_records=tuple(execution.cells),
        handed_in=handed_in(staged),
        tampered=execution.tampered, missing_data=tuple(missing))
    questions = score_evidence(assignment, evidence, hidden_dir=hidden_dir,
                               calibration=calibration, calibrating=calibrating, calls=calls)
    summary = _summary(execution, config, budget.limits, budget.applied, staged,
                       compare_s=time.perf_counter() - t_compare,
                       total_s=time.perf_counter() - started)
    report = GradeReport(
        assignment_id=spec.id, assignment_version=spec.version,
        engine_version=ENGINE_VERSION, status=ReportStatus.GRADED, seed=seed,
        submission_sha256=submission.sha256, inputs_fingerprint=evidence.inputs_fingerprint,
        questions=questions,
        execution=summary.model_copy(update={"tampered": evidence.tampered,
                                             "missing_data": list(evidence.missing_data)}),
        candidates=list(evidence.candidates), probes=list(evidence.probes),
        cells=list(evidence.cells))
    return Graded(report, truncate_outputs(execution.notebook), measured(questions))


def measured(questions: list[QuestionResult]) -> dict[str, float]:
    """What the checks measured, keyed as the calibration is ("<question>:<check>"), and
    what an untrained copy of each measured network reached ("<question>:<check>:untrained")."""
    found = {f"{q.id}:{i}": c.measured for q in questions
             for i, c in enumerate(q.checks) if c.measured is not None}
    found.update({f"{q.id}:{i}:untrained": c.untrained for q in questions
                  for i, c in enumerate(q.checks) if c.untrained is not None})
    found.update({f"{q.id}:{i}{suffix}": value for q in questions
                  for i, c in enumerate(q.checks)
                  for suffix, value in c.measured_elsewhere.items()})
    return found


NUMPY_ONLY = ("numpy",)
WITH_TORCH = ("numpy", "torch", "torchvision")
_IMPORTED = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.MULTILINE)


def preload_for(assignment: LoadedAssignment, submission: Submission) -> tuple[str, ...]:
    """What the warm kernel for this submission has imported ahead: torch and
    torchvision only where a model question exists and the notebook (or a course or
    student module it imports) mentions torch. A wrong guess costs time, never marks:
    the notebook imports what it needs either way."""
    if not _grades_models(assignment):
        return NUMPY_ONLY
    source = "\n".join(c.source for c in submission.notebook.cells if c.cell_type == "code")
    if "torch" in source:
        return WITH_TORCH
    support = assignment.path / "support"
    for name in set(_IMPORTED.findall(source)):
        text = submission.attachments.get(f"{name}.py")
        if text is None and (support / f"{name}.py").is_file():
            text = (support / f"{name}.py").read_bytes()
        if text is not None and b"torch" in text:
            return WITH_TORCH
    return NUMPY_ONLY


def _claimed(spec: Assignment, context: ModelContext) -> tuple[tuple[str, frozenset[int]], ...]:
    """For each question, the cells its own heading claims (its plot checks may name
    their own headings): a question whose heading is not found may not take another
    question's figures or calls."""
    out = []
    for question in spec.questions:
        if question.manual:
            continue
        patterns = {None, *(getattr(c, "section", None) for c in question.checks
                            if kind_of(c).name == "plot")}
        cells: set[int] = set()
        for pattern in patterns:
            section = context.for_question(question).section(pattern)
            if section.found and section.how != "whole notebook":
                cells |= {c.index for c in section.cells}
        if cells:
            out.append((question.id, frozenset(cells)))
    return tuple(out)


def _architectures(spec: Assignment) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """Each architecture check's question and layers, in order (see ModelContext)."""
    return tuple((q.id, tuple(getattr(c, "layers", ()))) for q in spec.questions
                 for c in q.checks if kind_of(c).name == "architecture")


def kernel_profiles(assignment: LoadedAssignment, limits: Limits) -> list[KernelProfile]:
    """The warm-kernel profiles this assignment's submissions may ask for."""
    effective, _ = limits_for(assignment, limits)
    return [KernelProfile.of(effective, p) for p in
            ((NUMPY_ONLY, WITH_TORCH) if _grades_models(assignment) else (NUMPY_ONLY,))]


def _grades_models(assignment: LoadedAssignment) -> bool:
    return any(kind_of(c).grades_models for q in assignment.spec.questions
               for c in q.checks)


def _summary(execution: Execution, config: SandboxConfig, limits: Limits,
             applied: AppliedLimits, staged: dict[str, str], *, compare_s: float,
             total_s: float) -> ExecutionSummary:
    warnings = list(execution.warnings)
    if applied.cell_source != "assignment" or applied.total_source != "assignment":
        warnings.append(
            f"time limits lowered by the deployment: {_seconds(applied.cell_timeout_s)} per "
            f"cell, {_seconds(applied.total_timeout_s)} in total")
    return ExecutionSummary(
        cells=execution.cells, kernel_starts=execution.kernel_starts,
        warm_kernel=execution.warm_kernel, events=execution.events,
        timings=Timings(
            sandbox_start_s=round(execution.sandbox_start_s, 4),
            kernel_start_s=round(execution.kernel_start_s, 4),
            execute_s=round(execution.execute_s, 4),
            probes_s=round(execution.probes_s, 4),
            compare_s=round(compare_s, 4), total_s=round(total_s, 4)),
        peak_memory_bytes=execution.peak_memory_bytes,
        sandboxed=config.mode.value != "unsafe", warnings=warnings, limits=applied,
        files=staged, environment=run_environment(config, limits))


def _tampered(result: QuestionResult) -> QuestionResult:
    return result.model_copy(update={
        "points": 0.0, "outcome": Outcome.ERRORED,
        "checks": [c.model_copy(update={"points": 0.0}) for c in result.checks],
        "feedback": ["not graded: the notebook tampered with the grading kernel (it changed "
                     "how the grader's own code runs), so its answers could not be checked; "
                     "your course staff have been told"]})


def _seconds(value: float) -> str:
    return "no limit" if math.isinf(value) else f"{value:g} s"


def score_evidence(
    assignment: LoadedAssignment, evidence: EvidenceRecord, *, hidden_dir: Path | None,
    calibration: Mapping[str, float] | None, calibrating: bool = False,
    calls: list[PlannedCall] | None = None,
) -> list[QuestionResult]:
    """Every question's result from the evidence alone: what grading and re-scoring both
    do once the run is over. Nothing here runs, and no scorer sees another's state.

    Refuses (``SpecError``) when the spec would now plan other inputs: the stored answers
    no longer answer its questions and the submission must re-run.
    """
    spec = assignment.spec
    requests, answers = plan_models(spec, assignment.solution)
    if calls is None:
        calls = plan_calls(spec, evidence.seed)
        if fingerprint(calls, requests) != evidence.inputs_fingerprint:
            raise SpecError("the rubric changed the probe inputs or what the kernel is "
                            "asked: this submission must be re-run")
    context = ModelContext(
        hidden_dir=None if evidence.missing_data else hidden_dir,
        calibration=calibration or {}, cells=evidence.cells, calibrating=calibrating,
        records=evidence.cell_records, handed_in=evidence.handed_in,
        prompts=tuple(q.prompt for q in spec.questions if q.prompt),
        questions=tuple(spec.questions))
    context = replace(context, claimed=_claimed(spec, context),
                      architectures=_architectures(spec),
                      values=tuple(c for q in spec.questions for c in q.checks
                                   if kind_of(c).name == "value"))
    cache = ReferenceCache(assignment.solution)
    missing = list(evidence.missing_data)
    questions = [
        # without the grader's data, checks that need it wait (not a zero)
        score_question(q, candidates=list(evidence.candidates), calls=calls,
                       records=list(evidence.probes), cache=cache, models=context,
                       answers=answers, missing=missing)
        for q in spec.questions
    ]
    if evidence.tampered:
        questions = [_tampered(q) if spec.question(q.id).symbols else q for q in questions]
    return questions


def rescore(report: GradeReport, assignment: LoadedAssignment,
            hidden_dir: Path | None = None,
            calibration: dict[str, float] | None = None) -> GradeReport:
    """The stored evidence under the assignment's current rubric; nothing runs."""
    if report.status is not ReportStatus.GRADED or report.seed is None:
        return report
    questions = score_evidence(assignment, EvidenceRecord.of(report), hidden_dir=hidden_dir,
                               calibration=calibration)
    # a question the grader could not grade (its data was missing) has no outputs to
    # re-score: it stays ungraded until the submission re-runs (reports stored before
    # the evidence kept what was missing say so only in their feedback). One that waited
    # for a calibration is scored again: its outputs are there.
    before = {q.id: q for q in report.questions if q.outcome is Outcome.UNGRADED
              and q.feedback and q.feedback[0].startswith(MISSING_DATA)}
    questions = [before.get(q.id, q) for q in questions]
    return report.model_copy(update={
        "questions": questions, "assignment_version": assignment.spec.version,
        "engine_version": ENGINE_VERSION,
    })
