"""W3C trace context through Kafka headers: continue the producer's trace, hand it on to every output."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_TRACE_HEADERS = ("traceparent", "tracestate")


def install_tracer_provider() -> None:
    """Give the process a real (SDK) tracer so each stage gets its own span id; exporters are configured apart."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


tracer = trace.get_tracer("auterity.streams")


@contextmanager
def continue_trace(headers: Mapping[str, bytes], span_name: str) -> Iterator[dict[str, bytes]]:
    """Open a consumer span under the incoming ``traceparent`` and yield the headers outputs must carry."""
    carrier = {k: v.decode("latin-1") for k, v in headers.items() if k in _TRACE_HEADERS and v is not None}
    with tracer.start_as_current_span(span_name, context=_propagator.extract(carrier), kind=SpanKind.CONSUMER):
        out: dict[str, str] = {}
        _propagator.inject(out)
        yield {k: v.encode("latin-1") for k, v in out.items()}


def new_trace_headers(span_name: str) -> dict[str, bytes]:
    """Headers that start a trace, for events that enter the system here (publish, demo)."""
    install_tracer_provider()
    with tracer.start_as_current_span(span_name, kind=SpanKind.PRODUCER):
        out: dict[str, str] = {}
        _propagator.inject(out)
    return {k: v.encode("latin-1") for k, v in out.items()}
