"""Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph RGW...) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from service.storage import (
    CHUNK,
    BlobMissing,
    StorageError,
    check_sha,
    check_size,
    read_verified,
)

if TYPE_CHECKING:
    from service.config import Settings


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, *, prefix: str = "blobs/",
                 max_bytes: int) -> None:
        self.client, self.bucket, self.prefix, self.max_bytes = client, bucket, prefix, max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        import boto3
        from botocore.config import Config

        if not settings.s3_bucket:
            raise StorageError("storage 's3' needs AUTOGRADER_S3_BUCKET")
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"},
                          connect_timeout=5, read_timeout=60))
        return cls(client, settings.s3_bucket, prefix=settings.s3_prefix,
                   max_bytes=settings.max_blob_bytes)

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}{check_sha(sha256)}"

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha = check_size(self, data, sha256)
        if not self.exists(sha):
            self.client.put_object(Bucket=self.bucket, Key=self._key(sha), Body=data,
                                   ChecksumAlgorithm="SHA256")
        return sha

    def chunks(self, sha256: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(f"blob {sha256[:12]} is not in s3://{self.bucket}") from None
            raise StorageError(f"s3 read of {sha256[:12]} failed: {exc}") from exc
        yield from body.iter_chunks(CHUNK)

    def get(self, sha256: str) -> bytes:
        return read_verified(self, sha256)

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise StorageError(f"s3 lookup of {sha256[:12]} failed: {exc}") from exc
