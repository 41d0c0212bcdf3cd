"""Copy every blob the database refers to from one store to another (moving a deployment
from a local directory to database or S3 storage); idempotent, verified per blob."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import GradingRun, Submission
from service.storage import BlobMissing, BlobStore


@dataclass(frozen=True)
class MigrationResult:
    copied: int
    already_there: int
    missing: list[str]


def referenced_blobs(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        uploads = session.scalars(select(Submission.blob_sha256)).all()
        notebooks = session.scalars(select(GradingRun.notebook_sha256).where(
            GradingRun.notebook_sha256.is_not(None))).all()
    return sorted({*uploads, *(n for n in notebooks if n)})


def migrate_blobs(sessions: sessionmaker[Session], source: BlobStore,
                  target: BlobStore) -> MigrationResult:
    copied = there = 0
    missing: list[str] = []
    for sha in referenced_blobs(sessions):
        if target.exists(sha):
            there += 1
            continue
        try:
            data = source.get(sha)  # verified against its hash on the way
        except BlobMissing:
            missing.append(sha)
            continue
        if target.put(data) != sha:
            raise RuntimeError(f"blob {sha[:12]} changed on the way")
        copied += 1
    return MigrationResult(copied=copied, already_there=there, missing=missing)
