"""conversations.messages -> conversations.analyzed -> workflows.generated."""

from __future__ import annotations

from processors.placeholder import PlaceholderRequirementAnalyzer, PlaceholderWorkflowGenerator
from schemas.models import ConversationMessage, RequirementAnalysis
from streams.pipeline import wire_processor
from streams.runtime import Runtime


def wire(runtime: Runtime) -> None:
    topics = runtime.settings.topics
    wire_processor(runtime, "requirements", topics.conversations_messages, ConversationMessage,
                   PlaceholderRequirementAnalyzer())
    wire_processor(runtime, "workflows", topics.conversations_analyzed, RequirementAnalysis,
                   PlaceholderWorkflowGenerator())
