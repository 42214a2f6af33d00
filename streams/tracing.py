"""W3C trace context through Kafka headers: continue the producer's trace, hand it on to every output.

With no span exporter configured (the default) only the context travels: each stage gets a new span id
under the incoming trace id, at the cost of a few microseconds. With ``AUTERITY_TRACE_EXPORTER=otlp`` (to
``OTEL_EXPORTER_OTLP_ENDPOINT``, an OpenTelemetry collector) or ``console`` (one JSON line per span on stdout),
or once a test installs an exporter with ``export_spans``, every stage records a real OpenTelemetry span:
producer and consumer spans with the messaging attributes, and a span per AI operation with the GenAI ones.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_TRACE_HEADERS = ("traceparent", "tracestate")
_exporting = False
tracer = trace.get_tracer("auterity.streams")


def install_tracer_provider(service: str = "auterity-worker") -> None:
    """Give the process an SDK tracer provider (spans are recorded only once an exporter is added)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": service})))


def configure_exporter(exporter: str, service: str) -> None:
    """The exporter a setting names: ``otlp`` (the standard OTEL_EXPORTER_OTLP_* variables say where),
    ``console`` (a JSON line per span on stdout) or ``none``."""
    install_tracer_provider(service)
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_spans(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "console":
        export_spans(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout, formatter=_one_line)))


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def export_spans(processor: SpanProcessor) -> None:
    """Record a real span for every stage from now on and hand them to ``processor`` (OTLP, console, tests)."""
    global _exporting
    install_tracer_provider()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(processor)
    _exporting = True


def recording() -> bool:
    """Whether stages record real spans (an exporter is installed), so span attributes are worth building."""
    return _exporting


def _child_traceparent(headers: Mapping[str, bytes]) -> dict[str, bytes]:
    """The next hop's headers without recording a span: same trace id and flags, a new parent id."""
    parent = headers.get("traceparent")
    span_id = b"%016x" % random.getrandbits(64)  # ids need uniqueness, not secrecy: no syscall per event
    parts = parent.split(b"-") if parent else []
    if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16 and parts[1] != b"0" * 32:
        out = {"traceparent": b"-".join((parts[0], parts[1], span_id, parts[3]))}
        if "tracestate" in headers:
            out["tracestate"] = headers["tracestate"]
        return out
    return {"traceparent": b"00-%032x-" % random.getrandbits(128) + span_id + b"-01"}


class _Hop:
    """Context manager that only hands on headers: the no-exporter path, taken once per event."""

    __slots__ = ("headers",)

    def __init__(self, headers: dict[str, bytes]) -> None:
        self.headers = headers

    def __enter__(self) -> dict[str, bytes]:
        return self.headers

    def __exit__(self, *exc_info: object) -> None:
        return None


def continue_trace(headers: Mapping[str, bytes], span_name: str, attributes: Mapping[str, Any] | None = None,
                   kind: SpanKind = SpanKind.CONSUMER) -> AbstractContextManager[dict[str, bytes]]:
    """Continue the incoming trace for one stage; the context value is the trace headers outputs must carry.
    ``attributes`` (the messaging ones) are recorded only when spans are."""
    if not _exporting:
        return _Hop(_child_traceparent(headers))
    return _recorded_span(headers, span_name, attributes or {}, kind)


@contextmanager
def _recorded_span(headers: Mapping[str, bytes], span_name: str, attributes: Mapping[str, Any],
                   kind: SpanKind) -> Iterator[dict[str, bytes]]:
    carrier = {k: v.decode("latin-1") for k, v in headers.items() if k in _TRACE_HEADERS and v is not None}
    with tracer.start_as_current_span(span_name, context=_propagator.extract(carrier), kind=kind,
                                      attributes=dict(attributes)):
        out: dict[str, str] = {}
        _propagator.inject(out)
        yield {k: v.encode("latin-1") for k, v in out.items()}


def messaging(topic: str, operation: str, **extra: Any) -> dict[str, Any]:
    """OpenTelemetry messaging attributes of a Kafka produce or consume."""
    return {"messaging.system": "kafka", "messaging.operation.type": operation, "messaging.destination.name": topic,
            **{f"messaging.{k.replace('__', '.')}": v for k, v in extra.items() if v is not None}}


def ai_span(operation: str) -> AbstractContextManager[Any]:
    """A span for one AI operation (LLM call, OCR, ASR), to be given its GenAI attributes with ``ai_attributes``;
    nothing when spans are not recorded."""
    if not _exporting:
        return nullcontext(None)
    return tracer.start_as_current_span(operation, kind=SpanKind.INTERNAL)


def ai_attributes(span: Any, *, operation: str, model: str, provider: str, input_tokens: int, output_tokens: int,
                  cost_usd: float, error: str | None) -> None:
    """GenAI semantic-convention attributes of an AI operation's span."""
    if span is None:
        return
    span.update_name(f"{operation} {model}")
    span.set_attributes({"gen_ai.operation.name": operation, "gen_ai.request.model": model,
                         "gen_ai.response.model": model, "gen_ai.provider.name": provider, "gen_ai.system": provider,
                         "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens,
                         "auterity.cost_usd": cost_usd})
    if error:
        span.set_attribute("error.type", error)


def new_trace_headers(span_name: str, topic: str | None = None) -> dict[str, bytes]:
    """Headers that start a trace, for events that enter the system here (publish, gateway, demo)."""
    attributes = messaging(topic, "send") if topic else None
    with continue_trace({}, span_name, attributes, SpanKind.PRODUCER) as headers:
        return headers
