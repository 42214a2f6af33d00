"""The vector store: ids, unit vectors and JSON payloads in Milvus, searched by cosine similarity.

Embedded milvus-lite on a local ``*.db`` path by default (no server to run); Milvus standalone by ``http://`` URI.
Each collection has three fields: ``id`` (VARCHAR primary key), ``vector`` (FLOAT_VECTOR) and ``payload`` (JSON),
so filters address payload keys as ``payload["domain"] == "service"``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.exceptions import ConnectError, MilvusUnavailableException

from schemas.errors import TransientError

ID_FIELD = "id"
VECTOR_FIELD = "vector"
PAYLOAD_FIELD = "payload"
MAX_ID_LENGTH = 512
_REMOTE_SCHEMES = ("http://", "https://", "tcp://", "unix:")


class VectorStoreError(RuntimeError):
    """Milvus refused an operation: a bad filter expression, a missing collection, a schema that does not fit."""


class VectorStoreUnavailable(TransientError):
    """Milvus could not be reached or asked to retry; the pipeline retries with backoff."""


@dataclass(frozen=True)
class VectorHit:
    """One search result: ``score`` is the cosine similarity to the query (1 is identical, higher is nearer)."""

    id: str
    score: float
    payload: dict[str, Any]


@dataclass
class _LocalDatabase:
    """One embedded database directory shared by every store of this process that opened it."""

    lock: threading.Lock
    users: int


# milvus-lite serves each path from one in-process server that is not safe for concurrent writes to a collection,
# so all stores on a path share one lock, and the last store to close stops the server (releasing the directory).
_local_databases: dict[str, _LocalDatabase] = {}
_local_databases_lock = threading.Lock()


class MilvusVectorStore:
    """Vectors of one ``dimension`` in named collections of one Milvus database.

    ``uri`` is a local path ending in ``.db`` (embedded milvus-lite; parent directories are created) or the URL
    of a Milvus server, e.g. ``http://milvus:19530`` with ``token`` ``"user:password"``. Safe to share between
    threads.

    >>> store = MilvusVectorStore("var/milvus.db", dimension=3)  # doctest: +SKIP
    >>> store.ensure_collection("knowledge")  # doctest: +SKIP
    >>> store.upsert("knowledge", [("kb-1", [1.0, 0.0, 0.0], {"domain": "service"})])  # doctest: +SKIP
    >>> store.search("knowledge", [1.0, 0.1, 0.0], filter='payload["domain"] == "service"')  # doctest: +SKIP
    [VectorHit(id='kb-1', score=0.995..., payload={'domain': 'service'})]
    """

    def __init__(self, uri: str, dimension: int, token: str | None = None) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be positive, got {dimension}")
        self.uri = uri
        self.dimension = dimension
        self._local_path: str | None = None
        self._lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        local = not uri.startswith(_REMOTE_SCHEMES)
        if local:
            if not uri.endswith(".db"):
                raise ValueError(f"local Milvus path {uri!r} must end in '.db' (e.g. var/milvus.db), or use http://")
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            self._local_path = os.path.abspath(uri)
            self._lock = _open_local(self._local_path)
        try:
            with _translated("connect", uri):
                self._client = MilvusClient(uri=uri, token=token or "")
        except VectorStoreError as exc:
            self._release_local()
            if local:
                raise VectorStoreError(
                    f"{exc} (milvus-lite lets one process open {uri!r} at a time: is another worker using it? "
                    "Several processes need Milvus standalone, e.g. http://milvus:19530)"
                ) from exc.__cause__
            raise
        except BaseException:
            self._release_local()
            raise
        self._closed = False

    def ensure_collection(self, name: str) -> None:
        """Create collection ``name`` if it does not exist, and load it so it can be searched.

        Loading is needed every time a database is reopened: milvus-lite keeps collections released on disk.
        """
        with self._lock, _translated("ensure_collection", name):
            if not self._client.has_collection(name):
                schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field(ID_FIELD, DataType.VARCHAR, is_primary=True, max_length=MAX_ID_LENGTH)
                schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=self.dimension)
                schema.add_field(PAYLOAD_FIELD, DataType.JSON)
                index = self._client.prepare_index_params()
                index.add_index(field_name=VECTOR_FIELD, index_type="AUTOINDEX", metric_type="COSINE")
                # Strong: a search right after an upsert sees it (Milvus standalone defaults to Bounded staleness).
                self._client.create_collection(name, schema=schema, consistency_level="Strong")
                # sync=False: the index is registered at once, and pymilvus would otherwise poll its build state
                # every 0.5 s, though an empty collection has nothing to build.
                self._client.create_index(name, index, sync=False)
            else:
                self._check_dimension(name)
            self._client.load_collection(name)

    def upsert(self, name: str, items: Sequence[tuple[str, Sequence[float], dict[str, Any]]]) -> None:
        """Insert or replace ``(id, vector, payload)`` items; a replaced id keeps nothing of its old payload."""
        if not items:
            return
        rows = [self._row(item_id, vector, payload) for item_id, vector, payload in items]
        with self._lock, _translated("upsert", name):
            self._client.upsert(name, rows)

    def search(self, name: str, vector: Sequence[float], limit: int = 5, filter: str | None = None) -> list[VectorHit]:
        """The ``limit`` items most similar to ``vector``, best first, among those matching ``filter``.

        ``filter`` is a Milvus boolean expression over ``id`` and payload keys, e.g.
        ``payload["domain"] == "service" and payload["dealer_id"] == "D-17"``. milvus-lite does not accept
        ``in`` on a payload key; write ``payload["domain"] == "sales" or payload["domain"] == "finance"``.
        """
        query = self._vector(vector)
        with self._lock, _translated("search", name):
            results = self._client.search(
                name,
                data=[query],
                limit=limit,
                filter=filter or "",
                output_fields=[PAYLOAD_FIELD],
                search_params={"metric_type": "COSINE"},
            )
        hits: list[VectorHit] = []
        for hit in results[0] if results else []:
            entity = hit.get("entity") or {}
            hits.append(
                VectorHit(id=str(hit["id"]), score=float(hit["distance"]), payload=entity.get(PAYLOAD_FIELD) or {})
            )
        return hits

    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove the items with these ids; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of ids, not one string")
        if not ids:
            return
        with self._lock, _translated("delete", name):
            self._client.delete(name, ids=list(ids))

    def delete_where(self, name: str, filter: str) -> int:
        """Remove the items matching ``filter`` (e.g. ``payload["created_at"] < 1700000000``); returns how many."""
        with self._lock, _translated("delete", name):
            result = self._client.delete(name, filter=filter)
        return int(result.get("delete_count", 0)) if isinstance(result, dict) else len(result or [])

    def count(self, name: str) -> int:
        """How many items collection ``name`` holds."""
        with self._lock, _translated("count", name):
            rows = self._client.query(name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def flush(self, name: str) -> None:
        """Persist recent writes as an indexed segment; call after a bulk load.

        milvus-lite scans unflushed rows one by one (about 30 ms per 1,000 rows per search) until they reach its
        128 MiB memtable budget; flushed rows are searched through the index.
        """
        with self._lock, _translated("flush", name):
            self._client.flush(name)

    def close(self) -> None:
        """Close the connection; for a local path the last store to close also stops the embedded database."""
        if self._closed:
            return
        self._closed = True
        try:
            with _translated("close", self.uri):
                self._client.close()
        finally:
            self._release_local()

    def __enter__(self) -> MilvusVectorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _row(self, item_id: str, vector: Sequence[float], payload: dict[str, Any]) -> dict[str, Any]:
        if not item_id or len(item_id.encode()) > MAX_ID_LENGTH:
            raise ValueError(f"vector id must be 1 to {MAX_ID_LENGTH} bytes, got {item_id!r:.80}")
        return {ID_FIELD: item_id, VECTOR_FIELD: self._vector(vector), PAYLOAD_FIELD: dict(payload)}

    def _vector(self, vector: Sequence[float]) -> list[float]:
        values = np.asarray(vector, dtype=np.float32)
        if values.shape != (self.dimension,):
            raise ValueError(f"vector must have shape ({self.dimension},), got {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("vector contains NaN or infinity")
        return [float(value) for value in values]

    def _check_dimension(self, name: str) -> None:
        fields = self._client.describe_collection(name).get("fields", [])
        for field in fields:
            if field.get("name") == VECTOR_FIELD:
                dim = int(field.get("params", {}).get("dim", self.dimension))
                if dim != self.dimension:
                    raise VectorStoreError(
                        f"collection {name!r} holds {dim}-d vectors but this store embeds {self.dimension}-d: "
                        "the embedding model changed; re-index into a new collection"
                    )
                return
        raise VectorStoreError(f"collection {name!r} has no {VECTOR_FIELD!r} field: it was not made by this store")

    def _release_local(self) -> None:
        if self._local_path is not None:
            _close_local(self._local_path)
            self._local_path = None


def _open_local(path: str) -> threading.Lock:
    with _local_databases_lock:
        database = _local_databases.setdefault(path, _LocalDatabase(threading.Lock(), 0))
        database.users += 1
        return database.lock


def _close_local(path: str) -> None:
    with _local_databases_lock:
        database = _local_databases[path]
        database.users -= 1
        if database.users:
            return
        del _local_databases[path]
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(path)


@contextlib.contextmanager
def _translated(operation: str, target: str) -> Iterator[None]:
    """Milvus errors as ours: unreachable or retriable -> VectorStoreUnavailable, anything else -> VectorStoreError."""
    try:
        yield
    except (ConnectError, MilvusUnavailableException) as exc:
        raise VectorStoreUnavailable(f"Milvus {operation} on {target!r}: {exc.message}") from exc
    except MilvusException as exc:
        if exc.retriable or not isinstance(exc.code, int):  # a gRPC status code: the server did not answer
            raise VectorStoreUnavailable(f"Milvus {operation} on {target!r}: {exc.message}") from exc
        raise VectorStoreError(f"Milvus {operation} on {target!r} failed: {exc.message}") from exc
