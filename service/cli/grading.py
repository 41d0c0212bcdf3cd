"""Grading from the command line: one file, many files, folders and zips; calibrations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

import graders
from service.config import Settings

if TYPE_CHECKING:
    from service import batch as batching
from service.cli.app import _STYLE, app, console, err


def print_report(report: graders.GradeReport) -> None:
    if report.status is graders.ReportStatus.NOT_GRADABLE:
        console.print(f"[red]Not gradable:[/red] {report.reason}")
        return
    table = Table(title=f"{report.assignment_id}", show_lines=True)
    table.add_column("Question")
    table.add_column("Points", justify="right")
    table.add_column("Outcome")
    table.add_column("Feedback")
    for q in report.questions:
        points = "-" if q.outcome is graders.Outcome.MANUAL else f"{q.points:g}"
        table.add_row(f"{q.id} {q.title}", f"{points} / {q.max_points:g}",
                      f"[{_STYLE.get(q.outcome.value, 'white')}]{q.outcome.value}[/]",
                      "\n".join(q.feedback))
    console.print(table)
    console.print(f"Autograded: [bold]{report.score:g} / {report.max_score:g}[/bold]"
                  + (f"  (+{report.manual_pending:g} graded by hand)"
                     if report.manual_pending else ""))
    for event in report.execution.events:
        console.print(f"[yellow]Sandbox:[/yellow] {event.message}")
    for warning in report.execution.warnings:
        console.print(f"[yellow]Warning:[/yellow] {warning}")


@app.command()
def grade(
    submissions: Annotated[list[Path], typer.Argument(
        exists=True, readable=True,
        help="notebooks, .py files or zips; folders and zips of many submissions too")],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report (one "
                                          "submission) or the JSON summary (several)")] = False,
    notebook_out: Annotated[
        Path | None, typer.Option(help="write the executed notebook here")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=64,
                                      help="submissions graded at once")] = 1,
    summary: Annotated[Path | None, typer.Option(
        help="write one row per submission here (.csv or .json)")] = None,
    unsafe_no_sandbox: Annotated[bool, typer.Option(
        "--unsafe-no-sandbox",
        help="DEVELOPMENT ONLY: run the submission WITHOUT any sandbox")] = False,
) -> None:
    """Grade submissions offline (no server). One file: its report. Several (or a folder,
    or a zip of submissions): graded --jobs at a time on warm kernels, with a progress
    bar and a summary table. Exit 0 when everything was graded, 1 when a file could not
    be graded, 2 on an infrastructure or configuration failure, or when grader data
    (datasets, hidden sets) is missing: then the questions needing it are not graded,
    and stderr says what is missing."""
    settings = Settings(unsafe_no_sandbox=unsafe_no_sandbox) if unsafe_no_sandbox \
        else Settings()
    if unsafe_no_sandbox:
        err.print("[bold red]WARNING: --unsafe-no-sandbox: the submission runs with your "
                  "privileges and full access to this machine.[/bold red]")
    one = len(submissions) == 1 and submissions[0].is_file() and summary is None
    # one file: its kernel starts now, while the assignment loads and the file is parsed
    early = _early_kernel(settings, submissions[0]) if one else None
    try:
        _grade_command(settings, submissions, assignment, as_json, notebook_out, jobs,
                       summary, early, one)
    finally:
        if early is not None:
            early.close()


def _early_kernel(settings: Settings, submission: Path) -> graders.KernelPool | None:
    pool = settings.kernel_pool(per_profile=1, refill=False)
    if pool is not None:
        torch = b"torch" in submission.read_bytes()
        pool.warm(graders.KernelProfile.of(settings.limits(), ("numpy", "torch", "torchvision")
                                   if torch else ("numpy",)))
    return pool


def _grade_command(settings: Settings, submissions: list[Path], assignment: str,
                   as_json: bool, notebook_out: Path | None, jobs: int, summary: Path | None,
                   early: graders.KernelPool | None, one: bool) -> None:
    catalog = graders.discover(settings.reference_dir)
    if assignment not in catalog:
        err.print(f"unknown assignment {assignment!r}; known: {', '.join(sorted(catalog))}")
        raise typer.Exit(2)
    loaded = catalog[assignment]
    missing = graders.grader_data_problems(loaded, datasets_dir=settings.datasets_dir,
                                           hidden_dir=settings.hidden_dir,
                                           weights_dir=settings.weights_dir)
    for problem in missing:
        err.print(f"[red]missing grader data:[/red] {problem}")
    from service import batch as batching

    try:
        items = batching.collect(submissions)
    except (ValueError, OSError) as exc:
        err.print(f"[red]could not read the submissions:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        config, limits = settings.sandbox_config(), settings.limits()
        calibration = None if missing else graders.ensure_calibration(
            loaded, config=config, limits=limits, hidden_dir=settings.hidden_dir)
        if one and len(items) == 1:
            _grade_one(items[0], loaded, settings, calibration, as_json, notebook_out, early)
        else:
            _grade_many(items, loaded, settings, calibration, jobs, as_json, summary)
    except graders.GraderError as exc:
        kind = "configuration" if isinstance(exc, graders.ConfigurationError) else "infrastructure"
        err.print(f"[red]grading failed ({kind}):[/red] {exc}")
        raise typer.Exit(2) from None
    if missing:
        err.print("[red]questions needing that data were not graded (exit 2)[/red]")
        raise typer.Exit(2)
    raise typer.Exit(0)


def _grade_one(item: batching.BatchItem, loaded: graders.LoadedAssignment, settings: Settings,
               calibration: dict[str, float] | None, as_json: bool,
               notebook_out: Path | None, early: graders.KernelPool | None) -> None:
    """The one-shot path: the full report (on the kernel started early, if it fits)."""
    config = settings.sandbox_config()
    grader = graders.Grader(loaded, config, settings.limits(), settings.hidden_dir,
                            calibration, graders.SandboxExecutor(config, early))
    graded = grader.grade(item.data, item.filename)
    if notebook_out is not None and graded.notebook is not None:
        import nbformat

        notebook_out.write_text(nbformat.writes(graded.notebook))
    if as_json:
        typer.echo(graders.report_to_json(graded.report, indent=2))
    else:
        print_report(graded.report)
    if graded.report.status is not graders.ReportStatus.GRADED:
        raise typer.Exit(1)


def _grade_many(items: list[batching.BatchItem], loaded: graders.LoadedAssignment,
                settings: Settings, calibration: dict[str, float] | None, jobs: int, as_json: bool,
                summary: Path | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from service import batch as batching

    if not items:
        err.print("no submissions found (.ipynb, .py or .zip)")
        raise typer.Exit(1)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=not err.is_terminal) as progress:
        task = progress.add_task(f"grading {loaded.spec.id}", total=len(items))
        results = batching.grade_batch(items, assignment=loaded, settings=settings, jobs=jobs,
                              calibration=calibration,
                              on_done=lambda _: progress.advance(task))
    if summary is not None:
        batching.write_summary(results, summary)
    if as_json:
        typer.echo(json.dumps([batching.as_row(r) for r in results], indent=2))
    else:
        table = Table(title=f"{loaded.spec.id}: {len(results)} submissions")
        for column in ("Submission", "Status", "Score", "Warm", "Seconds", "Reason"):
            table.add_column(column)
        for r in results:
            score = "-" if r.score is None else f"{r.score:g} / {r.max_score:g}"
            table.add_row(r.name, r.status.value, score, "yes" if r.warm_kernel else "no",
                          f"{r.seconds:.1f}", r.reason or "")
        console.print(table)
    if any(r.status is batching.ItemStatus.FAILED for r in results):
        raise typer.Exit(2)
    if any(r.status is batching.ItemStatus.NOT_GRADABLE for r in results):
        raise typer.Exit(1)


@app.command("calibrate")
def calibrate_command(
    assignment: Annotated[str, typer.Argument(help="the assignment id")],
) -> None:
    """Measure the reference notebook's accuracies on this deployment's data (cached per
    data version). Exit 0 when the calibration is valid, 2 otherwise."""
    settings = Settings()
    catalog = graders.discover(settings.reference_dir)
    if assignment not in catalog:
        err.print(f"unknown assignment {assignment!r}; known: {', '.join(sorted(catalog))}")
        raise typer.Exit(2)
    try:
        measured, _ = graders.run_calibration(catalog[assignment], config=settings.sandbox_config(),
                                limits=settings.limits(), hidden_dir=settings.hidden_dir)
    except graders.GraderError as exc:
        err.print(f"[red]calibration failed:[/red] {exc}")
        raise typer.Exit(2) from None
    for key, value in sorted(measured.items()):
        console.print(f"{key}: reference accuracy {100 * value:.1f}%")


@app.command()
def assignments() -> None:
    """List the bundled assignments."""
    for loaded in graders.discover(Settings().reference_dir).values():
        spec = loaded.spec
        console.print(f"{spec.id}: {spec.title} ({spec.autograded_points:g} autograded, "
                      f"{spec.manual_points:g} manual)")
