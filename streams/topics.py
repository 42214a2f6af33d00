"""The topic registry: every topic's name, event types, partitions and retention, and their creation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.models import (
    AgentTask,
    AIAuditEvent,
    AIOperationMetric,
    Alert,
    ApprovalDecision,
    CallAnalysis,
    CallRecorded,
    ConversationMessage,
    DeadLetter,
    DebugAnalysis,
    DocumentAnalysis,
    DocumentReceived,
    Event,
    GeneratedInterface,
    GeneratedWorkflow,
    RequirementAnalysis,
    TaskResult,
    WorkflowResult,
)
from streams.settings import Settings, TopicNames

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: what travels on it and how it is configured."""

    name: str
    event_types: tuple[type[Event], ...]
    partitions: int
    retention_hours: float
    inbound: bool = False  # published by dealership systems (the demo and `publish` target these)
    max_message_bytes: int = 1_048_588  # Kafka's default; the registry sets AUTERITY_MAX_MESSAGE_BYTES
    compacted: bool = False  # a table's changelog: the latest value per key is kept, whatever its age

    @property
    def dlq(self) -> str:
        return dlq_topic(self.name)

    @property
    def config(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact", "max.message.bytes": str(self.max_message_bytes)}
        return {"retention.ms": str(int(self.retention_hours * 3600 * 1000)),
                "max.message.bytes": str(self.max_message_bytes)}


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def result_topics(names: TopicNames) -> list[str]:
    """The topics that carry results to dealers (what the webhook sink delivers and the gateway answers from)."""
    return [names.conversations_analyzed, names.workflows_generated, names.documents_analyzed, names.calls_analyzed,
            names.agents_results]


class TopicRegistry:
    """All topics of the project, by name, plus the topic each result type is published to."""

    def __init__(self, settings: Settings) -> None:
        names, parts, hours = settings.topics, settings.topic_partitions, settings.topic_retention_hours
        specs = [
            TopicSpec(names.conversations_messages, (ConversationMessage,), parts, hours, inbound=True),
            TopicSpec(names.documents_received, (DocumentReceived,), parts, hours, inbound=True),
            TopicSpec(names.calls_recorded, (CallRecorded,), parts, hours, inbound=True),
            TopicSpec(names.agents_tasks, (AgentTask, ApprovalDecision), parts, hours, inbound=True),
            TopicSpec(names.conversations_analyzed, (RequirementAnalysis,), parts, hours),
            TopicSpec(names.workflows_generated, (GeneratedWorkflow, GeneratedInterface, DebugAnalysis), parts,
                      hours),
            TopicSpec(names.documents_analyzed, (DocumentAnalysis,), parts, hours),
            TopicSpec(names.calls_analyzed, (CallAnalysis,), parts, hours),
            TopicSpec(names.agents_results, (TaskResult, WorkflowResult), parts, hours),
            TopicSpec(names.metrics_events, (AIOperationMetric,), parts, hours),
            TopicSpec(names.audit_events, (AIAuditEvent,), parts, hours),
            TopicSpec(names.alerts, (Alert,), parts, hours),
        ]
        specs += [TopicSpec(s.dlq, (DeadLetter,), parts, settings.dlq_retention_hours) for s in list(specs)]
        specs = [replace(s, max_message_bytes=settings.max_message_bytes) for s in specs]
        self.specs: dict[str, TopicSpec] = {s.name: s for s in specs}
        self._route: dict[type[Event], str] = {}
        for spec in specs:
            if not spec.name.endswith(DLQ_SUFFIX):
                self._route.update({t: spec.name for t in spec.event_types})

    def __getitem__(self, name: str) -> TopicSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise KeyError(f"unknown topic {name!r}; known topics: {', '.join(sorted(self.specs))}") from None

    def inbound(self) -> list[TopicSpec]:
        return [s for s in self.specs.values() if s.inbound]

    def topic_for(self, event_type: type[Event]) -> str:
        """Where results of this type are published."""
        return self._route[event_type]


async def ensure_topics(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap(), **settings.kafka_security())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


def ensure_topics_sync(settings: Settings) -> list[str]:
    return asyncio.run(ensure_topics(settings, TopicRegistry(settings).specs.values()))
