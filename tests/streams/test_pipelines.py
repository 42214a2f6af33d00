"""Pipelines on the real broker: results, trace context, DLQ, de-duplication, retries, monitoring, restarts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from schemas.codec import AvroCodec
from schemas.models import (
    AIOperationMetric,
    CallRecorded,
    ConversationMessage,
    DeadLetter,
    DocumentReceived,
    GeneratedWorkflow,
    RequirementAnalysis,
)
from streams.tracing import new_trace_headers
from tests.conftest import ROOT, Namespace
from tests.kafka_helpers import collect, publish, publish_raw

CODEC = AvroCodec()


def chat(text: str = "Text customers 30 days before their oil change", **fields: Any) -> ConversationMessage:
    return ConversationMessage(dealer_id="dealer-riverside-ford", session_id=fields.pop("session_id", "s-1"),
                               user_id="staff-3", text=text, **fields)


SCAN = (ROOT / "streams" / "samples" / "repair-order.png").read_bytes()


def document(number: int) -> DocumentReceived:
    return DocumentReceived(dealer_id="dealer-riverside-ford", document_id=f"RO-{number}", filename="ro.png",
                            content_type="image/png", content=SCAN, sha256=hashlib.sha256(SCAN).hexdigest(),
                            size_bytes=len(SCAN))


def decoded(records: list[Any]) -> list[Any]:
    return [CODEC.decode(r.value) for r in records]


def metrics_samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_event_reaches_every_downstream_topic_with_its_trace(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    start_worker()
    message = chat()
    trace_headers = new_trace_headers("dms publish")
    trace_id = trace_headers["traceparent"].split(b"-")[1]

    import asyncio

    from streams.kafka import producer

    async def send() -> None:
        async with producer(settings) as client:
            await client.send_and_wait(topics.conversations_messages, CODEC.encode(message),
                                       key=message.key().encode(), headers=list(trace_headers.items()))

    asyncio.run(send())
    wanted = [topics.conversations_analyzed, topics.workflows_generated, topics.metrics_events, topics.audit_events]
    records = collect(settings, wanted, lambda rs: len(rs) >= 6)  # workflow + interface, two metrics, an audit
    by_topic: dict[str, list[Any]] = {}
    for record in records:
        by_topic.setdefault(record.topic, []).append(record)
    analysis = CODEC.decode(by_topic[topics.conversations_analyzed][0].value)
    assert isinstance(analysis, RequirementAnalysis)
    assert analysis.source_event_id == message.event_id and analysis.processor == "nlp.requirements"
    workflow = CODEC.decode(by_topic[topics.workflows_generated][0].value)
    assert isinstance(workflow, GeneratedWorkflow) and workflow.source_event_id == analysis.event_id
    assert workflow.valid and workflow.workflow_id == analysis.workflow_id
    operations = {CODEC.decode(r.value).operation_type for r in by_topic[topics.metrics_events]}
    assert operations == {"requirement_analysis", "workflow_generation"}
    for record in records:  # one trace from the publisher to every output, each hop its own span
        headers = dict(record.headers)
        _, record_trace, span, _ = headers["traceparent"].split(b"-")
        assert record_trace == trace_id and span != trace_headers["traceparent"].split(b"-")[2]
        assert headers["content-type"] == b"application/vnd.auterity.avro"
        assert headers["schema-id"].startswith(type(CODEC.decode(record.value)).__name__.encode())
    assert by_topic[topics.conversations_analyzed][0].key == b"s-1"  # keyed by session as DESIGN.md says


def test_bad_events_go_to_the_dlq_and_the_next_good_one_is_processed(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    worker = start_worker()
    publish_raw(settings, topics.documents_received, [b"\x89PNG not an event"])
    publish(settings, topics.documents_received, [CallRecorded(
        dealer_id="dealer-1", call_id="c-1", content_type="audio/wav", sha256="0" * 64, size_bytes=0)])
    publish(settings, topics.documents_received, [document(1).model_copy(update={"dealer_id": ""})])
    good = document(2)
    publish(settings, topics.documents_received, [good])

    dlq = collect(settings, [f"{topics.documents_received}.dlq"], lambda rs: len(rs) >= 3)
    letters = sorted((CODEC.decode(r.value, DeadLetter) for r in dlq), key=lambda letter: letter.error_message)
    assert [(letter.stage.value, letter.error_class) for letter in letters] == [
        ("validate", "InvalidEvent"), ("validate", "InvalidEvent"), ("decode", "UndecodableEvent")]
    assert "DocumentReceived breaks the contract: dealer_id: String should have at least 1 character" in \
        letters[0].error_message
    assert "expected a DocumentReceived event, got CallRecorded" in letters[1].error_message
    assert "not an Avro event" in letters[2].error_message
    assert letters[2].original_value == b"\x89PNG not an event" and letters[2].topic == topics.documents_received
    assert letters[2].original_key == b"k" and letters[2].dealer_id == "unknown"
    results = collect(settings, [topics.documents_analyzed], lambda rs: len(rs) >= 1)
    assert [CODEC.decode(r.value).source_event_id for r in results] == [good.event_id]
    samples = metrics_samples(worker.url)
    assert samples[("auterity_dead_letters_total", (("pipeline", "documents"), ("stage", "validate")))] == 2

    listed = subprocess.run([sys.executable, "-m", "streams.cli", "dlq", "list", topics.documents_received, "--json"],
                            env=namespace.env(), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(row["stage"] for row in rows) == ["decode", "validate", "validate"]
    assert all(row["pipeline"] == "documents" for row in rows)


def test_a_duplicate_event_is_processed_once(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    worker = start_worker()
    message = chat()
    publish(settings, topics.conversations_messages, [message, message, message])
    marker = chat("after the duplicates", session_id="s-2")
    publish(settings, topics.conversations_messages, [marker])
    records = collect(settings, [topics.conversations_analyzed],
                      lambda rs: any(CODEC.decode(r.value).source_event_id == marker.event_id for r in rs))
    sources = [CODEC.decode(r.value).source_event_id for r in records]
    assert sources.count(message.event_id) == 1
    samples = metrics_samples(worker.url)
    assert samples[("auterity_pipeline_events_total", (("outcome", "duplicate"), ("pipeline", "requirements")))] == 2


def test_monitoring_table_and_metrics_show_exactly_what_was_sent(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    worker = start_worker()
    publish(settings, topics.conversations_messages, [chat(f"request {i}", session_id=f"s-{i}") for i in range(7)])
    publish(settings, topics.documents_received, [document(i) for i in range(3)])
    collect(settings, [topics.metrics_events], lambda rs: len(rs) >= 17)

    def totals() -> dict[str, int]:
        snapshot = httpx.get(f"{worker.url}/monitoring", timeout=5).json()
        return {row["operation_type"]: row["count"] for row in snapshot["totals"]}

    deadline = time.monotonic() + 30
    while totals() != {"requirement_analysis": 7, "workflow_generation": 7, "ocr": 3} and time.monotonic() < deadline:
        time.sleep(0.3)
    assert totals() == {"requirement_analysis": 7, "workflow_generation": 7, "ocr": 3}
    snapshot = httpx.get(f"{worker.url}/monitoring", timeout=5).json()
    assert sum(row["count"] for row in snapshot["windows"]) == 17  # however minute boundaries split them
    assert {row["window_s"] for row in snapshot["windows"]} == {60}
    samples = metrics_samples(worker.url)
    labels = (("model", "PP-OCRv6_small_det+PP-OCRv6_small_rec"), ("operation", "ocr"), ("provider", "paddle"))
    assert samples[("auterity_ai_operations_total", labels)] == 3
    assert samples[("auterity_ai_operation_errors_total", labels)] == 0
    assert samples[("auterity_ai_operation_latency_seconds_count", labels)] == 3
    assert samples[("auterity_ai_operation_latency_seconds_bucket", tuple(sorted({*labels, ("le", "+Inf")})))] == 3


def test_transient_failures_retry_then_dlq_and_replay_after_a_fix(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    worker = start_worker("tests.flaky_worker")
    flaky, transient, boom = chat("flaky: rate limited twice"), chat("always-transient"), chat("boom")
    publish(settings, topics.conversations_messages, [flaky, transient, boom])
    dlq = collect(settings, [f"{topics.conversations_messages}.dlq"], lambda rs: len(rs) >= 2)
    letters = {CODEC.decode(r.value, DeadLetter).error_class: CODEC.decode(r.value, DeadLetter) for r in dlq}
    assert letters["TransientError"].attempts == 3 and letters["TransientError"].stage.value == "process"
    assert letters["ValueError"].attempts == 1 and "cannot analyse 'boom'" in letters["ValueError"].error_message
    results = collect(settings, [topics.conversations_analyzed], lambda rs: len(rs) >= 1)
    assert [CODEC.decode(r.value).source_event_id for r in results] == [flaky.event_id]
    metrics = collect(settings, [topics.metrics_events], lambda rs: len(rs) >= 3)
    outcomes = sorted((m.success, m.error_class or "") for m in decoded(metrics) if isinstance(m, AIOperationMetric))
    assert outcomes == [(False, "TransientError"), (False, "ValueError"), (True, "")]
    samples = metrics_samples(worker.url)
    assert samples[("auterity_processor_retries_total", (("pipeline", "flaky"),))] == 2 + 2


def test_dlq_replay_after_a_fix(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    broken = start_worker("tests.flaky_worker", FLAKY_BROKEN="1")
    messages = [chat(f"request {i}", session_id=f"s-{i}") for i in range(3)]
    publish(settings, topics.conversations_messages, messages)
    collect(settings, [f"{topics.conversations_messages}.dlq"], lambda rs: len(rs) >= 3)
    broken.stop()
    start_worker("tests.flaky_worker")  # the fixed release

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "streams.cli", "dlq", *args], env=namespace.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    assert "would replay 3" in cli("replay", topics.conversations_messages, "--dry-run")
    assert "replayed 1" in cli("replay", topics.conversations_messages, "--event-id", str(messages[0].event_id))
    assert "replayed 3" in cli("replay", topics.conversations_messages)  # includes the one replayed alone
    assert "replayed 0" in cli("replay", topics.conversations_messages)  # a full replay sends each entry once
    results = collect(settings, [topics.conversations_analyzed], lambda rs: len(rs) >= 3, settle_s=3)
    # Exactly one result each: the twice-replayed event was de-duplicated.
    assert sorted(str(CODEC.decode(r.value).source_event_id) for r in results) == sorted(
        str(m.event_id) for m in messages)


def test_a_worker_runs_only_the_pipelines_it_is_given(tmp_path: Any) -> None:
    from streams.app import build_worker
    from streams.settings import Settings

    everything = build_worker(Settings(vector_uri=str(tmp_path / "all.db"), app_id="all-pipelines"))
    assert {p.handler.name for p in everything.pipeline_host().pipelines} == {
        "requirements", "workflows", "documents", "calls", "agents"}
    only = build_worker(Settings(vector_uri=str(tmp_path / "one.db"), app_id="one-pipeline",
                                 pipelines=["requirements"]))
    assert [p.handler.name for p in only.pipeline_host().pipelines] == ["requirements"]
