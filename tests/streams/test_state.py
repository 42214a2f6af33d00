"""The de-duplication store: what a restarted or rebalanced pipeline remembers, from the real broker."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer

from connectors.broker import EmbeddedBroker
from streams.settings import Settings
from streams.state import DedupStore
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
