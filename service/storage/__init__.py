"""Content-addressed blob storage for uploads and executed notebooks, behind one protocol.

``local`` (a directory; the embedded default), ``database`` (chunked rows in the service's
own database, so a worker on another machine needs only the database URL) or ``s3`` (any
S3-compatible object store). Blobs are named by their SHA-256: a write is idempotent, a
read is verified, and two workers writing the same notebook cannot conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from service.errors import ServiceError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from service.config import Settings

CHUNK = 1024 * 1024


class StorageError(ServiceError):
    """A blob could not be written or read."""


class BlobTooLarge(StorageError):
    pass


class BlobMissing(StorageError):
    pass


class BlobStore(Protocol):
    max_bytes: int

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Store ``data`` under its SHA-256 (a no-op when present); return the hash.
        ``sha256``: the hash the caller computed of these very bytes a moment ago."""

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes in order, a chunk at a time (never all in memory at once)."""

    def exists(self, sha256: str) -> bool: ...

    def get(self, sha256: str) -> bytes: ...


def check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256")
    return sha256


def check_size(store: BlobStore, data: bytes, sha256: str | None = None) -> str:
    if len(data) > store.max_bytes:
        raise BlobTooLarge(f"a blob of {len(data)} bytes is over the storage cap of "
                           f"{store.max_bytes} bytes")
    return check_sha(sha256) if sha256 else hashlib.sha256(data).hexdigest()


def read_verified(store: BlobStore, sha256: str) -> bytes:
    """All of a blob, checked against its name: a corrupted copy is an error, not data."""
    digest = hashlib.sha256()
    parts = []
    for part in store.chunks(check_sha(sha256)):
        digest.update(part)
        parts.append(part)
    if digest.hexdigest() != sha256:
        raise StorageError(f"blob {sha256[:12]} is corrupted in storage")
    return b"".join(parts)


def make_store(settings: Settings, sessions: sessionmaker[Session] | None = None) -> BlobStore:
    if settings.storage == "database":
        from service.storage.database import DatabaseBlobStore

        if sessions is None:
            from service.db.session import make_engine, make_sessionmaker

            sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
        return DatabaseBlobStore(sessions, max_bytes=settings.max_blob_bytes)
    if settings.storage == "s3":
        from service.storage.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    from service.storage.local import LocalBlobStore

    return LocalBlobStore(settings.data_dir / "blobs", max_bytes=settings.max_blob_bytes)
