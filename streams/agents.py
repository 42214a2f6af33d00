"""The worker's agents and orchestrator as the settings configure them (the worker and `auterity run-workflow`
share them): the CRM, enrichment sources, SMTP, SMS, HTTP, the LLM router, the OCR and call processors, and
long-term memory in the vector store."""

from __future__ import annotations

import asyncio
import inspect
import json
import mimetypes
import os
import re
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from connectors.crm import SqliteCrm, open_crm
from connectors.enrichment import build_sources
from connectors.messaging import HttpSmsSender, HttpStepCaller, SmtpMailer
from processors.agents.base import BaseAgent, PermanentTaskError
from processors.agents.campaign import EmailCampaignAgent, local_email_sequence
from processors.agents.intelligence import CompanyIntelligenceAgent, DataSourceManager
from processors.agents.local import LocalAiSteps
from processors.agents.memory import VectorMemory
from processors.agents.orchestrator import Emit, Orchestrator, OrchestratorConfig
from processors.agents.steps import AiStepAgent, ConditionAgent, CrmAgent, HttpAgent, MessagingAgent
from processors.base import Outcome
from processors.ports import EnrichmentSource
from processors.privacy import redact
from schemas.models import CallRecorded, DocumentReceived, Event
from streams.kafka import send_event
from streams.llm import llm_client, privacy_policy
from streams.settings import Settings
from streams.state import KeyValueStore
from streams.topics import TopicRegistry

_DIGEST = re.compile(r"([0-9a-f]{64})")


def crm(settings: Settings) -> SqliteCrm:
    """The dealer CRM; the shipped sample is created when the database does not exist yet."""
    return open_crm(settings.agents.crm_path, timezone=settings.agents.crm_timezone)


def build_agents(settings: Settings, executor: Any = None) -> list[BaseAgent]:
    """Every agent this worker runs; a step whose peer is not configured (SMTP, SMS) has no agent, so a task
    of that type fails saying so."""
    from streams.pipelines.conversations import services

    config = settings.agents
    shared = services(settings)
    local = LocalAiSteps(shared.embedder)
    llm = llm_client(settings, ai_text=local.text, ai_classify=local.classify, email_sequence=local_email_sequence)
    dealer_crm = crm(settings)
    sources: list[EnrichmentSource] = [dealer_crm, *build_sources(config.enrichment_sources, os.environ)]

    def redact_for(dealer_id: str, text: str) -> str:
        return redact(text, privacy_policy(settings, dealer_id)).text

    mailer = None
    if config.smtp_host:
        mailer = SmtpMailer(config.smtp_host, config.smtp_port, sender=config.mail_from, tls=config.smtp_tls,
                            username=config.smtp_username,
                            password=config.smtp_password.get_secret_value() if config.smtp_password else None)
    sms = None
    if config.sms_url:
        sms = HttpSmsSender(config.sms_url, config.sms_api_key.get_secret_value() if config.sms_api_key else None,
                            timeout_s=config.http_timeout_s)
    return [
        ConditionAgent(),
        MessagingAgent(mailer, sms),
        # Any host: the generator already puts a human_approval before a call to a host not in allowed_hosts.
        HttpAgent(HttpStepCaller(frozenset(), timeout_s=config.http_timeout_s)),
        CrmAgent(dealer_crm),
        CompanyIntelligenceAgent(DataSourceManager(sources, timeout_s=config.enrichment_timeout_s)),
        EmailCampaignAgent(llm=llm, group=config.email_group, redact=lambda text: redact(text).text),
        AiStepAgent(llm, redact_for, read_document=_document_reader(settings, executor),
                    transcribe_call=_call_reader(settings, executor)),
    ]


def orchestrator_config(settings: Settings) -> OrchestratorConfig:
    config = settings.agents
    return OrchestratorConfig(default_timeout_s=config.task_timeout_s,
                              approval_timeout_s=config.approval_timeout_hours * 3600,
                              missing_task_wait_s=config.missing_task_wait_s,
                              initial_backoff_s=config.retry_initial_backoff_s,
                              max_backoff_s=config.retry_max_backoff_s)


def memory(settings: Settings) -> VectorMemory | None:
    """Long-term memory in the worker's vector store (a separate collection), redacting before embedding."""
    if not settings.agents.memory:
        return None
    from streams.pipelines.conversations import services

    shared = services(settings)
    return VectorMemory(shared.embedder, shared.vectors, lambda text: redact(text).text,
                        retention_days=settings.agents.memory_retention_days)


