"""The ``autograder`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from graders.catalog import discover
from graders.errors import GraderError
from graders.grade import grade_submission
from graders.results import GradeReport, Outcome, ReportStatus, report_to_json
from service.config import Settings

app = typer.Typer(help="ml-autograder: grade machine-learning homework in a sandbox.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

_STYLE = {
    Outcome.PASSED: "green", Outcome.PARTIAL: "yellow", Outcome.FAILED: "red",
    Outcome.ERRORED: "red", Outcome.TIMED_OUT: "red", Outcome.MISSING: "red",
    Outcome.MANUAL: "cyan",
}


def print_report(report: GradeReport) -> None:
    if report.status is ReportStatus.NOT_GRADABLE:
        console.print(f"[red]Not gradable:[/red] {report.reason}")
        return
    table = Table(title=f"{report.assignment_id}", show_lines=True)
    table.add_column("Question")
    table.add_column("Points", justify="right")
    table.add_column("Outcome")
    table.add_column("Feedback")
    for q in report.questions:
        points = "-" if q.outcome is Outcome.MANUAL else f"{q.points:g}"
        table.add_row(f"{q.id} {q.title}", f"{points} / {q.max_points:g}",
                      f"[{_STYLE[q.outcome]}]{q.outcome.value}[/]", "\n".join(q.feedback))
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
    submission: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report")] = False,
    notebook_out: Annotated[
        Path | None, typer.Option(help="write the executed notebook here")] = None,
    unsafe_no_sandbox: Annotated[bool, typer.Option(
        "--unsafe-no-sandbox",
        help="DEVELOPMENT ONLY: run the submission WITHOUT any sandbox")] = False,
) -> None:
    """Grade one submission offline (no server). Exit 0 when graded, 1 when the file
    could not be graded, 2 on an infrastructure failure."""
    settings = Settings(unsafe_no_sandbox=unsafe_no_sandbox) if unsafe_no_sandbox \
        else Settings()
    if unsafe_no_sandbox:
        err.print("[bold red]WARNING: --unsafe-no-sandbox: the submission runs with your "
                  "privileges and full access to this machine.[/bold red]")
    catalog = discover(settings.reference_dir)
    if assignment not in catalog:
        err.print(f"unknown assignment {assignment!r}; known: {', '.join(sorted(catalog))}")
        raise typer.Exit(2)
    try:
        graded = grade_submission(
            submission.read_bytes(), submission.name, assignment=catalog[assignment],
            config=settings.sandbox_config(), limits=settings.limits(),
        )
    except GraderError as exc:
        err.print(f"[red]grading failed (infrastructure):[/red] {exc}")
        raise typer.Exit(2) from None
    if notebook_out is not None and graded.notebook is not None:
        import nbformat

        notebook_out.write_text(nbformat.writes(graded.notebook))
    if as_json:
        typer.echo(report_to_json(graded.report, indent=2))
    else:
        print_report(graded.report)
    raise typer.Exit(0 if graded.report.status is ReportStatus.GRADED else 1)


@app.command()
def assignments() -> None:
    """List the bundled assignments."""
    for loaded in discover(Settings().reference_dir).values():
        spec = loaded.spec
        console.print(f"{spec.id}: {spec.title} ({spec.autograded_points:g} autograded, "
                      f"{spec.manual_points:g} manual)")


@app.command()
def serve() -> None:
    """Start the HTTP service (not yet implemented: see README)."""
    err.print("The HTTP service is not implemented yet; use `autograder grade` offline.")
    raise typer.Exit(1)


if __name__ == "__main__":
    app()
