"""A client of a running service: submit, regrade, export over HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from service.db.enums import RunStatus
from service.schemas import (
    AssignmentVersionOut,
    RegradeBatchOut,
    SimilarityRunOut,
    SubmissionAccepted,
    SubmissionStatus,
)

if TYPE_CHECKING:
    pass
from service.cli.app import app, console, err
from service.cli.grading import print_report


class ExportFormat(StrEnum):
    CSV = "csv"
    GRADESCOPE = "gradescope"
    CANVAS = "canvas"
    MOODLE = "moodle"


class ExportPolicy(StrEnum):
    BEST = "best"
    LATEST = "latest"


# Polling gives up after this long: the server says how to look again.
MAX_WAIT_S = 3600.0
T = TypeVar("T")


def _client(server: str, token: str | None):  # type: ignore[no-untyped-def]
    import httpx

    token = token or os.environ.get("AUTOGRADER_TOKEN")
    if not token:
        err.print("give --token or set AUTOGRADER_TOKEN")
        raise typer.Exit(2)
    return httpx.Client(base_url=server.rstrip("/") + "/api/v1", timeout=60,
                        headers={"Authorization": f"Bearer {token}"})


def _fail(response) -> None:  # type: ignore[no-untyped-def]
    if response.is_error:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        err.print(f"[red]{response.status_code}:[/red] {detail}")
        raise typer.Exit(1)


def _wait_for(fetch: Callable[[], T], finished: Callable[[T], bool], doing: str,
              look_again: str) -> T:
    """Poll a background job's state once a second until it is finished (or give up
    after ``MAX_WAIT_S``, saying where to look again)."""
    import time

    deadline = time.monotonic() + MAX_WAIT_S
    with console.status(doing):
        while not finished(found := fetch()):
            if time.monotonic() > deadline:
                err.print(f"not finished after {MAX_WAIT_S:g} s; look again with {look_again}")
                raise typer.Exit(1)
            time.sleep(1)
    return found


Server = Annotated[str, typer.Option(envvar="AUTOGRADER_SERVER")]
Token = Annotated[str | None, typer.Option(help="API token (or AUTOGRADER_TOKEN)")]


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    server: Server = "http://127.0.0.1:8000",
    token: Token = None,
    wait: Annotated[bool, typer.Option(help="wait for the report")] = True,
) -> None:
    """Upload a submission, show its progress, then the per-question table."""
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn

    from graders import REPORT_ADAPTER

    with _client(server, token) as client:
        response = client.post(f"/assignments/{assignment}/submissions",
                               files={"file": (file.name, file.read_bytes())})
        _fail(response)
        accepted = SubmissionAccepted.model_validate(response.json())
        console.print(f"submitted: {accepted.id}")
        if not wait:
            return
        deadline = time.monotonic() + MAX_WAIT_S
        with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                      console=console, transient=True) as progress:
            task = progress.add_task("queued")
            while True:
                status = client.get(f"/submissions/{accepted.id}")
                _fail(status)
                body = SubmissionStatus.model_validate(status.json())
                where = f" (position {body.queue_position})" if body.queue_position else ""
                progress.update(task, description=f"{body.status}{where}")
                if body.status in (RunStatus.GRADED, RunStatus.FAILED):
                    break
                if time.monotonic() > deadline:
                    err.print(f"still {body.status} after {MAX_WAIT_S:g} s; look again with "
                              f"GET /api/v1/submissions/{accepted.id}")
                    raise typer.Exit(1)
                time.sleep(1)
    if body.report:
        report = dict(body.report)
        report.pop("hidden_pending", None)
        for key in ("score", "max_score", "manual_pending"):
            report.pop(key, None)
        print_report(REPORT_ADAPTER.validate_python(report))
    else:
        console.print(f"[red]{body.status}:[/red] {body.reason}")


@app.command()
def regrade(
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    question: Annotated[str | None, typer.Option()] = None,
    rescore_only: Annotated[bool, typer.Option(
        "--rescore-only", help="re-score stored outputs; execute nothing")] = False,
    publish: Annotated[bool, typer.Option(help="publish once done")] = False,
    server: Server = "http://127.0.0.1:8000",
    token: Token = None,
) -> None:
    """Regrade an assignment (or one question); show old -> new scores before publishing."""
    import time

    from rich.progress import Progress

    with _client(server, token) as client:
        response = client.post(f"/assignments/{assignment}/regrade",
                               json={"question": question, "rescore_only": rescore_only})
        _fail(response)
        batch = RegradeBatchOut.model_validate(response.json())
        deadline = time.monotonic() + MAX_WAIT_S
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("regrading", total=batch.runs or 1)
            while batch.pending:
                progress.update(task, completed=batch.runs - batch.pending)
                if time.monotonic() > deadline:
                    err.print(f"{batch.pending} runs still pending after {MAX_WAIT_S:g} s; "
                              f"look again with GET /api/v1/regrades/{batch.id}")
                    raise typer.Exit(1)
                time.sleep(1)
                response = client.get(f"/regrades/{batch.id}")
                _fail(response)
                batch = RegradeBatchOut.model_validate(response.json())
        table = Table(title=f"regrade {batch.id}")
        for column in ("submission", "student", "old", "new"):
            table.add_column(column)
        for change in batch.changes:
            if change.old != change.new:
                table.add_row(change.submission_id, change.student, f"{change.old}",
                              f"{change.new}")
        console.print(table)
        for error in batch.errors:
            err.print(f"[yellow]{error}[/yellow]")
        if publish:
            _fail(client.post(f"/regrades/{batch.id}/publish"))
            console.print("published")
        else:
            console.print(f"not published: POST /api/v1/regrades/{batch.id}/publish "
                          "or rerun with --publish")


@app.command()
def export(
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    format: Annotated[ExportFormat, typer.Option(help="the gradebook's format")] = (
        ExportFormat.CSV),
    policy: Annotated[ExportPolicy, typer.Option(help="which submission counts")] = (
        ExportPolicy.LATEST),
    output: Annotated[Path | None, typer.Option("-o")] = None,
    server: Server = "http://127.0.0.1:8000",
    token: Token = None,
) -> None:
    """Download the gradebook."""
    with _client(server, token) as client:
        response = client.get(f"/assignments/{assignment}/export",
                              params={"format": format.value, "policy": policy.value})
        _fail(response)
    if output:
        output.write_bytes(response.content)
        console.print(f"wrote {output}")
    else:
        typer.echo(response.text)


@app.command()
def similarity(
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    top: Annotated[int, typer.Option(help="how many pairs to list")] = 20,
    server: Server = "http://127.0.0.1:8000",
    token: Token = None,
) -> None:
    """Compare every student's latest hand-in with every other's; list the most similar
    pairs (the dashboard's similarity page shows them side by side)."""

    with _client(server, token) as client:
        _fail(client.post(f"/assignments/{assignment}/similarity"))

        def latest() -> SimilarityRunOut:
            response = client.get(f"/assignments/{assignment}/similarity")
            _fail(response)
            return SimilarityRunOut.model_validate(response.json())

        run = _wait_for(latest, lambda r: r.status in ("done", "failed"), "comparing",
                        f"GET /api/v1/assignments/{assignment}/similarity")
    if run.status == "failed":
        err.print(f"[red]{run.error}[/red]")
        raise typer.Exit(1)
    table = Table(title=f"{assignment}: {run.submissions} hand-ins, most similar first")
    for column in ("#", "hand-in", "of it shared", "hand-in", "of it shared"):
        table.add_column(column)
    for pair in run.pairs[:top]:
        table.add_row(str(pair.rank), pair.a.who, f"{pair.a.similarity:.0%}", pair.b.who,
                      f"{pair.b.similarity:.0%}")
    console.print(table)


@app.command()
def publish(
    path: Annotated[Path, typer.Argument(help="the assignment's folder, or a zip of it")],
    assignment: Annotated[str, typer.Option("--assignment", "-a")],
    server: Server = "http://127.0.0.1:8000",
    token: Token = None,
) -> None:
    """Upload a new version of an assignment (or a new assignment); it goes live once
    the service has graded its reference and a blank notebook in the sandbox."""

    from service.publish.bundle import zip_folder

    if path.is_dir():
        data, name = zip_folder(path), f"{path.name}.zip"
    elif path.is_file():
        data, name = path.read_bytes(), path.name
    else:
        err.print(f"{path} is neither a folder nor a zip")
        raise typer.Exit(2)
    with _client(server, token) as client:
        response = client.post(f"/assignments/{assignment}/versions",
                               files={"file": (name, data)})
        _fail(response)
        number = AssignmentVersionOut.model_validate(response.json()).number

        def this_version() -> AssignmentVersionOut:
            response = client.get(f"/assignments/{assignment}/versions")
            _fail(response)
            return next(AssignmentVersionOut.model_validate(v) for v in response.json()
                        if v["number"] == number)

        version = _wait_for(this_version, lambda v: v.status != "validating",
                            f"validating version {number} in the sandbox",
                            f"GET /api/v1/assignments/{assignment}/versions")
    if version.status != "live":
        err.print(f"[red]version {version.number} was not published:[/red]")
        for problem in version.problems:
            err.print(f"- {problem}")
        raise typer.Exit(1)
    console.print(f"{assignment} version {version.number} ({version.spec_version}) is live: "
                  f"the reference earned {version.reference_points:g} of "
                  f"{version.autograded_points:g} points, a blank notebook "
                  f"{version.blank_points:g}")
