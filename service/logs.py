"""Logging for the API and the workers: plain text by default, or one JSON object per
line (``AUTOGRADER_LOG_FORMAT=json``) carrying the run id, so one run can be followed
from the API that queued it to the worker that graded it."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)


@contextmanager
def run_context(run_id: str) -> Iterator[None]:
    token = RUN_ID.set(run_id)
    try:
        yield
    finally:
        RUN_ID.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component, self.host = component, socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "component": self.component,
            "host": self.host,
            "pid": os.getpid(),
            "message": record.getMessage(),
        }
        run_id = getattr(record, "run_id", None) or RUN_ID.get()
        if run_id:
            entry["run_id"] = run_id
        for key in ("submission_id", "assignment_id", "queue", "worker", "status", "score",
                    "duration_s"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(log_format: str, component: str) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(component))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    if log_format == "json":
        # uvicorn's own loggers write through the root handler, as JSON too
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
            logging.getLogger(name).handlers[:] = []
            logging.getLogger(name).propagate = True


def uvicorn_log_config(log_format: str) -> dict[str, object] | None:
    """None keeps uvicorn's own text format; for JSON, uvicorn adds no handlers."""
    if log_format != "json":
        return None
    return {"version": 1, "disable_existing_loggers": False}
