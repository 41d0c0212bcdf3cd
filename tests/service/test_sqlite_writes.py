"""SQLite and a transaction that reads, then writes: another connection's commit in
between must make it wait its turn, never fail with "database is locked" (a roster
import's group step, after a worker's heartbeat, answered 500 in CI)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service.db import repository as repo
from service.db.migrate import migrate
from service.db.models import Role, User
from service.db.session import make_engine, make_sessionmaker, take_write_lock


def _heartbeat(sessions, name: str) -> None:
    with sessions.begin() as other:
        repo.create_user(other, name=name, role=Role.STUDENT)


def _read_then_write(sessions, *, lock: bool) -> None:
    """Reads, a worker's commit from another thread, then a write, in one transaction."""
    worker = threading.Thread(target=_heartbeat, args=(sessions, f"worker-{lock}"))
    with sessions.begin() as db:
        if lock:
            take_write_lock(db)
        with db.begin_nested():  # a SAVEPOINT: SQLite's transaction begins here
            list(db.scalars(select(User.name)))
            worker.start()
            worker.join(timeout=1.0)  # done at once without the lock; waiting with it
            repo.create_user(db, name=f"reader-{lock}", role=Role.STUDENT)
    worker.join()


def test_a_read_then_write_transaction_that_took_the_write_lock_first_never_fails(
        tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as db:
        repo.create_user(db, name="first", role=Role.STUDENT)
    # without the lock SQLite refuses the write at once: the hazard is real
    with pytest.raises(OperationalError, match="database is locked"):
        _read_then_write(sessions, lock=False)
    _read_then_write(sessions, lock=True)
    with sessions() as db:
        names = set(db.scalars(select(User.name)))
    assert {"reader-True", "worker-True"} <= names and "reader-False" not in names
