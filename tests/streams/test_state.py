"""The de-duplication store: what a restarted or rebalanced pipeline remembers, from the real broker."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from connectors.broker import EmbeddedBroker
from streams.settings import Settings
from streams.state import DedupStore, KeyValueStore
from streams.topics import TopicSpec, ensure_topics


def test_changelogged_ids_are_restored_and_expired_or_uncommitted_ones_are_not(broker: EmbeddedBroker) -> None:
    settings = Settings(bootstrap_servers=broker.bootstrap_servers)
    topic = f"dedup-{uuid.uuid4().hex[:8]}-changelog"
    now_ms = int(time.time() * 1000)
    fresh = [uuid.uuid4().bytes for _ in range(3)]
    expired, uncommitted = uuid.uuid4().bytes, uuid.uuid4().bytes
    store = DedupStore(topic, retention_s=3600)
    store.remember(0, fresh[0], now_ms)
    store.remember(0, expired, now_ms - 2 * 3600 * 1000)
    store.remember(1, fresh[1], now_ms)
    store.remember(1, fresh[2], now_ms)

    async def write_then_restore() -> DedupStore:
        await ensure_topics(settings, [TopicSpec(topic, (), 2, 1.0)])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        try:
            records = store.take_pending()
            assert sorted(p for p, _ in records) == [0, 1]  # one packed record per partition and batch
            for partition, value in records:
                await producer.send_and_wait(topic, value, partition=partition)
        finally:
            await producer.stop()
        store.remember(1, uncommitted, now_ms)  # handled, but its batch never reached the changelog
        store.drop([0, 1])
        assert not store.contains(1, uncommitted)
        restored = DedupStore(topic, retention_s=3600)
        assert await restored.restore(settings, [0, 1]) == 3
        return restored

    restored = asyncio.run(write_then_restore())
    assert restored.contains(0, fresh[0]) and restored.contains(1, fresh[1]) and restored.contains(1, fresh[2])
    assert not restored.contains(0, expired) and not restored.contains(1, uncommitted)
    assert not restored.contains(1, fresh[0])  # ids are per partition
    restored.remember(0, uuid.uuid4().bytes, now_ms - 2 * 3600 * 1000)
    assert restored.prune(now_ms) == 1 and restored.size() == 3


def test_table_keys_come_back_after_a_restart_and_idle_ones_are_tombstoned(broker: EmbeddedBroker,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(bootstrap_servers=broker.bootstrap_servers)
    topic = f"table-{uuid.uuid4().hex[:8]}-changelog"
    store = KeyValueStore("sessions", topic, partitions=4, retention_s=3600)
    store.put("chat-1", '{"workflow_id": "w-1"}')
    store.put("chat-1", '{"workflow_id": "w-2"}')  # the latest write wins
    store.put("chat-2", "idle")
    store.put("chat-3", "kept")
    idle_at = int(time.time() * 1000) + 3600 * 1000 + 1  # an hour and a moment later, chat-2 has been idle

    async def send(records: list[tuple[int, bytes, bytes | None]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        try:
            for partition, key, value in records:
                await producer.send_and_wait(topic, value, key=key, partition=partition)
        finally:
            await producer.stop()

    async def restore() -> KeyValueStore:
        restored = KeyValueStore("sessions", topic, partitions=4, retention_s=3600)
        await restored.restore(settings, range(4))
        return restored

    asyncio.run(ensure_topics(settings, [TopicSpec(topic, (), 4, 1.0, compacted=True)]))
    asyncio.run(send(store.take_pending()))
    restored = asyncio.run(restore())
    assert restored.get("chat-1") == '{"workflow_id": "w-2"}' and restored.get("chat-2") == "idle"
    assert restored.partition_of("chat-1") == store.partition_of("chat-1")  # Kafka's partitioner, like the source
    monkeypatch.setattr("streams.state.time.time", lambda: idle_at / 1000)
    store.put("chat-3", "kept")  # written again an hour later: not idle
    monkeypatch.undo()
    store.take_pending()
    assert store.prune(idle_at) == 2 and store.get("chat-2") is None and store.get("chat-1") is None
    tombstones = store.take_pending()
    assert sorted(key for _, key, value in tombstones if value is None) == [b"chat-1", b"chat-2"]
    asyncio.run(send(tombstones))
    after = asyncio.run(restore())
    assert after.get("chat-2") is None and after.get("chat-1") is None and after.get("chat-3") == "kept"
