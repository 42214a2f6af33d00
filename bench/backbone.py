"""Backbone benchmark: a Faust pass-through pipeline per worker next to a plain aiokafka loop, same broker, same run.

Both do the same work per event: Avro decode + validation into the pydantic model, de-duplication on
event_id, a result event and an AIOperationMetric encoded and produced, trace headers forwarded. The Faust
worker is the real one (``streams.pipeline``), with its de-duplication table changelogged to the broker.

    .venv/bin/python bench/backbone.py --events 100000

Throughput: a backlog of N AgentTask events is drained; events/s = N / (last result - first result), from
the results' broker timestamps. Latency: events are then sent at a fixed rate below capacity and each
result's timestamp is compared with its input's. Results go to bench/results/backbone.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastavro import schemaless_reader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.broker import EmbeddedBroker  # noqa: E402
from processors.placeholder import PlaceholderAgentRunner  # noqa: E402
from schemas.codec import AvroCodec  # noqa: E402
from schemas.models import AgentTask, AIOperationMetric  # noqa: E402
from streams.kafka import send_event  # noqa: E402
from streams.pipeline import result_event_id  # noqa: E402
from streams.runtime import build_headers  # noqa: E402
from streams.settings import Settings, TopicNames  # noqa: E402

CODEC = AvroCodec()
PARTITIONS = 4


def topics(prefix: str) -> TopicNames:
    return TopicNames(**{k: f"{prefix}.{v}" for k, v in TopicNames().model_dump().items()})


def tasks(n: int) -> list[bytes]:
    template = AgentTask(dealer_id="dealer-1", task_id="t", workflow_id="wf", task_type="company_lookup",
                         input_json='{"company": "Acme Fleet Services"}')
    return [CODEC.encode(template.model_copy(update={"event_id": uuid.uuid4(), "workflow_id": f"wf-{i % 64}",
                                                      "task_id": f"t-{i}"})) for i in range(n)]


async def fill(bootstrap: str, topic: str, values: list[bytes], rate: float | None = None) -> dict[bytes, float]:
    """Produce values (keyed like AgentTask: by workflow), optionally paced; returns event_id -> send time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262144)
    await producer.start()
    sent: dict[bytes, float] = {}
    started = time.monotonic()
    try:
        for i, value in enumerate(values):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await producer.send(topic, value, key=f"wf-{i % 64}".encode())
            sent[value[10:26]] = time.time()
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def drain(bootstrap: str, topic: str, expected: int, timeout_s: float) -> list[tuple[int, bytes]]:
    """Read ``expected`` results; returns (broker timestamp ms, source event_id bytes) for each."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    await consumer.topics()
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    seen: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                for r in records:
                    seen.append((r.timestamp, _source_id(r.value)))
    finally:
        await consumer.stop()
    return seen


def _source_id(value: bytes) -> bytes:
    _, record = CODEC.decode_record(value)
    return uuid.UUID(str(record["source_event_id"])).bytes


# -- the plain aiokafka loop: same work, no framework -------------------------------------------------------------

async def plain_loop(bootstrap: str, names: TopicNames, expected: int) -> None:
    consumer = AIOKafkaConsumer(names.agents_tasks, bootstrap_servers=bootstrap, group_id="plain-loop",
                                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262144)
    await consumer.start()
    await producer.start()
    processor, seen, done = PlaceholderAgentRunner(), set(), 0
    try:
        while done < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                for record in records:
                    event = CODEC.decode(record.value, AgentTask)
                    done += 1
                    if event.event_id in seen:
                        continue
                    started = time.perf_counter()
                    outcome = processor.process(event)
                    result = outcome.results[0].model_copy(update={"event_id": result_event_id(event, "plain", 0)})
                    headers = list(build_headers(CODEC, type(result), dict(record.headers)).items())
                    await producer.send(names.agents_results, CODEC.encode(result), key=result.key().encode(),
                                        headers=headers)
                    metric = AIOperationMetric(dealer_id=event.dealer_id, source_event_id=event.event_id,
                                               processor=processor.name, operation_type=processor.operation_type,
                                               pipeline="plain", model="none", provider="placeholder",
                                               latency_ms=(time.perf_counter() - started) * 1000, success=True)
                    await producer.send(names.metrics_events, CODEC.encode(metric), key=metric.key().encode())
                    seen.add(event.event_id)
            if batches:
                await producer.flush()
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
