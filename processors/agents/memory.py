"""Long-term agent memory in the vector store: what similar tasks were, who ran them and how it went.

One item per finished attempt of a learning agent: the embedding of the task's inputs (redacted first: no raw
PII in the store) with the agent, the outcome, the latency, the parameters the agent chose, and when. The
orchestrator recalls similar items when it chooses an agent (and hands them to the agent, which may reuse the
parameters that worked). Items older than the retention are deleted by ``expire``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from processors.agents.base import Recollection
from processors.ports import Embedder, VectorStore

COLLECTION = "agent_memory"


class VectorMemory:
    """Recall and remember task outcomes by input similarity (cosine over the embedder's vectors)."""

    def __init__(self, embedder: Embedder, vectors: VectorStore, redact: Callable[[str], str],
                 retention_days: float = 90.0, min_similarity: float = 0.6, limit: int = 10,
                 collection: str = COLLECTION, clock: Callable[[], float] = time.time) -> None:
        self.embedder, self.vectors, self.redact = embedder, vectors, redact
        self.retention_s, self.min_similarity, self.limit = retention_days * 86400, min_similarity, limit
        self.collection, self.clock = collection, clock
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self.vectors.ensure_collection(self.collection)
            self._ready = True

    def _vector(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed([self.redact(text)])[0]]

    def recall_sync(self, task_type: str, text: str) -> list[Recollection]:
        self._ensure()
        horizon = self.clock() - self.retention_s
        hits = self.vectors.search(self.collection, self._vector(text), self.limit,
                                   filter=f'payload["task_type"] == "{_quoted(task_type)}" '
                                          f'and payload["created_at"] >= {horizon:.0f}')
        return [Recollection(agent_id=str(hit.payload["agent_id"]), task_type=task_type,
                             success=bool(hit.payload["success"]), latency_ms=float(hit.payload["latency_ms"]),
                             similarity=hit.score, parameters=hit.payload.get("parameters") or {})
                for hit in hits if hit.score >= self.min_similarity]

    def remember_sync(self, task_type: str, text: str, agent_id: str, success: bool, latency_ms: float,
                      parameters: Mapping[str, Any]) -> None:
        self._ensure()
        payload = {"task_type": task_type, "agent_id": agent_id, "success": success,
                   "latency_ms": round(latency_ms, 3), "parameters": dict(parameters), "created_at": self.clock()}
        self.vectors.upsert(self.collection, [(uuid.uuid4().hex, self._vector(text), payload)])

    async def recall(self, task_type: str, text: str) -> list[Recollection]:
        return await asyncio.to_thread(self.recall_sync, task_type, text)

    async def remember(self, task_type: str, text: str, agent_id: str, success: bool, latency_ms: float,
                       parameters: Mapping[str, Any]) -> None:
        await asyncio.to_thread(self.remember_sync, task_type, text, agent_id, success, latency_ms, parameters)

    def expire(self) -> int:
        """Delete memories older than the retention; returns how many went."""
        self._ensure()
        return self.vectors.delete_where(self.collection,
                                         f'payload["created_at"] < {self.clock() - self.retention_s:.0f}')


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
