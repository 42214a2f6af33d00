"""The one way to wire a processor: decode -> validate -> de-duplicate -> process -> encode -> produce, with a DLQ.

Every consumed event ends in exactly one of three places: handled (results and a metric produced, event_id
remembered), skipped as a duplicate, or in ``<topic>.dlq`` as a DeadLetter with the reason. Nothing raises
out of a pipeline, so one bad message never stops a worker.

Processor pipelines run as batched consumer loops inside the Faust worker (``PipelineHost``): a batch's
outputs, DLQ entries and de-duplication changelog are all acknowledged by the broker before the batch's
input offsets are committed (at-least-once; result ids are deterministic, so a redone event is harmless).
Why not a Faust agent per pipeline: Faust's per-message path (tasks, futures and a producer buffer per
event) caps a worker near 5,000 events/s on this hardware; see README, "Performance".
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2
from mode import Service
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from processors.base import Outcome, Processor
from schemas.errors import InvalidEvent, TransientError, UndecodableEvent
from schemas.models import AIOperationMetric, DeadLetter, Event, FailureStage, Header
from streams.runtime import Runtime
from streams.state import DedupStore, KeyValueStore
from streams.topics import TopicSpec, dlq_topic, ensure_topics
from streams.tracing import ai_attributes, ai_span, continue_trace, messaging, recording

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
RESULT_NAMESPACE = uuid.UUID("3d0c6a52-8f4b-4f43-9a44-2b1c9f0f6a7e")
UNKNOWN_DEALER = "unknown"


@dataclass(frozen=True)
class InboundRecord:
    """One consumed Kafka record, whichever consumer read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]


class Outbox(Protocol):
    """Where a pipeline's outputs go; implementations make sure they are durable before the input is committed."""

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes]) -> None: ...


class SeenEvents(Protocol):
    """The de-duplication table as the record handler sees it (one source partition)."""

    def __contains__(self, event_id: bytes) -> bool: ...

    def remember(self, event_id: bytes, occurred_ms: int) -> None: ...


class StageError(Exception):
    """A failure tied to the pipeline stage it happened in, with the attempts made."""

    def __init__(self, stage: FailureStage, cause: BaseException, attempts: int = 1) -> None:
        super().__init__(str(cause))
        self.stage, self.cause, self.attempts = stage, cause, attempts


Handler = Callable[[E, dict[str, bytes], Outbox], Awaitable[None]]


@dataclass
class RecordHandler(Generic[E]):
    """Decode, de-duplicate and handle one record; every failure becomes a DeadLetter in the outbox."""

    runtime: Runtime
    name: str
    source: str
    input_type: type[E] | None  # None: any event type the source topic carries (a sink's input)
    handle: Handler[E]

    def __post_init__(self) -> None:
        metrics = self.runtime.metrics  # label children resolved once, not per event
        self._processed = metrics.events.labels(self.name, "processed")
        self._duplicates = metrics.events.labels(self.name, "duplicate")
        self._span_name = f"process {self.source}"
        self.group = f"{self.runtime.settings.app_id}-{self.name}"

    async def __call__(self, record: InboundRecord, seen: SeenEvents, outbox: Outbox) -> None:
        decoded: E | None = None
        attributes = (messaging(record.topic, "process", destination__partition__id=str(record.partition),
                                kafka__offset=record.offset, kafka__message__key=record.key.decode("utf-8", "replace")
                                if record.key else None, consumer__group__name=self.group)
                      if recording() else None)
        with continue_trace(record.headers, self._span_name, attributes) as trace_headers:
            try:
                decoded = self._decode(record.value)
                event_id = decoded.event_id.bytes
                if event_id in seen:
                    self._duplicates.inc()
                    return
                await self.handle(decoded, trace_headers, outbox)
                seen.remember(event_id, int(decoded.occurred_at.timestamp() * 1000))
                self._processed.inc()
            except StageError as failure:
                await self.dead_letter(record, failure, decoded, trace_headers, outbox)
            except Exception as exc:
                log.exception("%s: unexpected failure at %s[%s]@%s", self.name, record.topic, record.partition,
                              record.offset)
                await self.dead_letter(record, StageError(FailureStage.PROCESS, exc), decoded, trace_headers, outbox)

    def _decode(self, value: bytes | None) -> E:
        try:
            return self.runtime.codec.decode(value or b"", self.input_type)
        except UndecodableEvent as exc:
            raise StageError(FailureStage.DECODE, exc) from exc
        except InvalidEvent as exc:
            raise StageError(FailureStage.VALIDATE, exc) from exc

    async def dead_letter(self, record: InboundRecord, failure: StageError, decoded: Event | None,
                          trace_headers: dict[str, bytes], outbox: Outbox) -> None:
        """Keep the original bytes and headers with the reason, so `auterity dlq replay` can put them back."""
        letter = DeadLetter(
            dealer_id=decoded.dealer_id if decoded else UNKNOWN_DEALER,
            topic=record.topic, partition=record.partition, offset=record.offset,
            original_key=record.key, original_value=record.value or b"",
            original_headers=[Header(key=k, value=v) for k, v in record.headers.items()],
            stage=failure.stage, error_class=type(failure.cause).__name__,
            error_message=str(failure.cause)[:2000], attempts=failure.attempts, pipeline=self.name,
        )
        log.warning("%s: %s[%s]@%s -> DLQ at %s: %s: %s", self.name, record.topic, record.partition, record.offset,
                    failure.stage.value, letter.error_class, letter.error_message[:200])
        self.runtime.metrics.events.labels(self.name, "dead_lettered").inc()
        self.runtime.metrics.dead_letters.labels(self.name, failure.stage.value).inc()
        await outbox.send(dlq_topic(record.topic), record.key, self.runtime.codec.encode(letter),
                          self.runtime.headers_for(DeadLetter, trace_headers))


