"""Plain aiokafka clients for the CLI (publish, tail, dlq, demo): one place that applies the settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas.codec import AvroCodec
from schemas.models import Event
from streams.runtime import build_headers
from streams.settings import Settings
from streams.tracing import new_trace_headers


@asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap(), acks="all", linger_ms=5,
                              max_request_size=settings.max_message_bytes, **settings.kafka_security())
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


def event_headers(codec: AvroCodec, event: Event, span_name: str, topic: str | None = None) -> list[tuple[str, bytes]]:
    """Headers of an event entering the system here: a new trace, content type and schema id."""
    return list(build_headers(codec, type(event), new_trace_headers(span_name, topic)).items())


async def send_event(client: AIOKafkaProducer, codec: AvroCodec, topic: str, event: Event) -> asyncio.Future[Any]:
    """Queue the event for sending; await the returned future for the broker's acknowledgement."""
    future: asyncio.Future[Any] = await client.send(topic, codec.encode(event), key=event.key().encode(),
                                                    headers=event_headers(codec, event, f"send {topic}", topic))
    return future


@asynccontextmanager
async def consumer(settings: Settings, topics: Sequence[str], group_id: str | None = None,
                   from_beginning: bool = True) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer assigned to every partition of ``topics``.

    With ``group_id`` it starts at the group's committed offsets (and may ``commit()``), without joining the
    group: no rebalance wait, and the CLI never steals partitions from a worker.
    """
    client = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap(), group_id=group_id,
                              enable_auto_commit=False,
                              auto_offset_reset="earliest" if from_beginning else "latest",
                              **settings.kafka_security())
    await client.start()
    try:
        await client.topics()  # refresh metadata so partitions_for_topic knows every topic
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(client.partitions_for_topic(t) or [])]
        client.assign(partitions)
        for tp in partitions:
            committed = await client.committed(tp) if group_id else None
            if committed is not None:
                client.seek(tp, committed)
            elif from_beginning:
                await client.seek_to_beginning(tp)
            else:
                await client.seek_to_end(tp)
        yield client
    finally:
        await client.stop()


async def read_to_end(client: AIOKafkaConsumer, timeout_s: float = 30.0,
                      max_records: int = 10_000) -> AsyncIterator[ConsumerRecord]:
    """Every record from the current positions up to the end of each assigned partition.

    The end is the high watermark of the fetch responses, not ListOffsets: Tansu answers ListOffsets(latest)
    with the last batch's base offset + 1, which would stop the read before the last batch's other records.
    """
    partitions = client.assignment()
    deadline = time.monotonic() + timeout_s
    remaining = set(partitions)
    while remaining and time.monotonic() < deadline:
        batches = await client.getmany(*remaining, timeout_ms=200, max_records=max_records)
        for records in batches.values():
            for record in records:
                yield record
        for tp in list(remaining):
            highwater = client.highwater(tp)
            if highwater is not None and await client.position(tp) >= highwater:
                remaining.discard(tp)
    if remaining:
        raise TimeoutError(f"could not read {sorted(map(str, remaining))} to the end within {timeout_s:.0f}s")
