"""Produce and collect real events on the test broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aiokafka import ConsumerRecord

from schemas.codec import AvroCodec
from schemas.models import Event
from streams.kafka import consumer, producer, send_event
from streams.settings import Settings
from streams.topics import TopicRegistry, ensure_topics


def publish(settings: Settings, topic: str, events: Sequence[Event], codec: AvroCodec | None = None) -> None:
    codec = codec or AvroCodec()

    async def run() -> None:
        await ensure_topics(settings, TopicRegistry(settings).specs.values())
        async with producer(settings) as client:
            await asyncio.gather(*[await send_event(client, codec, topic, event) for event in events])

    asyncio.run(run())


def publish_raw(settings: Settings, topic: str, values: Sequence[bytes], key: bytes = b"k") -> None:
    async def run() -> None:
        await ensure_topics(settings, TopicRegistry(settings).specs.values())
        async with producer(settings) as client:
            for value in values:
                await client.send_and_wait(topic, value, key=key)

    asyncio.run(run())


def collect(settings: Settings, topics: Sequence[str], until: Callable[[list[ConsumerRecord]], bool],
            timeout_s: float = 60.0, settle_s: float = 0.0) -> list[ConsumerRecord]:
    """Read ``topics`` from the beginning until ``until(records)`` holds (then ``settle_s`` more), or time out."""

    async def run() -> list[ConsumerRecord]:
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        settled_at: float | None = None
        async with consumer(settings, topics) as client:
            while time.monotonic() < deadline:
                for batch in (await client.getmany(timeout_ms=300)).values():
                    records.extend(batch)
                if settled_at is None and until(records):
                    settled_at = time.monotonic() + settle_s
                if settled_at is not None and time.monotonic() >= settled_at:
                    return records
        return records

    return asyncio.run(run())