def build_orchestrator(settings: Settings, store: Any, emit: Emit, executor: Any = None) -> Orchestrator:
    return Orchestrator(build_agents(settings, executor), store, emit, orchestrator_config(settings),
                        memory(settings))


class TableRunStore:
    """Runs in the agents pipeline's table, each saved straight to its changelog and acknowledged: a task's
    end is durable before its result or its effect is known to anyone. A run lives in the partition of its
    workflow id, the key of the tasks that make it."""

    def __init__(self, table: KeyValueStore, producer: Callable[[], AIOKafkaProducer | None]) -> None:
        self.table, self.producer = table, producer

    def load(self, workflow_id: str, key: str) -> str | None:
        return self.table.get(key, partition_key=workflow_id)

    async def save(self, workflow_id: str, key: str, value: str) -> None:
        partition, raw_key, raw_value = self.table.put_now(key, value, partition_key=workflow_id)
        client = self.producer()
        assert client is not None, "the pipeline host's producer starts before any pipeline runs"
        await (await client.send(self.table.changelog_topic, raw_value, key=raw_key, partition=partition))

    def runs(self, partitions: list[int]) -> list[tuple[str, str]]:
        """(workflow id, run key) of the runs held for these partitions."""
        return [(json.loads(raw)["workflow_id"], key) for key, raw in self.table.items(partitions)]


def kafka_emit(settings: Settings, codec: Any, producer: Callable[[], AIOKafkaProducer | None]) -> Emit:
    """Publish an event to the topic of its type and wait for the broker's ack."""
    registry = TopicRegistry(settings)

    async def emit(event: Event) -> None:
        client = producer()
        assert client is not None
        await (await send_event(client, codec, registry.topic_for(type(event)), event))

    return emit


def _blob_digest(uri: str) -> str:
    match = _DIGEST.search(uri.rsplit("/", 1)[-1])
    if match is None:
        raise PermanentTaskError(f"{uri!r} is not a blob store URI (its name is the content's SHA-256)")
    return match[1]


def _document_reader(settings: Settings, executor: Any) -> Callable[[str, str], Any]:
    """ocr_document: the scan a blob URI names, through the documents processor."""
    from streams.pipelines.documents import document_analyzer

    analyzer = document_analyzer(settings)

    async def read(dealer_id: str, uri: str) -> dict[str, Any]:
        event = DocumentReceived(dealer_id=dealer_id, document_id=uri.rsplit("/", 1)[-1], filename=uri,
                                 content_type=mimetypes.guess_type(uri)[0] or "application/octet-stream",
                                 blob_uri=uri, sha256=_blob_digest(uri), size_bytes=0, source="workflow")
        outcome = await asyncio.get_running_loop().run_in_executor(executor, analyzer.process, event)
        analysis = outcome.results[0]
        if getattr(analysis, "error", None):
            raise PermanentTaskError(f"the document could not be read: {analysis.error}")  # type: ignore[attr-defined]
        data = analysis.model_dump(mode="json")
        return {"document_type": data["document_type"], "fields": data["fields"], "text": data["text"]}

    return read


def _call_reader(settings: Settings, executor: Any) -> Callable[[str, str], Any]:
    """transcribe_call: the recording a blob URI names, through the calls processor."""
    from streams.pipelines.calls import call_analyzer

    analyzer = call_analyzer(settings)

    async def transcribe(dealer_id: str, uri: str) -> dict[str, Any]:
        content_type = mimetypes.guess_type(uri)[0] or "application/octet-stream"
        event = CallRecorded(dealer_id=dealer_id, call_id=uri.rsplit("/", 1)[-1], content_type=content_type,
                             blob_uri=uri, sha256=_blob_digest(uri), size_bytes=0)
        if inspect.iscoroutinefunction(analyzer.process):  # with an LLM for the insights
            outcome: Outcome = await analyzer.process(event)
        else:
            outcome = await asyncio.get_running_loop().run_in_executor(
                executor, analyzer.process, event)  # type: ignore[arg-type]  # the plain analyzer: synchronous
        analysis = outcome.results[0].model_dump(mode="json")
        if analysis.get("error"):
            raise PermanentTaskError(f"the recording could not be transcribed: {analysis['error']}")
        return {"transcript": analysis["transcript"], "action_items": analysis["action_items"],
                "sentiment": analysis["sentiment"], "summary": analysis["summary"]}

    return transcribe

