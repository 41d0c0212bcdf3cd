"""Engine and session factory: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    # enough connections for the API's thread pool, so a burst queues on the database
    # rather than timing out waiting for a connection
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 20, "max_overflow": 40,
                              "pool_timeout": 120}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while workers write; busy_timeout waits out writers.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


_SQLITE_WRITER = threading.Lock()


def take_write_lock(session: Session) -> None:
    """For a transaction that reads, then writes, in SQLite: take the write lock first.
    SQLite refuses at once (no busy wait: "database is locked") the first write of a
    transaction whose reads began before another connection's commit; pysqlite begins
    a transaction only at the first write, but a SAVEPOINT begins one at once, so
    ``begin_nested`` followed by reads then writes fails whenever a worker commits in
    between. BEGIN IMMEDIATE waits its turn instead. Other databases: nothing to do."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def one_writer(db: Session | Connection) -> Iterator[None]:
    """Around a transaction's writes and its commit: with SQLite, threads of this process
    take turns on a lock instead of SQLite's busy handler, which makes a waiting writer
    sleep and retry (backing off to 100 ms at a time): a burst of uploads queued on it
    for seconds with the CPU idle. Other databases take concurrent writers."""
    bind = db.get_bind() if isinstance(db, Session) else db
    if bind.dialect.name != "sqlite":
        yield
        return
    with _SQLITE_WRITER:
        yield
