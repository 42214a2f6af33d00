"""The worker's blob store and the one rule for payloads: inline up to a limit, else through the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from connectors.blobstore import BlobStore, open_blob_store
from streams.settings import Settings


def blob_store(settings: Settings) -> BlobStore:
    """The store the settings name (a local directory or s3://bucket/prefix)."""
    return open_blob_store(settings.blob_store, max_bytes=settings.blob_max_bytes,
                           endpoint_url=settings.blob_endpoint_url, region=settings.blob_region)


@dataclass(frozen=True)
class Payload:
    """How an event carries some bytes: ``content`` inline, or ``blob_uri`` into the store; always the digest."""

    content: bytes | None
    blob_uri: str | None
    sha256: str
    size_bytes: int


def payload(settings: Settings, data: bytes, inline_max_bytes: int, *, inline_only: bool = False,
            suffix: str = "") -> Payload:
    """``data`` inline when it is at most ``inline_max_bytes`` (or ``inline_only``), else stored as a blob."""
    if inline_only or len(data) <= inline_max_bytes:
        return Payload(data, None, hashlib.sha256(data).hexdigest(), len(data))
    blob = blob_store(settings).put(data, suffix)
    return Payload(None, blob.uri, blob.sha256, blob.size_bytes)
