"""W3C trace context through Kafka headers: continue the producer's trace, hand it on to every output.

With no span exporter configured (the default) only the context travels: each stage gets a new span id
under the incoming trace id, at the cost of a few microseconds. Once an exporter is installed with
``export_spans`` every stage records a real OpenTelemetry span instead.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_TRACE_HEADERS = ("traceparent", "tracestate")
_exporting = False
tracer = trace.get_tracer("auterity.streams")


def install_tracer_provider() -> None:
    """Give the process an SDK tracer provider (spans are recorded only once an exporter is added)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


def export_spans(processor: SpanProcessor) -> None:
    """Record a real span for every stage from now on and hand them to ``processor`` (OTLP, console, tests)."""
    global _exporting
    install_tracer_provider()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(processor)
    _exporting = True


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


def continue_trace(headers: Mapping[str, bytes], span_name: str) -> AbstractContextManager[dict[str, bytes]]:
    """Continue the incoming trace for one stage; the context value is the trace headers outputs must carry."""
    if not _exporting:
        return _Hop(_child_traceparent(headers))
    return _recorded_span(headers, span_name)


@contextmanager
def _recorded_span(headers: Mapping[str, bytes], span_name: str) -> Iterator[dict[str, bytes]]:
    carrier = {k: v.decode("latin-1") for k, v in headers.items() if k in _TRACE_HEADERS and v is not None}
    with tracer.start_as_current_span(span_name, context=_propagator.extract(carrier), kind=SpanKind.CONSUMER):
        out: dict[str, str] = {}
        _propagator.inject(out)
        yield {k: v.encode("latin-1") for k, v in out.items()}


def new_trace_headers(span_name: str) -> dict[str, bytes]:
    """Headers that start a trace, for events that enter the system here (publish, demo)."""
    with continue_trace({}, span_name) as headers:
        return headers
