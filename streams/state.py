"""De-duplication state per source partition, changelogged to the broker so a restarted worker keeps it.

The batched pipelines consume with their own consumer group (see ``streams.pipeline``), so their state follows
their own partition assignment: restored from ``<app>-<pipeline>-processed-changelog`` when a partition is
assigned, dropped when it is revoked. Entries older than the retention are forgotten (the changelog topic has
the same retention), which bounds memory: an event replayed after that is processed again.
"""

from __future__ import annotations

import struct
import time
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import murmur2

from streams.kafka import read_to_end
from streams.settings import Settings

_ENTRY = struct.Struct(">16sq")  # event id (UUID bytes), occurred_at in ms


class DedupStore:
    """event_id -> occurred_at (ms) per partition; writes queue up and are flushed with the batch's outputs."""

    def __init__(self, changelog_topic: str, retention_s: float) -> None:
        self.changelog_topic = changelog_topic
        self.retention_ms = int(retention_s * 1000)
        self._seen: dict[int, dict[bytes, int]] = {}
        self._pending: dict[int, list[bytes]] = {}

    def contains(self, partition: int, event_id: bytes) -> bool:
        return event_id in self._seen.get(partition, ())

    def remember(self, partition: int, event_id: bytes, occurred_ms: int) -> None:
        """Record a 16-byte event id as processed."""
        self._seen.setdefault(partition, {})[event_id] = occurred_ms
        self._pending.setdefault(partition, []).append(_ENTRY.pack(event_id, occurred_ms))

    def take_pending(self) -> list[tuple[int, bytes]]:
        """Changelog records (partition, value) for the ids remembered since the last call: one record per
        partition and batch, packed, so de-duplication costs one message per batch instead of one per event."""
        pending, self._pending = self._pending, {}
        return [(partition, b"".join(entries)) for partition, entries in pending.items()]

    def size(self) -> int:
        return sum(map(len, self._seen.values()))

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget partitions, including ids remembered but not yet changelogged (their batch never committed)."""
        for partition in partitions:
            self._seen.pop(partition, None)
            self._pending.pop(partition, None)

    def prune(self, now_ms: int | None = None) -> int:
        """Forget entries past the retention; returns how many were dropped."""
        horizon = (now_ms if now_ms is not None else int(time.time() * 1000)) - self.retention_ms
        dropped = 0
        for seen in self._seen.values():
            old = [key for key, occurred in seen.items() if occurred < horizon]
            for key in old:
                del seen[key]
            dropped += len(old)
        return dropped

    async def restore(self, settings: Settings, partitions: Iterable[int], restore_timeout_s: float = 300.0) -> int:
        """Read the changelog of ``partitions`` from the start to its end; returns entries loaded."""
        loaded, horizon = 0, int(time.time() * 1000) - self.retention_ms
        async for partition, record in read_changelog(settings, self.changelog_topic, partitions, restore_timeout_s):
            seen = self._seen.setdefault(partition, {})
            if record is None:
                continue
            for event_id, occurred in _ENTRY.iter_unpack(record.value or b""):
                if occurred >= horizon:
                    seen[event_id] = occurred
                    loaded += 1
        return loaded


async def read_changelog(settings: Settings, topic: str, partitions: Iterable[int],
                         timeout_s: float) -> AsyncIterator[tuple[int, ConsumerRecord | None]]:
    """Every record of ``partitions`` of a changelog, from its start to its end; each partition is announced
    first with ``None`` (so an empty one is still restored, as empty)."""
    tps = [TopicPartition(topic, p) for p in partitions]
    if not tps:
        return
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap(), enable_auto_commit=False,
                                fetch_max_wait_ms=50, **settings.kafka_security())
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            yield tp.partition, None
        async for record in read_to_end(consumer, timeout_s=timeout_s):
            yield record.partition, record
    finally:
        await consumer.stop()


class KeyValueStore:
    """A table of key -> value kept per partition of the stream it serves, changelogged like DedupStore.

    A key lives in the partition Kafka's default partitioner gives it, which is the partition of the source
    record keyed by the same value (a chat session's messages and its context). Writes queue up and reach the
    changelog with the batch's outputs, before the batch's offsets are committed; the latest write per key wins
    on restore. A key not written for ``retention_s`` is dropped and tombstoned, which bounds memory and the
    compacted changelog. Processors see it through ``get``/``put`` of strings.
    """

    def __init__(self, name: str, changelog_topic: str, partitions: int, retention_s: float = 30 * 86400) -> None:
        self.name, self.changelog_topic, self.partitions = name, changelog_topic, partitions
        self.retention_ms = int(retention_s * 1000)
        self._values: dict[int, dict[str, tuple[str, int]]] = {}  # key -> (value, written at, ms)
        self._pending: list[tuple[int, bytes, bytes | None]] = []

    def partition_of(self, key: str) -> int:
        return int(murmur2(key.encode()) & 0x7FFFFFFF) % self.partitions

    def get(self, key: str, partition_key: str | None = None) -> str | None:
        """The value of ``key``; ``partition_key`` is the source key it lives with when that is not ``key``
        itself (a workflow's runs live with the workflow id)."""
        entry = self._values.get(self.partition_of(partition_key or key), {}).get(key)
        return entry[0] if entry else None

    def put(self, key: str, value: str) -> None:
        """Set ``key``; its changelog record goes out with the batch's outputs."""
        self._pending.append(self.put_now(key, value))

    def put_now(self, key: str, value: str, partition_key: str | None = None) -> tuple[int, bytes, bytes]:
        """Set ``key`` and return its changelog record without queueing it: the caller sends it and waits for
        the ack (state that must be durable before an effect, not at the batch's end)."""
        partition = self.partition_of(partition_key or key)
        self._values.setdefault(partition, {})[key] = (value, int(time.time() * 1000))
        return (partition, key.encode(), value.encode())

    def items(self, partitions: Iterable[int]) -> list[tuple[str, str]]:
        """(key, value) of every key held for these partitions."""
        return [(key, value) for partition in partitions for key, (value, _) in self._values.get(partition, {}).items()]

    def take_pending(self) -> list[tuple[int, bytes, bytes | None]]:
        """Changelog records (partition, key, value; None deletes the key) written since the last call."""
        pending, self._pending = self._pending, []
        return pending

    def size(self) -> int:
        return sum(map(len, self._values.values()))

    def prune(self, now_ms: int | None = None) -> int:
        """Drop keys not written within the retention, tombstoning them in the changelog; returns how many."""
        horizon = (now_ms if now_ms is not None else int(time.time() * 1000)) - self.retention_ms
        dropped = 0
        for partition, values in self._values.items():
            for key in [k for k, (_, written) in values.items() if written < horizon]:
                del values[key]
                self._pending.append((partition, key.encode(), None))
                dropped += 1
        return dropped

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget partitions (revoked, or about to be restored from the changelog)."""
        dropped = set(partitions)
        for partition in dropped:
            self._values.pop(partition, None)
        self._pending = [entry for entry in self._pending if entry[0] not in dropped]

    async def restore(self, settings: Settings, partitions: Iterable[int], restore_timeout_s: float = 300.0) -> int:
        """Read the changelog of ``partitions`` to its end; returns the keys loaded."""
        horizon = int(time.time() * 1000) - self.retention_ms
        restored: set[int] = set()
        async for partition, record in read_changelog(settings, self.changelog_topic, partitions, restore_timeout_s):
            values = self._values.setdefault(partition, {})
            restored.add(partition)
            if record is None or record.key is None:
                continue
            key = record.key.decode()
            if record.value is None or record.timestamp < horizon:
                values.pop(key, None)  # a tombstone, or a key that has expired since
            else:
                values[key] = (record.value.decode(), record.timestamp)
        return sum(len(self._values[partition]) for partition in restored)
