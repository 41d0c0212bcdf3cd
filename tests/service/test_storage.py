"""The three storage backends behave alike: content-addressed, idempotent, capped,
streamed in chunks, verified on read; and a deployment's blobs migrate between them.
PostgreSQL is this machine's; S3 is moto's S3-compatible server over real HTTP (no
object store runs on these machines)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from service.db import repository as repo
from service.db.migrate import migrate
from service.db.models import BlobChunk, Role
from service.db.session import make_engine, make_sessionmaker
from service.storage import CHUNK, BlobMissing, BlobStore, BlobTooLarge, StorageError
from service.storage.database import DatabaseBlobStore
from service.storage.local import LocalBlobStore
from service.storage.migrate import migrate_blobs
from service.storage.s3 import S3BlobStore
from tests.service.test_repository import PG_ADMIN, ensure_postgres

CAP = 8 * CHUNK


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_store(endpoint: str) -> S3BlobStore:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    bucket = f"ag-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(client, bucket, max_bytes=CAP)


@contextmanager
def database_sessions(kind: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if kind == "postgresql":
        import psycopg

        ensure_postgres()
        name = f"agstore_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{tmp_path / 'blobs.db'}"
    engine = make_engine(url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(params=["local", "sqlite", "postgresql", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs", max_bytes=CAP)
    elif request.param == "s3":
        yield s3_store(request.getfixturevalue("s3_endpoint"))
    else:
        with database_sessions(request.param, tmp_path) as sessions:
            yield DatabaseBlobStore(sessions, max_bytes=CAP)


@pytest.fixture
def sessions_for(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_a_blob_is_stored_under_its_hash_once_and_read_back(store: BlobStore):
    data = b"a notebook" * 1000
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.put(data) == sha  # idempotent
    assert store.exists(sha) and store.get(sha) == data
    assert not store.exists("0" * 64)


def test_a_large_blob_streams_in_chunks(store: BlobStore):
    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    sha = store.put(data)
    parts = list(store.chunks(sha))
    assert len(parts) >= 2 and b"".join(parts) == data
    assert store.get(sha) == data


def test_a_blob_over_the_cap_is_refused(store: BlobStore):
    with pytest.raises(BlobTooLarge):
        store.put(b"x" * (CAP + 1))


def test_a_missing_blob_and_a_bad_name_are_errors(store: BlobStore):
    with pytest.raises(BlobMissing):
        store.get("ab" * 32)
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


def test_a_corrupted_blob_is_detected_on_read(tmp_path: Path):
    local = LocalBlobStore(tmp_path / "blobs", max_bytes=CAP)
    sha = local.put(b"original")
    path = next(p for p in (tmp_path / "blobs").rglob(sha))
    path.write_bytes(b"tampered")
    with pytest.raises(StorageError, match="corrupted"):
        local.get(sha)


def test_a_corrupted_database_chunk_is_detected_on_read(tmp_path: Path):
    with database_sessions("sqlite", tmp_path) as sessions:
        db = DatabaseBlobStore(sessions, max_bytes=CAP)
        sha = db.put(b"original")
        with sessions.begin() as session:
            session.execute(update(BlobChunk).values(data=b"tampered"))
        with pytest.raises(StorageError, match="corrupted"):
            db.get(sha)


def test_existing_blobs_migrate_from_a_folder_to_the_database(tmp_path: Path, sessions_for):
    local = LocalBlobStore(tmp_path / "blobs", max_bytes=CAP)
    with sessions_for.begin() as session:
        user, _ = repo.create_user(session, name="ann", role=Role.STUDENT)
        shas = []
        for i in range(3):
            data = f"notebook {i}".encode()
            sha = local.put(data)
            repo.ensure_blob(session, sha256=sha, size=len(data))
            repo.create_submission(session, assignment_id="ee411-hw3", user=user, sha256=sha,
                                   filename=f"{i}.ipynb", idempotency_key=None, late_days=0)
            shas.append(sha)
    target = DatabaseBlobStore(sessions_for, max_bytes=CAP)
    first = migrate_blobs(sessions_for, local, target)
    assert (first.copied, first.already_there, first.missing) == (3, 0, [])
    assert all(target.get(sha) == local.get(sha) for sha in shas)
    again = migrate_blobs(sessions_for, local, target)
    assert (again.copied, again.already_there) == (0, 3)


def test_the_migrate_command_moves_a_deployment_to_database_storage(tmp_path: Path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    url = f"sqlite:///{tmp_path / 'service.db'}"
    engine = make_engine(url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    local = LocalBlobStore(tmp_path / "blobs", max_bytes=CAP)
    sha = local.put(b"an upload")
    with sessions.begin() as session:
        user, _ = repo.create_user(session, name="bo", role=Role.STUDENT)
        repo.ensure_blob(session, sha256=sha, size=9)
        repo.create_submission(session, assignment_id="ee411-hw3", user=user, sha256=sha,
                               filename="a.ipynb", idempotency_key=None, late_days=0)
    env = {**os.environ, "AUTOGRADER_DATA_DIR": str(tmp_path),
           "AUTOGRADER_DATABASE_URL": url, "AUTOGRADER_STORAGE": "database"}
    done = subprocess.run([sys.executable, "-m", "service.cli", "storage", "migrate"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "copied 1 blobs" in done.stdout
    assert DatabaseBlobStore(sessions, max_bytes=CAP).get(sha) == b"an upload"
    engine.dispose()
