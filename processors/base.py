"""What every processor is: a named, broker-free function from one event to its results and their cost."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from schemas.errors import InvalidEvent
from schemas.models import Event

I_contra = TypeVar("I_contra", bound=Event, contravariant=True)


@dataclass(frozen=True)
class Usage:
    """What one AI operation used; becomes the AIOperationMetric the pipeline emits."""

    model: str
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """The events a processor produced for one input, and what producing them cost."""

    results: Sequence[Event]
    usage: Usage
    extra: Sequence[Event] = field(default_factory=tuple)  # e.g. AIAuditEvents, routed by type like results
    error_class: str | None = None  # set when the results report a failure (e.g. an unreadable recording)


class Processor(Protocol, Generic[I_contra]):
    """A processor: ``process`` may be a plain function (run in a thread when ``cpu_bound``) or a coroutine."""

    @property
    def name(self) -> str: ...

    @property
    def operation_type(self) -> str: ...

    @property
    def cpu_bound(self) -> bool: ...

    def process(self, event: I_contra) -> Outcome | Awaitable[Outcome]: ...


BlobFetcher = Callable[[str, str], bytes]  # (blob_uri, sha256) -> verified bytes


def no_blob_store(uri: str, sha256: str) -> bytes:
    raise InvalidEvent(f"the payload is stored at {uri!r} but this processor has no blob store")


def payload_bytes(what: str, content: bytes | None, blob_uri: str | None, sha256: str,
                  fetch_blob: BlobFetcher) -> bytes:
    """The bytes an event carries, inline or in the blob store, checked against its SHA-256 before anything
    reads them; an event whose bytes do not match, or that carries none, breaks the contract (DLQ)."""
    if content is not None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != sha256.lower():
            raise InvalidEvent(f"{what}: checksum mismatch: the event says sha256 {sha256}, the inline content "
                               f"hashes to {actual}")
        return content
    if blob_uri:
        return fetch_blob(blob_uri, sha256)
    raise InvalidEvent(f"{what}: neither inline content nor blob_uri is set")
