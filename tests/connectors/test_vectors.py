"""The Milvus vector store on embedded milvus-lite: nearest by cosine, payload filters, replace, delete, reopen."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from connectors.vectors import MilvusVectorStore, VectorHit, VectorStoreError

KNOWLEDGE = [
    ("kb-oil", [1.0, 0.0, 0.0, 0.0], {"domain": "service", "title": "Oil change intervals"}),
    ("kb-brakes", [0.8, 0.6, 0.0, 0.0], {"domain": "service", "title": "Brake pad wear"}),
    ("kb-apr", [0.9, 0.0, 0.43, 0.0], {"domain": "finance", "title": "Current APR offers"}),
    ("kb-wipers", [0.0, 0.0, 0.0, 1.0], {"domain": "parts", "title": "Wiper blades in stock"}),
]


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "nested" / "milvus.db")  # the parent does not exist yet


@pytest.fixture
def store(db_path: str) -> Iterator[MilvusVectorStore]:
    with MilvusVectorStore(db_path, dimension=4) as opened:
        opened.ensure_collection("knowledge")
        opened.upsert("knowledge", KNOWLEDGE)
        yield opened


def test_search_returns_nearest_by_cosine_with_payload(store: MilvusVectorStore) -> None:
    hits = store.search("knowledge", [1.0, 0.05, 0.0, 0.0], limit=3)

    assert [hit.id for hit in hits] == ["kb-oil", "kb-apr", "kb-brakes"]
    query = np.array([1.0, 0.05, 0.0, 0.0])
    stored = np.array([KNOWLEDGE[0][1], KNOWLEDGE[2][1], KNOWLEDGE[1][1]])
    cosine = stored @ query / np.linalg.norm(stored, axis=1) / np.linalg.norm(query)
    np.testing.assert_allclose([hit.score for hit in hits], cosine, atol=1e-5)
    assert hits[0] == VectorHit("kb-oil", hits[0].score, {"domain": "service", "title": "Oil change intervals"})
    assert store.count("knowledge") == 4


def test_filter_on_a_payload_key(store: MilvusVectorStore) -> None:
    hits = store.search("knowledge", [1.0, 0.05, 0.0, 0.0], filter='payload["domain"] == "service"')

    assert [hit.id for hit in hits] == ["kb-oil", "kb-brakes"]
    either = 'payload["domain"] == "finance" or payload["domain"] == "parts"'
    assert {hit.id for hit in store.search("knowledge", [0, 0, 0, 1.0], filter=either)} == {"kb-apr", "kb-wipers"}


def test_a_bad_filter_is_reported_with_the_collection(store: MilvusVectorStore) -> None:
    with pytest.raises(VectorStoreError, match="search on 'knowledge'"):
        store.search("knowledge", [1.0, 0.0, 0.0, 0.0], filter="domain ==")


def test_upsert_of_an_existing_id_replaces_vector_and_payload(store: MilvusVectorStore) -> None:
    store.upsert("knowledge", [("kb-oil", [0.0, 0.0, 0.0, 1.0], {"domain": "parts"})])

    assert store.count("knowledge") == 4
    (hit,) = store.search("knowledge", [0.0, 0.0, 0.0, 1.0], limit=1, filter='id == "kb-oil"')
    assert hit.score == pytest.approx(1.0, abs=1e-6)
    assert hit.payload == {"domain": "parts"}  # no "title" left over from the old row
    assert store.search("knowledge", [1.0, 0.0, 0.0, 0.0], limit=1)[0].id == "kb-apr"


def test_delete_removes_items(store: MilvusVectorStore) -> None:
    store.delete("knowledge", ["kb-oil", "kb-unknown"])

    assert store.count("knowledge") == 3
    assert "kb-oil" not in {hit.id for hit in store.search("knowledge", [1.0, 0.0, 0.0, 0.0], limit=10)}


def test_flushed_items_are_still_found(store: MilvusVectorStore) -> None:
    store.flush("knowledge")
    store.upsert("knowledge", [("kb-tires", [0.0, 1.0, 0.0, 0.0], {"domain": "service"})])

    assert store.count("knowledge") == 5
    assert [hit.id for hit in store.search("knowledge", [0.0, 1.0, 0.0, 0.0], limit=2)] == ["kb-tires", "kb-brakes"]


def test_data_survives_closing_and_reopening(db_path: str) -> None:
    with MilvusVectorStore(db_path, dimension=4) as first:
        first.ensure_collection("knowledge")
        first.upsert("knowledge", KNOWLEDGE)
        first.delete("knowledge", ["kb-wipers"])

    with MilvusVectorStore(db_path, dimension=4) as reopened:
        reopened.ensure_collection("knowledge")  # loads the collection, released after a reopen
        hits = reopened.search("knowledge", [0.8, 0.6, 0.0, 0.0], limit=10)

    assert [hit.id for hit in hits][:1] == ["kb-brakes"]
    assert {hit.id for hit in hits} == {"kb-oil", "kb-brakes", "kb-apr"}
    assert hits[0].payload["title"] == "Brake pad wear"


def test_reopening_with_another_dimension_is_refused(db_path: str) -> None:
    with MilvusVectorStore(db_path, dimension=4) as first:
        first.ensure_collection("knowledge")

    with MilvusVectorStore(db_path, dimension=384) as other, pytest.raises(VectorStoreError, match="4-d"):
        other.ensure_collection("knowledge")


def test_vectors_of_the_wrong_size_are_refused(store: MilvusVectorStore) -> None:
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        store.upsert("knowledge", [("kb-short", [1.0, 0.0], {})])


def test_two_threads_write_and_search_at_once(store: MilvusVectorStore) -> None:
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        rng = np.random.default_rng(worker)
        try:
            for step in range(25):
                vector = rng.random(4) + 0.01
                store.upsert("knowledge", [(f"w{worker}-{step}", vector.tolist(), {"worker": worker})])
                store.search("knowledge", vector.tolist(), limit=3, filter=f'payload["worker"] == {worker}')
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert store.count("knowledge") == 4 + 50


def test_a_path_held_by_another_process_is_refused_with_a_hint(db_path: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, db_path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorStoreError, match="one process"):
            MilvusVectorStore(db_path, dimension=4)
    finally:
        holder.communicate("", timeout=30)


HOLD_OPEN = """
import sys
from connectors.vectors import MilvusVectorStore
with MilvusVectorStore(sys.argv[1], dimension=4):
    print("open", flush=True)
    sys.stdin.read()
"""