async def publish(runtime: Runtime, outbox: Outbox, event: Event, trace_headers: dict[str, bytes]) -> None:
    """Encode an event and send it to the topic of its type, with the standard headers."""
    await outbox.send(runtime.topics.topic_for(type(event)), event.key().encode(), runtime.codec.encode(event),
                      runtime.headers_for(type(event), trace_headers))


def result_event_id(source: Event, pipeline: str, index: int) -> uuid.UUID:
    """Deterministic (a UUIDv5 of the source id, pipeline and index), so reprocessing an event after a crash
    produces the same result ids and sinks stay idempotent."""
    digest = hashlib.sha1(RESULT_NAMESPACE.bytes + source.event_id.bytes + _suffix(pipeline, index)).digest()
    return uuid.UUID(int=(int.from_bytes(digest[:16]) & _VERSION_MASK) | _VERSION_5_BITS)


@functools.lru_cache(maxsize=1024)
def _suffix(pipeline: str, index: int) -> bytes:
    return f"{pipeline}:{index}".encode()


_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_VERSION_5_BITS = (5 << 76) | (0x8000 << 48)


class ProcessorStep(Generic[E]):
    """Runs a processor (off the loop when CPU-bound, retrying transient errors) and publishes its results to
    the topics of their types, plus one AIOperationMetric per call."""

    def __init__(self, runtime: Runtime, name: str, processor: Processor[E]) -> None:
        self.runtime, self.name, self.processor = runtime, name, processor
        self.is_async = inspect.iscoroutinefunction(processor.process)
        settings = runtime.settings
        self._retrying = AsyncRetrying(  # the attempts after the first, which runs without tenacity's overhead
            retry=retry_if_exception_type(TransientError), stop=stop_after_attempt(settings.retry_attempts - 1),
            wait=wait_exponential(multiplier=settings.retry_initial_backoff_s, max=settings.retry_max_backoff_s),
            before_sleep=lambda state: runtime.metrics.retries.labels(name).inc(), reraise=True)

    async def _call(self, event: E) -> Outcome:
        if self.is_async:
            return await self.processor.process(event)  # type: ignore[no-any-return, misc]
        if self.processor.cpu_bound:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.runtime.executor, self.processor.process, event)  # type: ignore[arg-type]
        return self.processor.process(event)  # type: ignore[return-value]

    async def __call__(self, event: E, trace_headers: dict[str, bytes], outbox: Outbox) -> None:
        with ai_span(self.processor.operation_type) as span:
            await self._run(event, trace_headers, outbox, span)

    async def _run(self, event: E, trace_headers: dict[str, bytes], outbox: Outbox, span: Any) -> None:
        started, attempts = time.perf_counter(), 1
        try:
            try:
                outcome = await self._call(event)  # the common case, without the retry machinery
            except TransientError:
                if self.runtime.settings.retry_attempts < 2:
                    raise
                self.runtime.metrics.retries.labels(self.name).inc()
                await asyncio.sleep(self.runtime.settings.retry_initial_backoff_s)
                async for attempt in self._retrying.copy():
                    with attempt:
                        attempts = attempt.retry_state.attempt_number + 1
                        outcome = await self._call(event)
        except Exception as exc:
            ai_attributes(span, operation=self.processor.operation_type, model="unknown", provider="unknown",
                          input_tokens=0, output_tokens=0, cost_usd=0.0, error=type(exc).__name__)
            await self._emit_metric(event, None, started, trace_headers, outbox, exc)
            raise StageError(FailureStage.PROCESS, exc, attempts) from exc
        usage = outcome.usage
        ai_attributes(span, operation=self.processor.operation_type, model=usage.model, provider=usage.provider,
                      input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=usage.cost_usd,
                      error=outcome.error_class)
        for index, result in enumerate([*outcome.results, *outcome.extra]):
            result.event_id = result_event_id(event, self.name, index)  # the processor's fresh object
            try:
                await publish(self.runtime, outbox, result, trace_headers)
            except (ValueError, TypeError, KeyError) as exc:  # fastavro rejects a result that breaks its schema
                raise StageError(FailureStage.ENCODE, exc, attempts) from exc
        await self._emit_metric(event, outcome, started, trace_headers, outbox, None)
        self.runtime.metrics.observe(self.name, event, outcome.results, time.perf_counter() - started, time.time())

    async def _emit_metric(self, event: E, outcome: Outcome | None, started: float, trace_headers: dict[str, bytes],
                           outbox: Outbox, error: BaseException | None) -> None:
        usage = outcome.usage if outcome else None
        # A success has one stable id (a crash-and-redo is not counted twice); each failure is its own event.
        metric_id = result_event_id(event, f"{self.name}:metric", 0) if error is None else uuid.uuid4()
        metric = AIOperationMetric(
            event_id=metric_id, dealer_id=event.dealer_id, source_event_id=event.event_id,
            processor=self.processor.name, operation_type=self.processor.operation_type, pipeline=self.name,
            model=usage.model if usage else "unknown", provider=usage.provider if usage else "unknown",
            input_tokens=usage.input_tokens if usage else 0, output_tokens=usage.output_tokens if usage else 0,
            cost_usd=usage.cost_usd if usage else 0.0, latency_ms=(time.perf_counter() - started) * 1000.0,
            success=error is None and not (outcome and outcome.error_class),
            error_class=type(error).__name__ if error else outcome.error_class if outcome else None,
        )
        await publish(self.runtime, outbox, metric, trace_headers)


