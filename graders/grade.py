"""grade_submission(): prepare -> execute -> probe -> compare -> report; and rescore()."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from graders import ENGINE_VERSION
from graders.catalog import LoadedAssignment
from graders.checks import ModelContext, ReferenceCache, score_question
from graders.errors import SpecError, SubmissionFormatError
from graders.execute import ProbeRequest, run_submission_sync
from graders.inputs import PlannedCall, derive_seed, fingerprint, plan_calls
from graders.model_plan import MODEL_TIMEOUT_S, plan_models, write_requests
from graders.results import (
    Candidate,
    CellSummary,
    ExecutionSummary,
    GradeReport,
    ProbeRecord,
    QuestionResult,
    ReportStatus,
    Timings,
)
from graders.sandbox import Limits, SandboxConfig
from graders.spec import Assignment, ModelAccuracyCheck
from graders.submission import load_submission
from graders.values import encode_input

MAX_OUTPUT_BYTES_PER_CALL = 8 * 1024 * 1024
ARTIFACT_TEXT_CAP = 20_000
CELL_TEXT_CAP = 8_000
CELL_SOURCE_CAP = 20_000


@dataclass(frozen=True)
class Graded:
    report: GradeReport
    notebook: NotebookNode | None
    # accuracies measured when grading the reference itself (calibration)
    measured: dict[str, float] = field(default_factory=dict)


def limits_for(assignment: LoadedAssignment, base: Limits) -> Limits:
    """The assignment's time limits, never above what the operator configured."""
    from dataclasses import replace

    spec = assignment.spec
    return replace(
        base,
        cell_timeout_s=min(base.cell_timeout_s, spec.cell_timeout_s),
        total_timeout_s=min(base.total_timeout_s, spec.total_timeout_s),
        memory_bytes=max(base.memory_bytes, spec.memory_bytes or 0),
    )


def _write_plan(directory: Path, calls: list[PlannedCall], symbols: tuple[str, ...],
                models: list[dict[str, Any]]) -> None:
    counter = [0]
    plan = {
        "symbols": list(symbols),
        "models": models,
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
    hidden_dir: Path | None = None,
    calibrating: bool = False,
) -> Graded:
    """Grade one submission end to end. Student faults are in the report; ours raise.

    ``hidden_dir`` holds the hidden test sets of trained-model questions (never mounted);
    ``calibrating`` grades the reference notebook to measure the reference accuracies.
    """
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
    requests, answers = plan_models(spec)
    calibration: dict[str, float] = {}
    if not calibrating and any(isinstance(c, ModelAccuracyCheck)
                               for q in spec.questions for c in q.checks):
        from graders.calibrate import reference_accuracies

        calibration = reference_accuracies(assignment, config=config, limits=limits,
                                           hidden_dir=hidden_dir)
    config.jobs_root.mkdir(parents=True, exist_ok=True)
    job = Path(tempfile.mkdtemp(prefix="job-", dir=config.jobs_root))
    try:
        (job / "probe").mkdir()
        models = write_requests(job / "probe", requests, hidden_dir)
        _write_plan(job / "probe", calls, spec.symbols, models)
        if submission.attachments:
            _write_attachments(job / "files", submission.attachments)
        execution = run_submission_sync(
            submission.notebook,
            job=job,
            config=config,
            limits=limits_for(assignment, limits),
            request=ProbeRequest(
                symbols=spec.symbols,
                budget_s=_probe_budget(calls) + MODEL_TIMEOUT_S * len(requests),
                call_limit_s=max((c.timeout_s for c in calls), default=1.0),
            ),
            seed=seed,
            cell_timeouts=section_budgets(submission.notebook, spec),
        )
    finally:
        shutil.rmtree(job, ignore_errors=True)
    t_compare = time.perf_counter()
    cells = summarise_cells(execution.notebook)
    context = ModelContext(hidden_dir=hidden_dir, calibration=calibration, cells=cells,
                           calibrating=calibrating, records=execution.cells)
    questions = score(assignment, calls, execution.candidates, execution.records, context,
                      answers)
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
        cells=cells,
    )
    return Graded(report, truncate_outputs(execution.notebook), context.measured)


def score(
    assignment: LoadedAssignment, calls: list[PlannedCall], candidates: list[Candidate],
    records: list[ProbeRecord], context: ModelContext, answers: dict[tuple[str, int], str],
) -> list[QuestionResult]:
    cache = ReferenceCache(assignment.solution)
    return [
        score_question(q, candidates=candidates, calls=calls, records=records, cache=cache,
                       models=context, answers=answers)
        for q in assignment.spec.questions
    ]


def section_budgets(nb: NotebookNode, spec: Assignment) -> dict[int, float]:
    """Per-cell time limits from the questions' own budgets (by their sections)."""
    from graders.checks.models import section_cells

    cells = summarise_cells(nb)
    budgets: dict[int, float] = {}
    for question in spec.questions:
        if question.section and question.budget_s:
            for cell in section_cells(cells, question.section):
                budgets[cell.index] = question.budget_s
    return budgets


def summarise_cells(nb: NotebookNode) -> list[CellSummary]:
    """Headings, image counts and printed text per cell (text capped, its end kept)."""
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            # the last heading: the cells below belong to the most specific one
            heading = next((line for line in reversed(cell.source.splitlines())
                            if line.lstrip().startswith("#")), None)
            level = len(heading) - len(heading.lstrip().lstrip("#")) if heading else 0
            out.append(CellSummary(index=index, kind="markdown",
                                   heading=heading.strip("# ").strip() if heading else None,
                                   level=level))
            continue
        if cell.cell_type != "code":
            continue
        images, text = 0, []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            images += sum(1 for mime in data if mime.startswith("image/"))
            if output.get("output_type") == "stream":
                text.append(output.get("text", ""))
            elif "text/plain" in data:
                text.append(str(data["text/plain"]))
        out.append(CellSummary(index=index, kind="code", images=images,
                               text="".join(text)[-CELL_TEXT_CAP:],
                               source=cell.source[:CELL_SOURCE_CAP]))
    return out


def rescore(report: GradeReport, assignment: LoadedAssignment,
            hidden_dir: Path | None = None,
            calibration: dict[str, float] | None = None) -> GradeReport:
    """Score stored probe outputs under the assignment's current rubric; nothing runs.

    Refuses (``SpecError``) when the current spec would generate different inputs: then
    the stored outputs no longer answer its questions and the submission must re-run.
    """
    if report.status is not ReportStatus.GRADED or report.seed is None:
        return report
    calls = plan_calls(assignment.spec, report.seed)
    if fingerprint(calls) != report.inputs_fingerprint:
        raise SpecError("the rubric changed the probe inputs: this submission must be re-run")
    _, answers = plan_models(assignment.spec)
    context = ModelContext(hidden_dir=hidden_dir, calibration=calibration or {},
                           cells=report.cells, records=report.execution.cells)
    questions = score(assignment, calls, report.candidates, report.probes, context, answers)
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
