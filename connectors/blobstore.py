"""The blob store: where recordings and scans too large to travel inline in an event are kept.

A local directory by default. Events carry a ``file://`` URI and the SHA-256 of the bytes; a reader verifies
the checksum before anything processes the bytes, and only URIs under the store's root are ever opened, so an
event cannot make a worker read an arbitrary file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
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
            raise BlobRejected(f"blob {uri!r} is {size} bytes; the limit is {self.max_bytes}")
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256.lower():
            raise BlobRejected(f"blob {uri!r} checksum mismatch: the event says sha256 {sha256}, "
                               f"the stored bytes hash to {actual}")
        return data