class BatchOutbox:
    """Collects one batch's outputs into a record batch per topic partition, sent when the batch is done.

    aiokafka's per-message ``send`` costs a future, a metadata check and a partitioner call per record; built
    batches cost one of each per partition. Keys are partitioned like Kafka's default partitioner (murmur2),
    so a result lands where any Kafka client would have put it.
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._builders: dict[tuple[str, int], Any] = {}
        self._partitions: dict[str, list[int]] = {}
        self._pending: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes],
                   partition: int | None = None) -> None:
        if partition is None:
            partitions = self._partitions.get(topic) or await self._load_partitions(topic)
            partition = (partitions[_key_hash(key) % len(partitions)] if key is not None
                         else random.choice(partitions))
        header_list = list(headers.items())
        builder = self._builders.get((topic, partition))
        if builder is not None and builder.append(timestamp=None, key=key, value=value, headers=header_list):
            return
        # Full or absent: a fresh builder takes the record before anything awaits, so concurrent senders
        # (pipelines handling several keys at once) never append to a builder that is being shipped.
        fresh = self._builders[(topic, partition)] = self.producer.create_batch()
        alone = fresh.append(timestamp=None, key=key, value=value, headers=header_list) is None
        if alone:  # larger than a batch (a big inline document): sent by itself
            del self._builders[(topic, partition)]
        if builder is not None:
            self._pending.append(await self.producer.send_batch(builder, topic, partition=partition))
        if alone:
            self._pending.append(await self.producer.send(topic, value, key=key, partition=partition,
                                                          headers=header_list))

    async def _load_partitions(self, topic: str) -> list[int]:
        self._partitions[topic] = sorted(await self.producer.partitions_for(topic))
        return self._partitions[topic]

    async def take(self) -> list[asyncio.Future[Any]]:
        """Ship the open batches; the futures of everything sent since the last call."""
        builders, self._builders = self._builders, {}
        for (topic, partition), builder in builders.items():
            self._pending.append(await self.producer.send_batch(builder, topic, partition=partition))
        pending, self._pending = self._pending, []
        return pending


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """Kafka's default partitioner hash; keys repeat (sessions, dealers, model:operation), so it is cached."""
    return int(murmur2(key) & 0x7FFFFFFF)


class _PartitionSeen:
    """One partition of a DedupStore, shaped as SeenEvents."""

    __slots__ = ("partition", "store")

    def __init__(self, store: DedupStore, partition: int) -> None:
        self.store, self.partition = store, partition

    def __contains__(self, event_id: bytes) -> bool:
        return self.store.contains(self.partition, event_id)

    def remember(self, event_id: bytes, occurred_ms: int) -> None:
        self.store.remember(self.partition, event_id, occurred_ms)


def _inbound(r: Any) -> InboundRecord:
    return InboundRecord(r.topic, r.partition, r.offset, r.key, r.value,
                         {k: v for k, v in r.headers} if r.headers else {})


class BatchPipeline(ConsumerRebalanceListener):  # type: ignore[misc]
    """One pipeline's consumer loop: fetch a batch and handle it while the previous batch is being finished
    (its outputs acknowledged, then its event ids changelogged, then its offsets committed, in that order)."""

    def __init__(self, runtime: Runtime, handler: RecordHandler[Any], batch_max_records: int | None = None,
                 max_poll_interval_s: float = 300.0, concurrency: int = 1,
                 stores: Sequence[KeyValueStore] = ()) -> None:
        self.runtime, self.handler, self.concurrency, self.stores = runtime, handler, concurrency, tuple(stores)
        settings = runtime.settings
        self.batch_max_records = batch_max_records or settings.batch_max_records
        self.max_poll_interval_s = max_poll_interval_s
        self.group_id = handler.group
        self.dedup = DedupStore(f"{self.group_id}-processed-changelog", settings.dedup_retention_hours * 3600)
        self._lock = asyncio.Lock()
        self._in_flight: asyncio.Future[None] | None = None
        self._batch_seconds = runtime.metrics.batch_seconds.labels(handler.name)
        self._lag = runtime.metrics.consumer_lag.labels(handler.name)
        # Called with partition numbers: after their tables are restored, and before they are dropped (the
        # agents pipeline resumes and releases the workflow runs those partitions hold).
        self.on_assigned: list[Callable[[list[int]], Awaitable[None]]] = []
        self.on_revoked: list[Callable[[list[int]], Awaitable[None]]] = []

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:  # after the batch being handled, and once the one being finished is committed
            await self._settle()
            for hook in self.on_revoked:
                await hook([tp.partition for tp in revoked])
            self.dedup.drop(tp.partition for tp in revoked)
            for store in self.stores:
                store.drop(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Under the lock: aiokafka may hand the loop records of the new partitions before this callback ends,
        # and they must not be handled against state that is about to be replaced.
        async with self._lock:
            started = time.monotonic()
            # The changelog is the truth: memory may hold ids of a batch that failed before it was committed.
            partitions = [tp.partition for tp in assigned]
            self.dedup.drop(partitions)
            loaded = await self.dedup.restore(self.runtime.settings, partitions)
            for store in self.stores:
                store.drop(partitions)
                loaded += await store.restore(self.runtime.settings, partitions)
            log.info("%s: assigned %s, restored %d event ids and table keys in %.2fs", self.handler.name,
                     sorted(partitions), loaded, time.monotonic() - started)
            for hook in self.on_assigned:
                await hook(partitions)

    async def run(self, producer: AIOKafkaProducer) -> None:
        settings = self.runtime.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap(), group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_wait_ms=settings.fetch_max_wait_ms,
            max_poll_records=self.batch_max_records, max_poll_interval_ms=int(self.max_poll_interval_s * 1000),
            session_timeout_ms=int(settings.session_timeout_s * 1000),
            rebalance_timeout_ms=int(settings.session_timeout_s * 1000),
            heartbeat_interval_ms=int(settings.heartbeat_interval_s * 1000), **settings.kafka_security())
        await consumer.start()
        consumer.subscribe([self.handler.source], listener=self)
        outbox = BatchOutbox(producer)
        next_prune, next_lag = time.monotonic() + 60, time.monotonic()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=self.batch_max_records)
                if time.monotonic() > next_lag:
                    await self._record_lag(consumer)
                    next_lag = time.monotonic() + 1.0
                async with self._lock:
                    if not batch:
                        await self._settle()  # idle: finish what is in flight now rather than later
                        continue
                    started = time.perf_counter()
                    await self._handle_batch(batch, outbox)
                    self._batch_seconds.observe(time.perf_counter() - started)
                    await self._settle()  # the previous batch is committed before this one may be
                    offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                    tables = [(store.changelog_topic, entry) for store in self.stores for entry in store.take_pending()]
                    self._in_flight = asyncio.ensure_future(self._finish(
                        consumer, outbox, await outbox.take(), self.dedup.take_pending(), tables, offsets))
                if time.monotonic() > next_prune:
                    self.dedup.prune()
                    for store in self.stores:
                        store.prune()
                    next_prune = time.monotonic() + 60
        finally:
            try:
                await self._settle()  # a clean stop commits what was handled
            finally:
                await consumer.stop()

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Records on the assigned partitions past what this consumer has fetched (from fetch high watermarks)."""
        lag = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - await consumer.position(tp))
        self._lag.set(lag)

    async def _handle_batch(self, batch: dict[TopicPartition, list[Any]], outbox: BatchOutbox) -> None:
        if self.concurrency == 1:
            for tp, records in batch.items():
                seen = _PartitionSeen(self.dedup, tp.partition)
                for r in records:
                    await self.handler(_inbound(r), seen, outbox)
            return
        # Records of one key stay in order (a chat session's messages build on each other); different keys
        # run concurrently, which is what I/O-bound processors (a remote LLM) and micro-batching need.
        by_key: dict[tuple[int, bytes | None], list[Any]] = {}
        for tp, records in batch.items():
            for r in records:
                by_key.setdefault((tp.partition, r.key), []).append(r)
        slots = asyncio.Semaphore(self.concurrency)

        async def run_key(partition: int, records: list[Any]) -> None:
            seen = _PartitionSeen(self.dedup, partition)
            async with slots:
                for r in records:
                    await self.handler(_inbound(r), seen, outbox)

        await asyncio.gather(*(run_key(partition, records) for (partition, _), records in by_key.items()))

    async def _finish(self, consumer: AIOKafkaConsumer, outbox: BatchOutbox, outputs: list[Any],
                      changelog: list[tuple[int, bytes]], tables: list[tuple[str, tuple[int, bytes, bytes | None]]],
                      offsets: dict[TopicPartition, int]) -> None:
        await asyncio.gather(*outputs)  # results, metrics and dead letters acknowledged by the broker; only then
        acks = [await outbox.producer.send(topic, value, key=key, partition=partition)
                for topic, (partition, key, value) in tables]  # table writes (session context) and
        acks += [await outbox.producer.send(self.dedup.changelog_topic, value, partition=partition)
                 for partition, value in changelog]  # the event ids are recorded as processed, and only then
        await asyncio.gather(*acks)
        await consumer.commit(offsets)  # the offsets: a crash anywhere redoes events, never skips one

    async def _settle(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            await in_flight


class PipelineHost(Service):
    """Runs every batch pipeline of the worker with one shared producer; started and stopped with the Faust app."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        self.runtime = runtime
        self.pipelines: list[BatchPipeline] = []
        self.followers: list[Callable[[], Awaitable[None]]] = []  # loops that read topics outside any group
        self.producer: AIOKafkaProducer | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        settings = self.runtime.settings
        await ensure_topics(settings, [
            *(TopicSpec(p.dedup.changelog_topic, (), self.runtime.topics[p.handler.source].partitions,
                        settings.dedup_retention_hours) for p in self.pipelines),
            *(TopicSpec(s.changelog_topic, (), s.partitions, settings.topic_retention_hours, compacted=True,
                        max_message_bytes=settings.max_message_bytes) for p in self.pipelines for s in p.stores)])
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap(), acks="all",
                                         linger_ms=settings.producer_linger_ms, max_batch_size=262_144,
                                         max_request_size=settings.max_message_bytes, enable_idempotence=False,
                                         **settings.kafka_security())
        await self.producer.start()
        for pipeline in self.pipelines:
            self.add_future(self._supervise(pipeline))
        for follow in self.followers:
            self.add_future(self._keep_following(follow))

    async def _keep_following(self, follow: Callable[[], Awaitable[None]]) -> None:
        while not self.should_stop:
            try:
                await follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a topic follower failed; restarting it")
                await asyncio.sleep(1.0)

    async def _supervise(self, pipeline: BatchPipeline) -> None:
        """Restart a pipeline loop that died of a broker error instead of leaving the worker half-alive."""
        assert self.producer is not None
        while not self.should_stop:
            try:
                await pipeline.run(self.producer)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: consumer loop failed; restarting from the last committed offsets",
                              pipeline.handler.name)
                await asyncio.sleep(1.0)

    async def on_stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()


def wire_processor(runtime: Runtime, name: str, source: str, input_type: type[E], processor: Processor[E],
                   batch_max_records: int | None = None, max_poll_interval_s: float = 300.0, concurrency: int = 1,
                   stores: Sequence[KeyValueStore] = ()) -> BatchPipeline:
    """The declarative line each ``streams/pipelines/<job>.py`` uses.

    Slow processors (ASR, OCR) take small batches and a long ``max_poll_interval_s``: a batch is handled
    before the next poll, and the group would otherwise evict a worker busy with a long recording.
    ``concurrency`` > 1 handles that many keys at once (records of one key stay in order); ``stores`` are the
    tables the processor reads and writes (see ``table``), restored and changelogged with the pipeline.
    """
    handler = RecordHandler(runtime, name, source, input_type, ProcessorStep(runtime, name, processor))
    return _host(runtime, BatchPipeline(runtime, handler, batch_max_records, max_poll_interval_s, concurrency,
                                        stores), name)


def wire_handler(runtime: Runtime, name: str, source: str, handle: Handler[Event], *, group: str,
                 concurrency: int = 1, stores: Sequence[KeyValueStore] = ()) -> BatchPipeline:
    """A pipeline whose step is not a processor (webhook delivery, the agents' orchestrator): any event type the
    source topic carries, with the same de-duplication, DLQ and commit order. ``group`` is the name
    AUTERITY_PIPELINES selects it by (one sink may read several topics)."""
    handler: RecordHandler[Event] = RecordHandler(runtime, name, source, None, handle)
    return _host(runtime, BatchPipeline(runtime, handler, concurrency=concurrency, stores=stores), group)


def selected(runtime: Runtime, group: str) -> bool:
    """Whether this worker runs pipeline ``group`` (AUTERITY_PIPELINES unset: every pipeline)."""
    return runtime.settings.pipelines is None or group in runtime.settings.pipelines


def _host(runtime: Runtime, pipeline: BatchPipeline, group: str) -> BatchPipeline:
    if selected(runtime, group):
        runtime.pipeline_host().pipelines.append(pipeline)
    return pipeline


def table(runtime: Runtime, name: str, source: str) -> KeyValueStore:
    """A table partitioned like ``source`` (its key is the source records' key), for ``wire_processor``; keys
    idle for AUTERITY_TABLE_RETENTION_HOURS are dropped."""
    settings = runtime.settings
    return KeyValueStore(name, f"{settings.app_id}-{name}-changelog", runtime.topics[source].partitions,
                         settings.table_retention_hours * 3600)


class FaustOutbox:
    """Outputs of a Faust agent: sent through the app's producer, which Faust flushes before it commits."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes]) -> None:
        await self.runtime.topic(topic).send(key=key, value=value, headers=dict(headers))


class _TableSeen:
    """A Faust table shaped as SeenEvents (Faust partitions it like the stream it is written from)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __contains__(self, event_id: bytes) -> bool:
        return event_id in self.table

    def remember(self, event_id: bytes, occurred_ms: int) -> None:
        self.table[event_id] = str(occurred_ms).encode()


def wire_agent(runtime: Runtime, name: str, source: str, input_type: type[E], handle: Handler[E]) -> RecordHandler[E]:
    """A Faust agent with the same decode/de-duplicate/DLQ handling, for pipelines that keep their state in
    Faust tables (the monitoring table): table writes need Faust's per-event context."""
    app = runtime.app
    seen = _TableSeen(app.Table(f"{name}-processed", key_type=bytes, value_type=bytes,
                                partitions=runtime.topics[source].partitions))
    handler = RecordHandler(runtime, name, source, input_type, handle)
    outbox = FaustOutbox(runtime)

    async def consume(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            await handler(InboundRecord(m.topic, m.partition, m.offset, m.key, m.value, event.headers), seen, outbox)

    app.agent(runtime.topic(source), name=f"{name}-agent")(consume)
    return handler
