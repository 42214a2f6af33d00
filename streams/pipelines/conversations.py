"""conversations.messages -> conversations.analyzed -> workflows.generated.

Requirement analysis runs many sessions at once (a session's messages stay in order) so the local model can
batch their embeddings and a hosted LLM's latency overlaps; each session's context is a table. Generation keeps
each session's workflows and versions in a second table, partitioned the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.embeddings import MiniLmEmbedder, load_embedder
from connectors.llm import LlmClient
from connectors.vectors import MilvusVectorStore
from processors.nlp import RequirementAnalyzer
from processors.nlp.rules import RuleBasedAnalyst
from processors.ports import ContextStore
from processors.workflows.generate import WorkflowGenerator
from schemas.models import ConversationMessage, RequirementAnalysis
from streams.failures import FailureIndex
from streams.llm import llm_client, privacy_policy
from streams.pipeline import table, wire_processor
from streams.runtime import Runtime
from streams.settings import Settings


@dataclass(frozen=True)
class ConversationServices:
    """What both processors share, loaded once per process."""

    embedder: MiniLmEmbedder
    llm: LlmClient
    vectors: MilvusVectorStore


_SERVICES: dict[tuple[str | None, ...], ConversationServices] = {}


def services(settings: Settings) -> ConversationServices:
    """The shared services for these settings, built on first use (a worker and the CLI build them once)."""
    key = (settings.embedding_model_dir, settings.model_cache_dir, str(settings.embedding_threads),
           settings.embedding_precision, settings.llm.config, settings.vector_uri)
    if key not in _SERVICES:
        _SERVICES[key] = _build_services(settings)
    return _SERVICES[key]


def _build_services(settings: Settings) -> ConversationServices:
    embedder = load_embedder(settings.embedding_model_dir, settings.model_cache_dir, settings.embedding_threads,
                             settings.embedding_precision)
    analyst = RuleBasedAnalyst(embedder)
    llm = llm_client(settings, requirement_analysis=analyst.answer,
                     requirement_analysis_batch=analyst.answer_batch)
    token = settings.vector_token.get_secret_value() if settings.vector_token else None
    return ConversationServices(embedder, llm, MilvusVectorStore(settings.vector_uri, embedder.dimension, token))


def requirement_analyzer(settings: Settings, sessions: ContextStore) -> RequirementAnalyzer:
    return RequirementAnalyzer(services(settings).llm, sessions, lambda dealer: privacy_policy(settings, dealer),
                               group=settings.llm.analysis_group)


def workflow_generator(settings: Settings, workflows: ContextStore,
                       failures: FailureIndex | None = None) -> WorkflowGenerator:
    shared = services(settings)
    generator = WorkflowGenerator(shared.embedder, shared.vectors, workflows, shared.llm.config.price_per_token,
                                  allowed_hosts=frozenset(settings.allowed_hosts))
    if failures is not None:
        generator.error_context = failures.context
    return generator


def wire(runtime: Runtime) -> None:
    settings, topics = runtime.settings, runtime.settings.topics
    sessions = table(runtime, "sessions", topics.conversations_messages)
    # Batches of 200: a result leaves when its batch is done, so smaller batches answer a chat sooner under load.
    wire_processor(runtime, "requirements", topics.conversations_messages, ConversationMessage,
                   requirement_analyzer(settings, sessions), batch_max_records=200, concurrency=200,
                   stores=[sessions])
    workflows = table(runtime, "workflows", topics.conversations_analyzed)
    failures = FailureIndex(settings, runtime.codec)
    runtime.pipeline_host().followers.append(failures.run)
    wire_processor(runtime, "workflows", topics.conversations_analyzed, RequirementAnalysis,
                   workflow_generator(settings, workflows, failures), batch_max_records=200, stores=[workflows])
