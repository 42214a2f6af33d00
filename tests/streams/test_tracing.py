"""Trace context: continued hop by hop, with or without a span exporter."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from streams import tracing


def parts(headers: dict[str, bytes]) -> list[bytes]:
    return headers["traceparent"].split(b"-")


def test_context_travels_without_an_exporter() -> None:
    start = tracing.new_trace_headers("publish")
    version, trace_id, span_id, flags = parts(start)
    assert (version, len(trace_id), len(span_id)) == (b"00", 32, 16)
    with tracing.continue_trace({**start, "tracestate": b"vendor=1"}, "stage") as child:
        assert parts(child)[1] == trace_id and parts(child)[2] != span_id and parts(child)[3] == flags
        assert child["tracestate"] == b"vendor=1"
    with tracing.continue_trace({"traceparent": b"garbage"}, "stage") as fresh:
        assert parts(fresh)[1] != trace_id and len(parts(fresh)[1]) == 32  # a broken header starts a new trace


def test_with_an_exporter_every_stage_records_a_span_in_the_trace() -> None:
    exporter = InMemorySpanExporter()
    tracing.export_spans(SimpleSpanProcessor(exporter))
    try:
        start = tracing.new_trace_headers("publish")
        with tracing.continue_trace(start, "requirements process") as child:
            pass
        spans = {span.name: span for span in exporter.get_finished_spans()}
        stage = spans["requirements process"]
        assert f"{stage.context.trace_id:032x}".encode() == parts(start)[1]
        assert f"{stage.parent.span_id:016x}".encode() == parts(start)[2]
        assert f"{stage.context.span_id:016x}".encode() == parts(child)[2]
    finally:
        tracing._exporting = False
