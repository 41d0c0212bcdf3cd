"""Running the service and its workers."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from service.config import Settings

if TYPE_CHECKING:
    pass
from service.cli.app import app, console


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
