"""`auterity demo`: the whole system on the embedded defaults, from sample events to the monitoring table."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from connectors.broker import EmbeddedBroker
from schemas.codec import AvroCodec
from schemas.models import AgentTask, CallRecorded, ConversationMessage, Event
from streams.kafka import consumer, producer, send_event
from streams.pipelines.documents import received_document
from streams.runtime import make_codec
from streams.settings import Settings
from streams.topics import TopicRegistry, dlq_topic, ensure_topics

DEALERS = ("dealer-riverside-ford", "dealer-lakeside-toyota")
REQUESTS = (  # two per chat session: the second message of the first session changes its workflow
    "Send a review request by email two days after a vehicle is delivered",
    "Make it 5 days instead",
    "When a web lead for a used F-150 comes in, email the customer within 5 minutes and create a CRM task",
    "Call back every missed call from the service line within one business hour",
    "Text service customers a reminder 30 days before their next oil change is due",
    "Why didn't the oil change reminders go out yesterday?",
)


SAMPLES = Path(__file__).with_name("samples")
SAMPLE_CALL = SAMPLES / "service-call.ogg"  # stereo: agent left, customer right
SAMPLE_DOCUMENTS = (SAMPLES / "repair-order.png", SAMPLES / "drivers-license.jpg")  # a scan and a phone photo


def sample_events(settings: Settings, per_topic: int) -> dict[str, list[Event]]:
    topics = settings.topics
    call = SAMPLE_CALL.read_bytes()
    scans = [(path.name, path.read_bytes()) for path in SAMPLE_DOCUMENTS]
    batch: dict[str, list[Event]] = {}
    batch[topics.conversations_messages] = [
        ConversationMessage(dealer_id=DEALERS[i // 2 % 2], session_id=f"session-{i // 2}", user_id=f"staff-{i}",
                            user_role="service_manager", text=REQUESTS[i % len(REQUESTS)])
        for i in range(per_topic)]
    batch[topics.documents_received] = [
        received_document(settings, scans[i % 2][1], document_id=f"DOC-{1000 + i}", dealer_id=DEALERS[i % 2],
                          filename=scans[i % 2][0], source="scanner")
        for i in range(per_topic)]
    batch[topics.calls_recorded] = [
        CallRecorded(dealer_id=DEALERS[i % 2], call_id=f"call-{i}", content_type="audio/ogg", content=call,
                     sha256=hashlib.sha256(call).hexdigest(), size_bytes=len(call), agent_id=f"bdc-{i % 3}")
        for i in range(per_topic)]
    batch[topics.agents_tasks] = [*prospect_run(DEALERS[0])]
    return batch


def prospect_run(dealer_id: str) -> list[AgentTask]:
    """One run of a fleet-prospect workflow over the shipped CRM sample: look the company and its fleet director
    up, write a 3-email sequence, log the prospect in the CRM and give a salesperson a call task."""
    steps: list[tuple[str, str, list[str], dict[str, Any], dict[str, str]]] = [
        ("lookup", "enrich_company", [], {}, {"company_name": "trigger.company"}),
        ("contact", "enrich_contact", [], {}, {"contact": "trigger.contact", "company": "trigger.company"}),
        ("sequence", "generate_email_sequence", ["lookup", "contact"], {"goal": "book a fleet consultation"},
         {"audience": "trigger.segment", "context": "contact.contact"}),
        ("log", "crm_update", ["lookup"], {"object": "prospect", "match_on": "name"}, {"record": "lookup.company"}),
        ("call", "create_task", ["sequence", "log"], {"title": "Call the fleet director about the consultation",
                                                      "assignee_role": "fleet_sales", "due_in_minutes": "60"},
         {"about": "log.record_id"}),
    ]
    trigger = {"company": "Harbor Fleet Services", "contact": "dana.whitfield@harborfleet.com",
               "segment": "fleet_prospect"}
    return [AgentTask(dealer_id=dealer_id, workflow_id="wf-demo-fleet-prospect", run_id="demo", task_id=task_id,
                      task_type=task_type, depends_on=deps, task_count=len(steps),
                      input_json=json.dumps({"config": config, "inputs": inputs, "trigger": trigger}))
            for task_id, task_type, deps, config, inputs in steps]


def _start_worker(settings: Settings, bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AUTERITY_BOOTSTRAP_SERVERS": bootstrap, "AUTERITY_WEB_PORT": str(settings.web_port)}
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def _publish_and_collect(settings: Settings, codec: AvroCodec, per_topic: int, timeout_s: float,
                               console: Console, worker: subprocess.Popen[bytes]) -> tuple[Counter[str], Counter[str]]:
    registry = TopicRegistry(settings)
    await ensure_topics(settings, registry.specs.values())
    batch = sample_events(settings, per_topic)
    missing = {spec.name for spec in registry.inbound()} - set(batch)
    assert not missing, f"the demo has no sample for {missing}"
    topics = settings.topics
    async with producer(settings) as client:
        sent = [await send_event(client, codec, topic, event) for topic, events in batch.items() for event in events]
        await asyncio.gather(*sent)
        # Two bad events, to show the DLQ: bytes that are no event, and an event of the wrong type.
        await client.send_and_wait(topics.documents_received, b"%PDF-1.7 not an avro event", key=b"dealer-x")
        await client.send_and_wait(topics.documents_received, codec.encode(batch[topics.calls_recorded][0]),
                                   key=b"dealer-x")
    console.print(f"published {sum(map(len, batch.values()))} events to {len(batch)} inbound topics, "
                  "plus 2 malformed events to documents.received")
    expected: Counter[str] = Counter({
        topics.conversations_analyzed: per_topic, topics.workflows_generated: per_topic,
        topics.documents_analyzed: per_topic, topics.calls_analyzed: per_topic,
        topics.agents_results: len(batch[topics.agents_tasks]) + 1,  # a TaskResult each, and the WorkflowResult
        topics.metrics_events: 4 * per_topic + len(batch[topics.agents_tasks]), dlq_topic(topics.documents_received): 2,
    })
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    async with consumer(settings, list(expected)) as client:
        while time.monotonic() < deadline and any(seen[t] < n for t, n in expected.items()):
            if worker.poll() is not None:
                console.print(f"[red]the worker exited with code {worker.returncode}[/]")
                break
            for tp, records in (await client.getmany(timeout_ms=500)).items():
                for record in records:
                    seen[tp.topic] += 1
                    event: Event = codec.decode(record.value or b"")
                    console.print(f"  [cyan]{tp.topic:<24}[/] {type(event).__name__:<20} {_describe(event)}")
    return expected, seen


def _describe(event: Event) -> str:
    data = event.model_dump(exclude={"event_id", "occurred_at", "schema_version", "source_event_id", "original_value",
                                     "original_headers", "original_key", "content", "segments", "words", "text",
                                     "field_confidence"})
    data = {k: {kk: vv for kk, vv in v.items() if vv is not None} if isinstance(v, dict) else v
            for k, v in data.items()}
    return ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, [], {}, "", 0, 0.0))[:150]


def run_demo(settings: Settings, *, per_topic: int, timeout_s: float, console: Console) -> bool:
    """Returns True when every expected result arrived."""
    from streams.cli import monitoring_table

    codec = make_codec(settings)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="auterity-demo-") as workdir:
        if settings.external_broker():
            bootstrap = settings.bootstrap()
        else:
            embedded = stack.enter_context(EmbeddedBroker(settings.broker_host, settings.broker_port))
            bootstrap = embedded.bootstrap_servers
            console.print(f"[green]embedded Tansu broker[/] at {bootstrap}")
        settings = settings.model_copy(update={"bootstrap_servers": bootstrap})
        log_path = Path(workdir) / "worker.log"
        worker = _start_worker(settings, bootstrap, log_path)
        stack.callback(_stop, worker)
        console.print(f"worker started (pid {worker.pid}); web on port {settings.web_port}")
        expected, seen = asyncio.run(_publish_and_collect(settings, codec, per_topic, timeout_s, console, worker))
        snapshot: dict[str, Any] = {}
        with httpx.Client(timeout=5) as http:
            for _ in range(20):  # the monitoring table trails the metrics topic by a moment
                snapshot = http.get(f"http://{settings.web_host}:{settings.web_port}/monitoring").json()
                totals = snapshot.get("totals", [])
                if sum(row["count"] for row in totals) >= expected[settings.topics.metrics_events]:
                    break
                time.sleep(0.5)
        console.print(monitoring_table(snapshot))
        summary = Table(title="demo summary")
        for column in ("topic", "expected", "received"):
            summary.add_column(column)
        for topic, count in expected.items():
            style = "green" if seen[topic] >= count else "red"
            summary.add_row(topic, str(count), f"[{style}]{seen[topic]}[/]")
        console.print(summary)
        ok = all(seen[t] >= n for t, n in expected.items())
        if not ok:
            console.print(f"[red]some results are missing[/]; worker log:\n{log_path.read_text()[-4000:]}")
        return ok
