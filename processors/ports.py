"""The engines processors ask for, as protocols: connectors implement them, streams/ injects them.

A processor never imports a connector; it names what it needs here and gets it in its constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel


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


class MemoryContextStore:
    """A ContextStore in a dict: for the one-shot CLI and tests, where no stream owns the sessions."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str) -> None:
        self.values[key] = value
