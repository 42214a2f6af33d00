"""The one way to wire a pipeline: decode -> validate -> de-duplicate -> handle -> produce, with a DLQ.

Every consumed event ends in exactly one of three places: handled (results produced, event_id remembered),
skipped as a duplicate, or in ``<topic>.dlq`` as a DeadLetter with the reason. Nothing raises out of the
agent, so one bad message never stops a worker. Event ids are remembered only after the outputs were
handed to the producer, and offsets are committed only after the producer flushed: at-least-once, and the
de-duplication table makes reprocessing after a crash harmless.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from faust.types import EventT, StreamT
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from processors.base import Outcome, Processor
from schemas.errors import InvalidEvent, TransientError, UndecodableEvent
from schemas.models import AIOperationMetric, DeadLetter, Event, FailureStage, Header
from streams.runtime import Runtime
from streams.topics import dlq_topic
from streams.tracing import continue_trace

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
RESULT_NAMESPACE = uuid.UUID("3d0c6a52-8f4b-4f43-9a44-2b1c9f0f6a7e")
UNKNOWN_DEALER = "unknown"


class StageError(Exception):
    """A failure tied to the pipeline stage it happened in, with the attempts made."""

    def __init__(self, stage: FailureStage, cause: BaseException, attempts: int = 1) -> None:
        super().__init__(str(cause))
        self.stage, self.cause, self.attempts = stage, cause, attempts


Handler = Callable[[E, dict[str, bytes]], Awaitable[None]]


@dataclass
class Pipeline(Generic[E]):
    """Consumes ``source``, decodes each message to ``input_type`` and passes it to ``handle`` exactly once."""

    runtime: Runtime
    name: str
    source: str
    input_type: type[E]
    handle: Handler[E]

    def __post_init__(self) -> None:
        app = self.runtime.app
        self.processed = app.Table(f"{self.name}-processed", key_type=bytes, value_type=bytes,
                                   partitions=self.runtime.topics[self.source].partitions)
        app.agent(self.runtime.topic(self.source), name=f"{self.name}-agent")(self._consume)

    async def _consume(self, stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await self.on_event(event)

    async def on_event(self, event: EventT[bytes]) -> None:
        """Decode, de-duplicate and handle one message; failures go to the DLQ, never out of here."""
        metrics, started = self.runtime.metrics, time.perf_counter()
        message = event.message
        decoded: E | None = None
        with continue_trace(event.headers, f"{self.name} process") as trace_headers:
            try:
                decoded = self._decode(message.value)
                event_key = decoded.event_id.bytes
                if event_key in self.processed:
                    metrics.events.labels(self.name, "duplicate").inc()
                    return
                await self.handle(decoded, trace_headers)
                self.processed[event_key] = b"1"
                metrics.events.labels(self.name, "processed").inc()
            except StageError as failure:
                await self.dead_letter(event, failure, decoded, trace_headers)
            except Exception as exc:  # noqa: BLE001 - the pipeline boundary: anything unexpected is the DLQ's
                log.exception("%s: unexpected failure at offset %s", self.name, message.offset)
                await self.dead_letter(event, StageError(FailureStage.PROCESS, exc), decoded, trace_headers)
            finally:
                metrics.processing.labels(self.name).observe(time.perf_counter() - started)

    def _decode(self, value: bytes | None) -> E:
        try:
            return self.runtime.codec.decode(value or b"", self.input_type)
        except UndecodableEvent as exc:
            raise StageError(FailureStage.DECODE, exc) from exc
        except InvalidEvent as exc:
            raise StageError(FailureStage.VALIDATE, exc) from exc

    async def dead_letter(self, event: EventT[bytes], failure: StageError, decoded: Event | None,
                          trace_headers: dict[str, bytes]) -> None:
        """Keep the original bytes and headers with the reason, so `auterity dlq replay` can put them back."""
        message = event.message
        letter = DeadLetter(
            dealer_id=decoded.dealer_id if decoded else UNKNOWN_DEALER,
            topic=message.topic, partition=message.partition, offset=message.offset,
            original_key=message.key, original_value=message.value or b"",
            original_headers=[Header(key=k, value=v) for k, v in event.headers.items()],
            stage=failure.stage, error_class=type(failure.cause).__name__,
            error_message=str(failure.cause)[:2000], attempts=failure.attempts, pipeline=self.name,
        )
        log.warning("%s: %s@%s[%s] -> DLQ at %s: %s: %s", self.name, message.topic, message.partition,
                    message.offset, failure.stage.value, letter.error_class, letter.error_message[:200])
        self.runtime.metrics.events.labels(self.name, "dead_lettered").inc()
        self.runtime.metrics.dead_letters.labels(self.name, failure.stage.value).inc()
        await self.runtime.app.topic(dlq_topic(message.topic), key_serializer="raw", value_serializer="raw").send(
            key=message.key, value=self.runtime.codec.encode(letter),
            headers=self.runtime.headers_for(DeadLetter, trace_headers))


def result_event_id(source: Event, pipeline: str, index: int) -> uuid.UUID:
    """Deterministic, so reprocessing an event after a crash produces the same result ids (idempotent sinks)."""
    return uuid.uuid5(RESULT_NAMESPACE, f"{source.event_id}:{pipeline}:{index}")


class ProcessorPipeline(Generic[E]):
    """Wires a processor: run it (off the loop when CPU-bound, retrying transient errors), publish its
    results to the topics of their types and one AIOperationMetric per call."""

    def __init__(self, runtime: Runtime, name: str, source: str, input_type: type[E],
                 processor: Processor[E]) -> None:
        self.runtime, self.name, self.processor = runtime, name, processor
        self.pipeline = Pipeline(runtime, name, source, input_type, self.handle)
        settings = runtime.settings
        self._retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError), stop=stop_after_attempt(settings.retry_attempts),
            wait=wait_exponential(multiplier=settings.retry_initial_backoff_s, max=settings.retry_max_backoff_s),
            before_sleep=lambda state: runtime.metrics.retries.labels(name).inc(), reraise=True)

    async def _call(self, event: E) -> Outcome:
        if inspect.iscoroutinefunction(self.processor.process):
            return await self.processor.process(event)  # type: ignore[no-any-return]
        if self.processor.cpu_bound:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.runtime.executor, self.processor.process, event)  # type: ignore[arg-type]
        return self.processor.process(event)  # type: ignore[return-value]

    async def handle(self, event: E, trace_headers: dict[str, bytes]) -> None:
        started, attempts = time.perf_counter(), 0
        try:
            async for attempt in self._retrying.copy():
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    outcome = await self._call(event)
        except Exception as exc:
            await self._emit_metric(event, None, started, trace_headers, exc)
            raise StageError(FailureStage.PROCESS, exc, attempts) from exc
        results = [r.model_copy(update={"event_id": result_event_id(event, self.name, i)})
                   for i, r in enumerate([*outcome.results, *outcome.extra])]
        for result in results:
            try:
                await self.runtime.publish(result, trace_headers)
            except (ValueError, TypeError, KeyError) as exc:  # fastavro rejects a result that breaks its schema
                raise StageError(FailureStage.ENCODE, exc, attempts) from exc
        await self._emit_metric(event, outcome, started, trace_headers, None)

    async def _emit_metric(self, event: E, outcome: Outcome | None, started: float,
                           trace_headers: dict[str, bytes], error: BaseException | None) -> None:
        usage = outcome.usage if outcome else None
        # A success has one stable id (a crash-and-retry is not counted twice); each failure is its own event.
        metric_id = result_event_id(event, f"{self.name}:metric", 0) if error is None else uuid.uuid4()
        metric = AIOperationMetric(
            event_id=metric_id, dealer_id=event.dealer_id,
            source_event_id=event.event_id, processor=self.processor.name,
            operation_type=self.processor.operation_type, pipeline=self.name,
            model=usage.model if usage else "unknown", provider=usage.provider if usage else "unknown",
            input_tokens=usage.input_tokens if usage else 0, output_tokens=usage.output_tokens if usage else 0,
            cost_usd=usage.cost_usd if usage else 0.0, latency_ms=(time.perf_counter() - started) * 1000.0,
            success=error is None, error_class=type(error).__name__ if error else None,
        )
        await self.runtime.publish(metric, trace_headers)


def wire_processor(runtime: Runtime, name: str, source: str, input_type: type[E],
                   processor: Processor[E]) -> ProcessorPipeline[E]:
    """The declarative line each ``streams/pipelines/<job>.py`` uses."""
    return ProcessorPipeline(runtime, name, source, input_type, processor)


