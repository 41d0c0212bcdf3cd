"""Blobs in a local directory: the embedded default (one machine, or a shared volume)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from service.storage import CHUNK, BlobMissing, check_sha, check_size, read_verified


class LocalBlobStore:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        check_sha(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha = check_size(self, data, sha256)
        path = self._path(sha)
        if path.exists():
            return sha
        # write then rename: a crash never leaves a truncated blob under its hash
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent)
        except FileNotFoundError:  # the first blob under this prefix
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return sha

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            fh = self._path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobMissing(f"blob {sha256[:12]} is not in {self.root}") from None
        with fh:
            while part := fh.read(CHUNK):
                yield part

    def get(self, sha256: str) -> bytes:
        return read_verified(self, sha256)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()
