"""Blobs as chunked rows in the service's database (PostgreSQL at scale, SQLite here).

Each blob is split into 1 MiB rows, written in one transaction (a crash leaves nothing
under its hash) and read back one row at a time. Workers on other machines need nothing
but the database URL they already have.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import BlobChunk
from service.storage import CHUNK, BlobMissing, check_sha, check_size, read_verified


class DatabaseBlobStore:
    def __init__(self, sessions: sessionmaker[Session], *, max_bytes: int) -> None:
        self.sessions, self.max_bytes = sessions, max_bytes

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha = check_size(self, data, sha256)
        if self.exists(sha):
            return sha
        try:
            with self.sessions.begin() as session:
                for seq, start in enumerate(range(0, max(len(data), 1), CHUNK)):
                    session.add(BlobChunk(sha256=sha, seq=seq, data=data[start:start + CHUNK]))
        except IntegrityError:
            pass  # another writer stored the same content first: same bytes, same name
        return sha

    def chunks(self, sha256: str) -> Iterator[bytes]:
        check_sha(sha256)
        with self.sessions() as session:
            count = session.scalar(select(func.count()).where(BlobChunk.sha256 == sha256)) or 0
        if not count:
            raise BlobMissing(f"blob {sha256[:12]} is not in the database")
        for seq in range(count):
            with self.sessions() as session:
                part = session.scalar(select(BlobChunk.data).where(
                    BlobChunk.sha256 == sha256, BlobChunk.seq == seq))
            if part is None:
                raise BlobMissing(f"blob {sha256[:12]} lost chunk {seq}")
            yield bytes(part)

    def get(self, sha256: str) -> bytes:
        return read_verified(self, sha256)

    def exists(self, sha256: str) -> bool:
        with self.sessions() as session:
            return session.scalar(select(BlobChunk.seq).where(
                BlobChunk.sha256 == check_sha(sha256), BlobChunk.seq == 0)) is not None
