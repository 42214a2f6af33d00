"""The one Faust app of a worker and what every pipeline shares: settings, codec, topics, metrics, executor."""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from connectors.prometheus import PipelineMetrics
from schemas.codec import CONTENT_TYPE, AvroCodec, SchemaRegistryClient
from schemas.models import Event
from streams.settings import Settings
from streams.topics import TopicRegistry
from streams.tracing import install_tracer_provider

# Faust tuning, measured in bench/backbone.py (see README, "Performance").
FAUST_TUNING: dict[str, Any] = {
    "broker_commit_every": 10_000,
    "broker_commit_interval": 1.0,
    "stream_buffer_maxsize": 16_384,
    "broker_max_poll_records": 2_000,
    "producer_linger_ms": 5,
    "producer_max_batch_size": 262_144,
    "broker_rebalance_timeout": 10.0,
    "broker_session_timeout": 30.0,
    "broker_heartbeat_interval": 3.0,
}


def build_headers(codec: AvroCodec, event_type: type[Event], trace_headers: dict[str, bytes]) -> dict[str, bytes]:
    """The headers every event travels with: trace context, content type and schema id (DESIGN.md)."""
    return {**trace_headers, "content-type": CONTENT_TYPE.encode(), "schema-id": codec.schema_id(event_type).encode()}


def make_codec(settings: Settings) -> AvroCodec:
    """Single-object encoding, or the Confluent wire format when a schema registry is configured."""
    registry = None
    if settings.schema_registry_url:
        auth = None
        if settings.schema_registry_username and settings.schema_registry_password:
            auth = (settings.schema_registry_username, settings.schema_registry_password.get_secret_value())
        registry = SchemaRegistryClient(settings.schema_registry_url, auth=auth)
    return AvroCodec(registry=registry)


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    if settings.sasl_mechanism:
        ssl_context = None
        if settings.security_protocol == "SASL_SSL":
            ssl_context = ssl.create_default_context(cafile=settings.ssl_cafile)
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value() if settings.sasl_password else None,
            mechanism=settings.sasl_mechanism, ssl_context=ssl_context)
    if settings.security_protocol == "SSL":
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
        if settings.ssl_certfile:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
        return faust.SSLCredentials(context)
    return None


@dataclass
class Runtime:
    """Everything a pipeline needs; built once per worker by ``create_runtime``."""

    settings: Settings
    app: faust.App
    codec: AvroCodec
    topics: TopicRegistry
    metrics: PipelineMetrics
    executor: ThreadPoolExecutor
    _faust_topics: dict[str, faust.TopicT] = field(default_factory=dict)

    def topic(self, name: str) -> faust.TopicT:
        """The raw-bytes Faust topic for a registered name (created with its partitions and retention)."""
        if name not in self._faust_topics:
            spec = self.topics[name]
            self._faust_topics[name] = self.app.topic(
                name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                partitions=spec.partitions, retention=spec.retention_hours * 3600, internal=False)
        return self._faust_topics[name]

    def headers_for(self, event_type: type[Event], trace_headers: dict[str, bytes]) -> dict[str, bytes]:
        return build_headers(self.codec, event_type, trace_headers)

    async def publish(self, event: Event, trace_headers: dict[str, bytes], topic: str | None = None) -> None:
        """Encode and hand the event to the producer; Faust flushes it before the input offset is committed."""
        name = topic or self.topics.topic_for(type(event))
        await self.topic(name).send(key=event.key().encode(), value=self.codec.encode(event),
                                    headers=self.headers_for(type(event), trace_headers))


def create_runtime(settings: Settings) -> Runtime:
    install_tracer_provider()
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.bootstrap().split(",")],
        broker_credentials=_credentials(settings),
        store="memory://",  # tables are rebuilt from their changelog topics on restart
        key_serializer="raw", value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        web_enabled=True, web_host=settings.web_host, web_port=settings.web_port, web_bind=settings.web_host,
        **FAUST_TUNING,
    )
    return Runtime(settings=settings, app=app, codec=make_codec(settings), topics=TopicRegistry(settings),
                   metrics=PipelineMetrics(CollectorRegistry()),
                   executor=ThreadPoolExecutor(settings.executor_workers, thread_name_prefix="processor"))
