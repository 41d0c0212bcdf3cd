"""The ``autograder`` command."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

import graders
from service.config import Settings
from service.db.enums import Role, RunStatus
from service.schemas import RegradeBatchOut, SubmissionAccepted, SubmissionStatus

if TYPE_CHECKING:
    from service import batch as batching

app = typer.Typer(help="ml-autograder: grade machine-learning homework in a sandbox.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

# outcome -> colour, by the outcome's value (the engine is imported only when used)
_STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "errored": "red",
          "timed_out": "red", "missing": "red", "manual": "cyan"}


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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(help="local grading worker processes")] = None,
) -> None:
    """Start the HTTP service with local worker processes (SQLite unless configured)."""
    import uvicorn

    from service.main import create_app

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items()
                 if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    from service.logs import configure_logging, uvicorn_log_config

    configure_logging(settings.log_format, "api")
    application = create_app(settings)
    console.print(f"ml-autograder on http://{settings.host}:{settings.port} "
                  f"(API docs at /docs), {settings.workers} workers, database "
                  f"{settings.resolved_database_url}")
    console.print("Create an API token with: .venv/bin/autograder users add NAME "
                  "--role student|instructor|admin")
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="info",
                log_config=uvicorn_log_config(settings.log_format))


class QueueName(StrEnum):
    cpu = "cpu"
    gpu = "gpu"


@app.command()
def worker(
    celery: Annotated[bool, typer.Option(help="consume a Celery queue (needs a broker)")]
    = False,
    queue: Annotated[QueueName | None, typer.Option(
        help="a Celery queue: cpu, or gpu (with --gpus); implies --celery")] = None,
    concurrency: Annotated[int, typer.Option(help="cpu queue: parallel runs")] = 1,
    gpus: Annotated[str | None, typer.Option(
        help="gpu queue: the devices, e.g. 0,1 (one sandbox slot per GPU)")] = None,
    slot: Annotated[bool, typer.Option(hidden=True)] = False,
) -> None:
    """Run a grading worker on this machine (for a service whose API runs elsewhere).
    Without --queue or --celery: a local worker polling the database for every run."""
    settings = Settings()
    from service.logs import configure_logging

    kind = queue or QueueName.cpu
    configure_logging(settings.log_format, f"worker-{kind.value}")
    if not (celery or queue):
        from service.worker import main

        main()
        return
    from service.jobs.celery_app import run_gpu_workers, run_worker

    if kind is QueueName.gpu and not slot:
        devices = [int(g) for g in (gpus or "").split(",") if g.strip()]
        if not devices:
            raise typer.BadParameter("name the GPUs this worker may use: --gpus 0,1")
        run_gpu_workers(devices)
    else:
        run_worker(settings, concurrency=concurrency, queue=kind.value)


storage = typer.Typer(help="Where uploads and executed notebooks are stored.")
app.add_typer(storage, name="storage")


@storage.command("migrate")
def storage_migrate(
    from_dir: Annotated[Path | None, typer.Option(
        help="the local blob folder to copy from (default: DATA_DIR/blobs)")] = None,
) -> None:
    """Copy every stored upload and executed notebook into the configured storage
    (AUTOGRADER_STORAGE=database or s3); safe to run again, checks each blob's hash."""
    from service.db.migrate import migrate
    from service.db.session import make_engine, make_sessionmaker
    from service.storage import make_store
    from service.storage.local import LocalBlobStore
    from service.storage.migrate import migrate_blobs

    settings = Settings()
    if settings.storage == "local":
        raise typer.BadParameter("set AUTOGRADER_STORAGE=database or s3: the target")
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    source = LocalBlobStore(from_dir or settings.data_dir / "blobs",
                            max_bytes=settings.max_blob_bytes)
    result = migrate_blobs(sessions, source, make_store(settings, sessions))
    console.print(f"copied {result.copied} blobs, {result.already_there} already there, "
                  f"{len(result.missing)} missing from the source")
    for sha in result.missing:
        console.print(f"  missing: {sha}")
    if result.missing:
        raise typer.Exit(1)


datasets = typer.Typer(help="Datasets for trained-model questions.")
app.add_typer(datasets, name="datasets")


@datasets.command("make-fixtures")
def make_fixtures_command(
    directory: Path,
    kmnist_train: Annotated[int, typer.Option(help="KMNIST training images")] = 60_000,
) -> None:
    """Write small learnable datasets in torchvision's on-disk formats (DIR/datasets) and
    hidden test sets (DIR/hidden). Point AUTOGRADER_DATASETS_DIR and
    AUTOGRADER_HIDDEN_DIR at them."""
    from service.fixtures import make_fixtures

    make_fixtures(directory, kmnist_train=kmnist_train)
    console.print(f"datasets in {directory / 'datasets'}, hidden test sets in "
                  f"{directory / 'hidden'}")


users = typer.Typer(help="Manage user accounts (works on the database directly).")
app.add_typer(users, name="users")


class ExportFormat(StrEnum):
    CSV = "csv"
    GRADESCOPE = "gradescope"


class ExportPolicy(StrEnum):
    BEST = "best"
    LATEST = "latest"


# Polling gives up after this long: the server says how to look again.
MAX_WAIT_S = 3600.0


@users.command("add")
def users_add(
    name: str,
    role: Annotated[Role, typer.Option(help="the account's role")] = Role.STUDENT,
) -> None:
    """Create a user and print their API token (shown once, stored hashed)."""
    from service.db import repository as repo

    parsed = role
    with _database().begin() as session:
        if repo.user_by_name(session, name=name) is not None:
            err.print(f"a user named {name!r} already exists")
            raise typer.Exit(1)
        _, token = repo.create_user(session, name=name, role=parsed)
    typer.echo(token)


groups = typer.Typer(help="Groups of students handing in together (works on the database "
                          "directly).")
app.add_typer(groups, name="groups")


def _database():  # type: ignore[no-untyped-def]
    from service.db.migrate import migrate
    from service.db.session import make_engine, make_sessionmaker

    engine = make_engine(Settings().resolved_database_url)
    migrate(engine)
    return make_sessionmaker(engine)


@groups.command("set")
def groups_set(
    assignment: str,
    name: str,
    members: Annotated[list[str], typer.Argument(help="the students' user names")],
) -> None:
    """Create a group for an assignment, or replace its members."""
    from service.db import repository as repo

    with _database().begin() as session:
        found = []
        for member in dict.fromkeys(members):
            user = repo.user_by_name(session, name=member)
            if user is None or user.role != Role.STUDENT:
                err.print(f"there is no student named {member!r}")
                raise typer.Exit(1)
            found.append(user)
        try:
            repo.set_group(session, assignment_id=assignment, name=name, members=found)
        except repo.GroupConflictError as exc:
            err.print(f"{exc}; remove them from it first")
            raise typer.Exit(1) from None
    typer.echo(f"{assignment}: group {name}: {', '.join(sorted(dict.fromkeys(members)))}")


@groups.command("list")
def groups_list(assignment: str) -> None:
    """The groups of an assignment and their members."""
    from service.db import repository as repo

    with _database().begin() as session:
        for group in repo.list_groups(session, assignment_id=assignment):
            typer.echo(f"{group.name}\t{', '.join(sorted(m.user.name for m in group.members))}")


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


if __name__ == "__main__":
    app()
