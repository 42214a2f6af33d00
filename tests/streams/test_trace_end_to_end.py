"""One trace from the gateway to the last result: the gateway's producer span (in-memory exporter here), the
worker's consumer and AI-operation spans (console exporter, read from its log), and the traceparent headers of
the result records all share the trace id, each parented on the one before."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from streams import tracing
from tests.conftest import GATEWAY_KEYS, Namespace
from tests.kafka_helpers import collect

DEALER = "dealer-riverside-ford"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    tracing.export_spans(SimpleSpanProcessor(memory))
    yield memory
    tracing._exporting = False


def worker_spans(log: str) -> list[dict[str, Any]]:
    """The console exporter's JSON lines in a worker's output."""
    return [json.loads(line) for line in log.splitlines() if line.startswith('{"name"')]


def test_one_trace_spans_gateway_worker_and_results(namespace: Namespace, start_worker: Any, start_gateway: Any,
                                                    exporter: InMemorySpanExporter) -> None:
    worker = start_worker(AUTERITY_TRACE_EXPORTER="console")
    url, settings = start_gateway()
    topics = settings.topics
    answer = httpx.post(f"{url}/v1/conversations", headers={"X-API-Key": GATEWAY_KEYS[DEALER]},
                        json={"session_id": "trace-1", "user_id": "staff-1",
                              "text": "Text service customers 30 days before their oil change"})
    assert answer.status_code == 202
    [sent] = [s for s in exporter.get_finished_spans() if s.name == f"send {topics.conversations_messages}"]
    assert sent.kind == SpanKind.PRODUCER and sent.attributes is not None
    assert sent.attributes["messaging.system"] == "kafka"
    assert sent.attributes["messaging.destination.name"] == topics.conversations_messages
    trace_id, gateway_span = f"0x{sent.context.trace_id:032x}", f"0x{sent.context.span_id:016x}"

    records = collect(settings, [topics.conversations_analyzed, topics.workflows_generated],
                      until=lambda rs: {r.topic for r in rs} == {topics.conversations_analyzed,
                                                                 topics.workflows_generated}, timeout_s=90)
    for record in records:  # every result carries the trace on
        traceparent = dict(record.headers)["traceparent"].split(b"-")
        assert b"0x" + traceparent[1] == trace_id.encode()

    def spans() -> list[dict[str, Any]]:
        return [s for s in worker_spans(worker.log_path.read_text(errors="replace"))
                if s["context"]["trace_id"] == trace_id]

    by_name: dict[str, dict[str, Any]] = {}
    for _ in range(50):  # the console exporter writes each span as it ends
        by_name = {s["name"]: s for s in spans()}
        if len(by_name) >= 4:
            break
        time.sleep(0.2)
    consume = by_name[f"process {topics.conversations_messages}"]
    assert consume["kind"] == "SpanKind.CONSUMER" and consume["parent_id"] == gateway_span
    assert consume["attributes"]["messaging.operation.type"] == "process"
    assert consume["attributes"]["messaging.destination.name"] == topics.conversations_messages
    [analysis] = [s for name, s in by_name.items() if name.startswith("requirement_analysis ")]
    assert analysis["parent_id"] == consume["context"]["span_id"]
    assert analysis["attributes"]["gen_ai.operation.name"] == "requirement_analysis"
    assert analysis["attributes"]["gen_ai.request.model"] and "gen_ai.usage.input_tokens" in analysis["attributes"]
    downstream = by_name[f"process {topics.conversations_analyzed}"]  # the workflows pipeline, same trace
    assert downstream["parent_id"] == consume["context"]["span_id"]
    [generation] = [s for name, s in by_name.items() if name.startswith("workflow_generation ")]
    assert generation["parent_id"] == downstream["context"]["span_id"]
