"""Background jobs the API starts itself (a similarity comparison, an assignment
version's validation): each a ``python -m`` process of its own, so that its CPU never
stalls a request and a bug in it never takes the API down; it dies with the API, and
its row's heartbeat (``updated_at``) tells a job that died from one still working."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.db.base import Base, utcnow

PARENT_ENV = "AUTOGRADER_PARENT_PID"
log = logging.getLogger("autograder.background")


def launch(settings: Settings, module: str, *args: str, timeout_s: float | None = None,
           name: str = "job") -> None:
    """Start ``python -m module args...`` with the service's settings; a thread reaps it
    (killing it after ``timeout_s``)."""
    from service.jobs.local import settings_environment

    env = {**settings_environment(settings), PARENT_ENV: str(os.getpid())}
    process = subprocess.Popen([sys.executable, "-m", module, *args], env=env,
                               stdin=subprocess.DEVNULL)

    def reap() -> None:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    threading.Thread(target=reap, name=name, daemon=True).start()


class JobAbandoned(Exception):
    """The job's row no longer says it is running (it was settled as dead meanwhile)."""


def update_row(sessions: sessionmaker[Session], model: type[Base], row_id: str, *,
               running: str | None = None, **values: object) -> None:
    """Set a job's row fields in a transaction of their own, its heartbeat with them;
    with ``running``, only while the row's status is still that (else JobAbandoned)."""
    with sessions.begin() as db:
        found = db.get(model, row_id)
        if found is None:
            raise LookupError(f"{model.__tablename__} {row_id} is gone")
        if running is not None and found.status != running:  # type: ignore[attr-defined]
            raise JobAbandoned(f"{model.__tablename__} {row_id} is "
                               f"{found.status}")  # type: ignore[attr-defined]
        for key, value in {"updated_at": utcnow(), **values}.items():
            setattr(found, key, value)


def heartbeat(sessions: sessionmaker[Session], model: type[Base], row_id: str,
              every_s: float = 10.0) -> threading.Event:
    """Beat the row's ``updated_at`` from a thread until the returned event is set: a
    job busy in one long step (fingerprinting, grading a reference) still reads alive."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                update_row(sessions, model, row_id)
            except Exception:  # a missed beat is not a failure; a run of them is
                log.exception("%s %s: heartbeat", model.__tablename__, row_id)

    threading.Thread(target=beat, name=f"beat-{row_id}", daemon=True).start()
    return stop
