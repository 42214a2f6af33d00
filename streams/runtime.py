"""The one Faust app of a worker and what every pipeline shares: settings, codec, topics, metrics, executor."""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust
from prometheus_client import CollectorRegistry

from connectors.prometheus import PipelineMetrics
from schemas.codec import CONTENT_TYPE, AvroCodec, SchemaRegistryClient
from schemas.models import Event
from streams.settings import Settings
from streams.topics import TopicRegistry
from streams.tracing import configure_exporter

if TYPE_CHECKING:
    from streams.pipeline import PipelineHost


def faust_tuning(settings: Settings) -> dict[str, Any]:
    """Faust settings for the monitoring agent; measured in bench/backbone.py (README, "Performance")."""
    return {
        "broker_session_timeout": settings.session_timeout_s,  # Faust's 60 s default makes a group join take 31 s
        "broker_rebalance_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": settings.heartbeat_interval_s,
        "producer_linger": settings.producer_linger_ms / 1000.0,  # seconds: Faust multiplies by 1000
        "producer_max_batch_size": 262_144,
        "stream_buffer_maxsize": 16_384,
    }


def build_headers(codec: AvroCodec, event_type: type[Event], trace_headers: dict[str, bytes]) -> dict[str, bytes]:
    """The headers every event travels with: trace context, content type and schema id (DESIGN.md)."""
    return {**trace_headers, "content-type": _CONTENT_TYPE, "schema-id": codec.schema_id(event_type).encode()}


_CONTENT_TYPE = CONTENT_TYPE.encode()


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
    _pipeline_host: PipelineHost | None = None

    def pipeline_host(self) -> PipelineHost:
        """The service that runs this worker's batch pipelines; created and registered on first use."""
        if self._pipeline_host is None:
            from streams.pipeline import PipelineHost

            self._pipeline_host = PipelineHost(self)
            self.app.service(self._pipeline_host)  # type: ignore[arg-type]  # Faust takes instances as well
        return self._pipeline_host

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



def create_runtime(settings: Settings) -> Runtime:
    configure_exporter(settings.trace_exporter, "auterity-worker")
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.bootstrap().split(",")],
        broker_credentials=_credentials(settings),
        store="memory://",  # tables are rebuilt from their changelog topics on restart
        key_serializer="raw", value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        web_enabled=True, web_host=settings.web_host, web_port=settings.web_port, web_bind=settings.web_host,
        **faust_tuning(settings),
    )
    return Runtime(settings=settings, app=app, codec=make_codec(settings), topics=TopicRegistry(settings),
                   metrics=PipelineMetrics(CollectorRegistry()),
                   executor=ThreadPoolExecutor(settings.executor_workers, thread_name_prefix="processor"))
