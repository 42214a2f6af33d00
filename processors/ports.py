"""The engines processors ask for, as protocols: connectors implement them, streams/ injects them.

A processor never imports a connector; it names what it needs here and gets it in its constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from schemas.errors import SourceError as SourceError  # re-exported: sources raise it


class Embedder(Protocol):
    """Sentence embeddings: L2-normalised float32 rows, one per text."""

    @property
    def dimension(self) -> int: ...

    @property
    def model_name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class LlmAnswer(Protocol):
    """A validated structured answer and what it cost (``connectors.llm.LlmAnswer``)."""

    @property
    def value(self) -> BaseModel: ...
    @property
    def group(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def cached(self) -> bool: ...
    @property
    def notes(self) -> tuple[str, ...]: ...


class StructuredLlm(Protocol):
    """An LLM router that answers with JSON validating as ``response_model`` (``connectors.llm.LlmClient``)."""

    async def structured(self, response_model: type[BaseModel], *, task: str, system: str, user: str,
                         group: str, dealer_id: str, user_role: str | None = None) -> LlmAnswer: ...


class ContextStore(Protocol):
    """A table of strings by key (a chat session's context), kept by the stream that owns the key."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class VectorHit(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class VectorStore(Protocol):
    """Nearest-neighbour search by cosine similarity over named collections (``connectors.vectors``)."""

    def ensure_collection(self, name: str) -> None: ...

    def upsert(self, name: str, items: Sequence[tuple[str, Sequence[float], dict[str, Any]]]) -> None: ...

    def search(self, name: str, vector: Sequence[float], limit: int = 5,
               filter: str | None = None) -> Sequence[VectorHit]: ...

    def count(self, name: str) -> int: ...

    def delete_where(self, name: str, filter: str) -> int: ...


class MemoryContextStore:
    """A ContextStore in a dict: for the one-shot CLI and tests, where no stream owns the sessions."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str) -> None:
        self.values[key] = value


class EnrichmentSource(Protocol):
    """One data source for company and contact enrichment (the dealer's CRM, a commercial API).

    Each method returns the fields it knows (``None`` or ``{}`` when it knows nothing) and raises SourceError
    when it cannot answer. ``weight`` (0..1) is how far its data is trusted when sources disagree.
    """

    @property
    def name(self) -> str: ...

    @property
    def weight(self) -> float: ...

    async def lookup_company(self, name: str, domain: str | None = None) -> dict[str, Any] | None: ...

    async def lookup_contact(self, contact: dict[str, Any], company: str | None = None) -> dict[str, Any] | None: ...


class Mailer(Protocol):
    """Sends one email; ``message_id`` is derived from the task, so a resend after a crash can be recognised."""

    async def send_email(self, *, to: str, subject: str, body: str, message_id: str) -> str: ...


class SmsSender(Protocol):
    """Sends one text message through the dealer's SMS gateway; returns the gateway's message id."""

    async def send_sms(self, *, to: str, body: str, message_id: str) -> str: ...


class HttpCaller(Protocol):
    """Calls an HTTP endpoint; returns (status code, body as text). Raises on a refused host."""

    async def call(self, *, method: str, url: str, payload: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, str]: ...


class Crm(Protocol):
    """The dealer's CRM: records, tasks and appointments. ``key`` is the task's idempotency key: a call
    repeated with the same key (a task redone after a crash) returns the first call's answer, changing nothing."""

    async def upsert_record(self, *, key: str, dealer_id: str, object_type: str, record: dict[str, Any],
                            match_on: str | None = None) -> str: ...

    async def create_task(self, *, key: str, dealer_id: str, title: str, assignee_role: str | None,
                          priority: str | None, due_at: str | None, about: str | None,
                          context: str | None) -> str: ...

    async def book_appointment(self, *, key: str, dealer_id: str, customer: str, vehicle: str | None,
                               appointment_type: str | None, preferred: str | None,
                               duration_minutes: int) -> tuple[str, str]: ...
