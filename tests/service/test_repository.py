"""The job queue's database semantics, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from service.db import repository as repo
from service.db.base import utcnow
from service.db.migrate import migrate
from service.db.models import GradingRun, Role, RunStatus
from service.db.session import make_engine, make_sessionmaker

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def ensure_postgres() -> None:
    """Start the local cluster if it is down (this machine kind runs one)."""
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        return
    except psycopg.OperationalError:
        pass
    versions = sorted(Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").exists() \
        else []
    if not versions or not shutil.which("pg_ctlcluster"):
        pytest.fail("PostgreSQL is not installed; the postgres tests need it")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main",
                    "start"], check=False)
    for _ in range(50):
        try:
            psycopg.connect(PG_ADMIN, connect_timeout=3).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    pytest.fail("could not start PostgreSQL")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    ensure_postgres()
    name = f"ag_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def sessions(database_url) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def queue(sessions, n: int) -> list[str]:
    with sessions.begin() as s:
        user, _ = repo.create_user(s, name="u", role=Role.STUDENT)
        repo.ensure_blob(s, sha256="a" * 64, size=1)
        ids = []
        for i in range(n):
            _, run = repo.create_submission(s, assignment_id="a", user=user, sha256="a" * 64,
                                            filename=f"{i}.ipynb", idempotency_key=None,
                                            late_days=0)
            ids.append(run.id)
    return ids


def test_concurrent_claims_never_hand_out_a_run_twice(sessions):
    ids = queue(sessions, 20)

    def claim(worker: int) -> list[str]:
        got = []
        while True:
            with sessions.begin() as s:
                run_id = repo.claim_next_run(s, worker=f"w{worker}", lease_s=60)
            if run_id is None:
                return got
            got.append(run_id)

    with ThreadPoolExecutor(4) as pool:
        claimed = [r for batch in pool.map(claim, range(4)) for r in batch]
    assert sorted(claimed) == sorted(ids)


def test_only_the_lease_holder_records_a_result(sessions):
    (run_id,) = queue(sessions, 1)
    with sessions.begin() as s:
        assert repo.claim_next_run(s, worker="w1", lease_s=60) == run_id
    with sessions.begin() as s:
        assert not repo.finish_run(s, run_id=run_id, worker="w2", status=RunStatus.GRADED)
        assert repo.renew_lease(s, run_id=run_id, worker="w1", lease_s=60)
        assert repo.finish_run(s, run_id=run_id, worker="w1", status=RunStatus.GRADED,
                               score=3.0)
    with sessions.begin() as s:
        assert not repo.finish_run(s, run_id=run_id, worker="w1", status=RunStatus.GRADED)
        assert s.get(GradingRun, run_id).score == 3.0


def test_expired_leases_are_requeued_then_failed_after_max_attempts(sessions):
    (run_id,) = queue(sessions, 1)
    for attempt in (1, 2):
        with sessions.begin() as s:
            assert repo.claim_next_run(s, worker=f"w{attempt}", lease_s=60) == run_id
            s.execute(update(GradingRun).values(lease_expires_at=utcnow() - timedelta(1)))
        with sessions.begin() as s:
            assert repo.requeue_expired(s, max_attempts=2) == 1
            run = s.get(GradingRun, run_id)
            expected = RunStatus.QUEUED if attempt == 1 else RunStatus.FAILED
            assert run.status == expected and run.attempts == attempt
    with sessions.begin() as s:
        assert "worker lost" in s.get(GradingRun, run_id).reason


def test_idempotency_keys_are_unique_per_user(sessions):
    from sqlalchemy.exc import IntegrityError

    with sessions.begin() as s:
        user, _ = repo.create_user(s, name="u", role=Role.STUDENT)
        repo.ensure_blob(s, sha256="b" * 64, size=1)
        repo.create_submission(s, assignment_id="a", user=user, sha256="b" * 64,
                               filename="x.ipynb", idempotency_key="k", late_days=0)
    with pytest.raises(IntegrityError), sessions.begin() as s:
        user = repo.user_by_name(s, name="u")
        repo.create_submission(s, assignment_id="a", user=user, sha256="b" * 64,
                               filename="x.ipynb", idempotency_key="k", late_days=0)


def test_racing_first_inserts_of_the_same_blob_and_policy(sessions):
    def add(_: int) -> None:
        with sessions.begin() as s:
            repo.ensure_blob(s, sha256="c" * 64, size=1)
            repo.get_policy(s, assignment_id="a")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(16)))


@pytest.mark.sandbox
def test_the_service_grades_with_postgresql(tmp_path):
    from tests.service.conftest import LiveServer, submit, wait_graded

    ensure_postgres()
    name = f"ag_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    server = LiveServer(tmp_path, workers=1, extra_env={"AUTOGRADER_DATABASE_URL": url})
    try:
        server.start()
        engine = make_engine(url)
        with make_sessionmaker(engine).begin() as s:
            _, token = repo.create_user(s, name="pg", role=Role.STUDENT)
        engine.dispose()
        client = server.client(token)
        body = wait_graded(client, submit(client, "wrong_gradient.ipynb").json()["id"])
        assert body["score"] == 18.4  # wrong_gradient: w_2 right earns its share of 1.5
    finally:
        server.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migrations_build_the_schema_the_models_describe(tmp_path):
    # a table or column added to the models without a migration would exist in tests
    # (which migrate) only by luck: alembic compares the migrated database with them
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.db.base import Base
    from service.db.migrate import migrate
    from service.db.session import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []
