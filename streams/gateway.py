"""The ingest gateway on Kafka: publishes through an idempotent-by-id producer, stores large uploads in the blob
store, and answers GET /v1/results from an index it keeps by following the result topics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from connectors.gateway import GatewayConfig, StoredBlob, create_app
from schemas.errors import InvalidEvent, UndecodableEvent
from schemas.models import Event, ResultEvent
from streams.blobs import blob_store
from streams.kafka import producer, send_event
from streams.runtime import make_codec
from streams.settings import Settings
from streams.topics import TopicRegistry, result_topics
from streams.tracing import configure_exporter

log = logging.getLogger(__name__)


class ResultIndex:
    """Results by the id of the event they answer, for the newest ``capacity`` answered events."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._by_source: OrderedDict[uuid.UUID, tuple[str, dict[str, dict[str, Any]]]] = OrderedDict()

    def add(self, result: ResultEvent) -> None:
        _, results = self._by_source.setdefault(result.source_event_id, (result.dealer_id, {}))
        results[str(result.event_id)] = {"type": result.schema_name, **result.model_dump(mode="json")}
        self._by_source.move_to_end(result.source_event_id)
        while len(self._by_source) > self.capacity:
            self._by_source.popitem(last=False)

    def get(self, event_id: uuid.UUID) -> tuple[str, list[dict[str, Any]]] | None:
        found = self._by_source.get(event_id)
        return None if found is None else (found[0], list(found[1].values()))


class KafkaBackend:
    """The gateway's producer, blob store and result index, started and stopped with the app."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.codec = settings, make_codec(settings)
        self.index = ResultIndex(settings.gateway.results_kept)
        self._producer: AIOKafkaProducer | None = None
        self.registry = TopicRegistry(settings)
        self.result_topics = result_topics(settings.topics)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        async with producer(self.settings) as client:
            self._producer = client
            follower = asyncio.create_task(self._follow_results())
            try:
                yield
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower

    async def publish(self, event: Event) -> None:
        assert self._producer is not None, "the gateway's producer starts with the app"
        try:
            sent = await send_event(self._producer, self.codec, self.registry.topic_for(type(event)), event)
        except (ValueError, TypeError, OverflowError) as exc:  # fastavro: a value outside the Avro type's range
            raise InvalidEvent(f"{event.schema_name} does not fit its Avro schema: {exc}") from exc
        await sent

    def store(self, data: bytes, suffix: str) -> StoredBlob:
        return blob_store(self.settings).put(data, suffix)

    def results(self, event_id: uuid.UUID) -> tuple[str, list[dict[str, Any]]] | None:
        return self.index.get(event_id)

    async def _follow_results(self) -> None:
        """Read every result topic from its start (no consumer group: each gateway keeps its own index)."""
        while True:
            consumer = AIOKafkaConsumer(*self.result_topics, bootstrap_servers=self.settings.bootstrap(),
                                        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                        **self.settings.kafka_security())
            try:
                await consumer.start()
                async for record in consumer:
                    try:
                        result: Event = self.codec.decode(record.value or b"")
                    except (UndecodableEvent, InvalidEvent):  # a result this gateway cannot read is not its to answer
                        continue
                    if isinstance(result, ResultEvent):
                        self.index.add(result)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway: following the result topics failed; starting again")
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()


def gateway_app(settings: Settings) -> FastAPI:
    configure_exporter(settings.trace_exporter, "auterity-gateway")
    gateway = settings.gateway
    config = GatewayConfig(gateway.api_keys, gateway.rate_per_s, gateway.burst, gateway.max_json_bytes,
                           gateway.max_upload_bytes, settings.document_inline_max_bytes,
                           settings.call_inline_max_bytes)
    backend = KafkaBackend(settings)
    return create_app(config, backend, lifespan=backend.lifespan)


def serve(settings: Settings) -> None:
    """Run the gateway until interrupted (uvicorn; slow clients are cut off after the keep-alive timeout)."""
    uvicorn.run(gateway_app(settings), host=settings.gateway.host, port=settings.gateway.port,
                timeout_keep_alive=5, limit_concurrency=1000, log_level=settings.log_level)
