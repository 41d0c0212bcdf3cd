"""grade_submission(): prepare -> execute -> probe -> compare -> report; and rescore()."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from graders import ENGINE_VERSION
from graders.catalog import LoadedAssignment
from graders.checks import ReferenceCache, score_question
from graders.errors import SpecError, SubmissionFormatError
from graders.execute import Execution, ProbeRequest, run_submission_sync
from graders.inputs import PlannedCall, derive_seed, fingerprint, plan_calls
from graders.results import (
    ExecutionSummary,
    GradeReport,
    QuestionResult,
    ReportStatus,
    Timings,
)
from graders.sandbox import Limits, SandboxConfig
from graders.submission import load_submission
from graders.values import encode_input

MAX_OUTPUT_BYTES_PER_CALL = 8 * 1024 * 1024
ARTIFACT_TEXT_CAP = 20_000


@dataclass(frozen=True)
class Graded:
    report: GradeReport
    notebook: NotebookNode | None


def limits_for(assignment: LoadedAssignment, base: Limits) -> Limits:
    """The assignment's time limits, never above what the operator configured."""
    from dataclasses import replace

    return replace(
        base,
        cell_timeout_s=min(base.cell_timeout_s, assignment.spec.cell_timeout_s),
        total_timeout_s=min(base.total_timeout_s, assignment.spec.total_timeout_s),
    )


def _write_plan(directory: Path, calls: list[PlannedCall], symbols: tuple[str, ...]) -> None:
    counter = [0]
    plan = {
        "symbols": list(symbols),
        "max_output_bytes": MAX_OUTPUT_BYTES_PER_CALL,
        "calls": [
            {
                "id": c.call_id,
                "symbol": c.symbol,
                "timeout_s": c.timeout_s,
                "args": [encode_input(a, directory, counter) for a in c.args],
            }
            for c in calls
        ],
    }
    (directory / "plan.json").write_text(json.dumps(plan))


def _write_attachments(directory: Path, files: dict[str, bytes]) -> None:
    """Helper files from a zip (paths already checked by unpack_zip), readable by all."""
    directory.mkdir(mode=0o755)
    for name, content in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        target.write_bytes(content)
        target.chmod(0o644)
    for sub in directory.rglob("*"):
        if sub.is_dir():
            sub.chmod(0o755)


def _probe_budget(calls: list[PlannedCall]) -> float:
    # Each candidate may take every call's limit; a few candidates at most in practice.
    return 30.0 + 2.0 * sum(c.timeout_s for c in calls)


def grade_submission(
    data: bytes,
    filename: str,
    *,
    assignment: LoadedAssignment,
    config: SandboxConfig,
    limits: Limits,
    seed: int | None = None,
) -> Graded:
    """Grade one submission end to end. Student faults are in the report; ours raise."""
    spec = assignment.spec
    started = time.perf_counter()
    try:
        submission = load_submission(data, filename)
    except SubmissionFormatError as exc:
        return Graded(GradeReport.not_gradable(
            assignment_id=spec.id, assignment_version=spec.version,
            engine_version=ENGINE_VERSION, reason=str(exc),
        ), None)
    seed = derive_seed(submission.sha256, spec.id) if seed is None else seed
    calls = plan_calls(spec, seed, max_call_s=limits.call_timeout_s)
    config.jobs_root.mkdir(parents=True, exist_ok=True)
    job = Path(tempfile.mkdtemp(prefix="job-", dir=config.jobs_root))
    try:
        (job / "probe").mkdir()
        _write_plan(job / "probe", calls, spec.symbols)
        if submission.attachments:
            _write_attachments(job / "files", submission.attachments)
        execution = run_submission_sync(
            submission.notebook,
            job=job,
            config=config,
            limits=limits_for(assignment, limits),
            request=ProbeRequest(
                symbols=spec.symbols,
                budget_s=_probe_budget(calls),
                call_limit_s=max((c.timeout_s for c in calls), default=1.0),
            ),
            seed=seed,
        )
    finally:
        shutil.rmtree(job, ignore_errors=True)
    t_compare = time.perf_counter()
    questions = score(assignment, calls, execution)
    compare_s = time.perf_counter() - t_compare
    report = GradeReport(
        assignment_id=spec.id,
        assignment_version=spec.version,
        engine_version=ENGINE_VERSION,
        status=ReportStatus.GRADED,
        seed=seed,
        submission_sha256=submission.sha256,
        inputs_fingerprint=fingerprint(calls),
        questions=questions,
        execution=ExecutionSummary(
            cells=execution.cells,
            kernel_starts=execution.kernel_starts,
            events=execution.events,
            timings=Timings(
                sandbox_start_s=round(execution.sandbox_start_s, 4),
                kernel_start_s=round(execution.kernel_start_s, 4),
                execute_s=round(execution.execute_s, 4),
                probes_s=round(execution.probes_s, 4),
                compare_s=round(compare_s, 4),
                total_s=round(time.perf_counter() - started, 4),
            ),
            peak_memory_bytes=execution.peak_memory_bytes,
            sandboxed=config.mode.value != "unsafe",
            warnings=execution.warnings,
        ),
        candidates=execution.candidates,
        probes=execution.records,
    )
    return Graded(report, truncate_outputs(execution.notebook))


def score(
    assignment: LoadedAssignment, calls: list[PlannedCall], execution: Execution
) -> list[QuestionResult]:
    cache = ReferenceCache(assignment.solution)
    return [
        score_question(q, candidates=execution.candidates, calls=calls,
                       records=execution.records, cache=cache)
        for q in assignment.spec.questions
    ]


def rescore(report: GradeReport, assignment: LoadedAssignment) -> GradeReport:
    """Score stored probe outputs under the assignment's current rubric; nothing runs.

    Refuses (``SpecError``) when the current spec would generate different inputs: then
    the stored outputs no longer answer its questions and the submission must re-run.
    """
    if report.status is not ReportStatus.GRADED or report.seed is None:
        return report
    calls = plan_calls(assignment.spec, report.seed)
    if fingerprint(calls) != report.inputs_fingerprint:
        raise SpecError("the rubric changed the probe inputs: this submission must be re-run")
    cache = ReferenceCache(assignment.solution)
    questions = [
        score_question(q, candidates=report.candidates, calls=calls, records=report.probes,
                       cache=cache)
        for q in assignment.spec.questions
    ]
    return report.model_copy(update={
        "questions": questions, "assignment_version": assignment.spec.version,
        "engine_version": ENGINE_VERSION,
    })


def truncate_outputs(nb: NotebookNode) -> NotebookNode:
    """The executed notebook kept as an artifact, with long text outputs cut."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and len(out.get("text", "")) > ARTIFACT_TEXT_CAP:
                out["text"] = out["text"][:ARTIFACT_TEXT_CAP] + "\n[... output truncated ...]\n"
            if out.get("output_type") == "error":
                out["traceback"] = out.get("traceback", [])[-20:]
    return nb
