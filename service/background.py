"""Background jobs the API starts itself (a similarity comparison, an assignment
version's validation): each a ``python -m`` process of its own, so that its CPU never
stalls a request and a bug in it never takes the API down; it dies with the API, and
its row's heartbeat (``updated_at``) tells a job that died from one still working."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.db.base import Base, utcnow

PARENT_ENV = "AUTOGRADER_PARENT_PID"


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


def update_row(sessions: sessionmaker[Session], model: type[Base], row_id: str,
               **values: object) -> None:
    """Set a job's row fields in a transaction of their own, its heartbeat with them."""
    with sessions.begin() as db:
        found = db.get(model, row_id)
        if found is None:
            raise LookupError(f"{model.__tablename__} {row_id} is gone")
        for key, value in {"updated_at": utcnow(), **values}.items():
            setattr(found, key, value)
