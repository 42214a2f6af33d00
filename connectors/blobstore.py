"""The blob store: where recordings and scans too large to travel inline in an event are kept.

A local directory by default, or any S3-compatible store (AWS S3, MinIO, Ceph) by an ``s3://bucket/prefix``
URI. Events carry the blob's URI and the SHA-256 of its bytes; a reader verifies the checksum before anything
processes the bytes, and only URIs inside the store are ever opened, so an event cannot make a worker read an
arbitrary file or bucket. Blobs are named by their digest, so a re-upload is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from schemas.errors import InvalidEvent, TransientError


class BlobMissing(TransientError):
    """The URI names no blob (yet): an upload may still be in flight, so the pipeline retries, then DLQs."""


class BlobRejected(InvalidEvent):
    """The URI or the bytes are not acceptable: outside the store, too large, or a checksum mismatch."""


@dataclass(frozen=True)
class BlobRef:
    """What an event carries about a stored blob."""

    uri: str
    sha256: str
    size_bytes: int


class BlobStore(Protocol):
    """Where producers put large payloads and workers fetch them, verified."""

    def put(self, data: bytes, suffix: str = "") -> BlobRef: ...

    def fetch(self, uri: str, sha256: str) -> bytes: ...


def _verified(uri: str, data: bytes, sha256: str) -> bytes:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise BlobRejected(f"blob {uri!r} checksum mismatch: the event says sha256 {sha256}, "
                           f"the stored bytes hash to {actual}")
    return data


def _too_large(uri: str, size: int, max_bytes: int) -> BlobRejected:
    return BlobRejected(f"blob {uri!r} is {size} bytes; the limit is {max_bytes}")


@dataclass(frozen=True)
class LocalBlobStore:
    """Blobs as files under ``root``, named by their SHA-256 (so a re-upload is a no-op)."""

    root: Path
    max_bytes: int = 512 * 1024 * 1024

    def put(self, data: bytes, suffix: str = "") -> BlobRef:
        """Store ``data`` atomically (write then rename) and return its reference."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.root.resolve() / digest[:2] / f"{digest}{suffix}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                tmp.write(data)
            os.replace(tmp.name, path)
        return BlobRef(path.as_uri(), digest, len(data))

    def path_of(self, uri: str) -> Path:
        """The file a URI names, refusing anything outside the store's root."""
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise BlobRejected(f"blob URI {uri!r}: only file:// URIs of the local blob store are supported")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BlobRejected(f"blob URI {uri!r} is outside the blob store {self.root}")
        return path

    def fetch(self, uri: str, sha256: str) -> bytes:
        """The blob's bytes, after checking its size limit and its SHA-256 against the event's."""
        path = self.path_of(uri)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise BlobMissing(f"blob {uri!r} does not exist") from exc
        if size > self.max_bytes:
            raise _too_large(uri, size, self.max_bytes)
        return _verified(uri, path.read_bytes(), sha256)


@dataclass
class S3BlobStore:
    """Blobs as objects under ``s3://bucket/prefix`` of any S3-compatible store. Credentials come from the
    environment the way boto3 finds them (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an
    instance role); ``endpoint_url`` points at MinIO, Ceph or another S3-compatible server."""

    location: str
    endpoint_url: str | None = None
    region: str | None = None
    max_bytes: int = 512 * 1024 * 1024
    client: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parsed = urlparse(self.location)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"blob store {self.location!r}: expected s3://bucket[/prefix]")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/") + "/" if parsed.path.strip("/") else ""
        if self.client is None:
            import boto3

            self.client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def put(self, data: bytes, suffix: str = "") -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{self.prefix}{digest[:2]}/{digest}{suffix}"
        if not self._exists(key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, Metadata={"sha256": digest})
        return BlobRef(f"s3://{self.bucket}/{key}", digest, len(data))

    def fetch(self, uri: str, sha256: str) -> bytes:
        key = self._key_of(uri)
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            if head["ContentLength"] > self.max_bytes:
                raise _too_large(uri, head["ContentLength"], self.max_bytes)
            data = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise BlobMissing(f"blob {uri!r} does not exist") from exc
            raise TransientError(f"blob {uri!r}: the store answered {exc}") from exc
        return _verified(uri, data, sha256)

    def _key_of(self, uri: str) -> str:
        """The object key a URI names, refusing other schemes, buckets and keys outside the prefix."""
        parsed = urlparse(uri)
        key = unquote(parsed.path.lstrip("/"))
        if parsed.scheme != "s3" or parsed.netloc != self.bucket or not key.startswith(self.prefix) \
                or ".." in key.split("/"):
            raise BlobRejected(f"blob URI {uri!r} is outside the blob store {self.location}")
        return key

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def open_blob_store(location: str, *, max_bytes: int, endpoint_url: str | None = None,
                    region: str | None = None) -> BlobStore:
    """The store at ``location``: an ``s3://bucket/prefix`` URI, or a local directory."""
    if location.startswith("s3://"):
        return S3BlobStore(location, endpoint_url, region, max_bytes)
    return LocalBlobStore(Path(location), max_bytes)
