"""Placeholder processors: they answer every inbound event with an honest, empty result.

They keep each pipeline wired end to end (topics, DLQ, metrics, monitoring) until the real processors of the
conversations, documents, calls and agents issues replace them. Every result says ``processor="placeholder"``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from processors.base import Outcome, Usage
from schemas.models import (
    AgentTask,
    CallAnalysis,
    CallRecorded,
    ConversationMessage,
    DocumentAnalysis,
    DocumentReceived,
    GeneratedWorkflow,
    RequirementAnalysis,
    TaskResult,
    TaskStatus,
)

PLACEHOLDER = "placeholder"
NO_MODEL = Usage(model="none", provider=PLACEHOLDER)
WORKFLOW_NAMESPACE = uuid.UUID("8f9a2a8e-1b7c-4e0a-9d0c-5a7e3f3c2b10")


@dataclass(frozen=True)
class PlaceholderRequirementAnalyzer:
    """conversations.messages -> conversations.analyzed with no intent (not analysed yet)."""

    name: str = f"{PLACEHOLDER}.requirement_analysis"
    operation_type: str = "requirement_analysis"
    cpu_bound: bool = False

    def process(self, event: ConversationMessage) -> Outcome:
        analysis = RequirementAnalysis(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=PLACEHOLDER,
            session_id=event.session_id, workflow_id=event.workflow_id,
        )
        return Outcome([analysis], NO_MODEL)


@dataclass(frozen=True)
class PlaceholderWorkflowGenerator:
    """conversations.analyzed -> workflows.generated: an empty, invalid workflow that says why."""

    name: str = f"{PLACEHOLDER}.workflow_generation"
    operation_type: str = "workflow_generation"
    cpu_bound: bool = False

    def process(self, event: RequirementAnalysis) -> Outcome:
        workflow_id = event.workflow_id or str(uuid.uuid5(WORKFLOW_NAMESPACE, event.session_id))
        workflow = GeneratedWorkflow(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=PLACEHOLDER,
            session_id=event.session_id, workflow_id=workflow_id, name="placeholder workflow",
            valid=False, validation_errors=["workflow generation is not installed (placeholder processor)"],
        )
        return Outcome([workflow], NO_MODEL)


@dataclass(frozen=True)
class PlaceholderDocumentAnalyzer:
    """documents.received -> documents.analyzed with no text or fields (OCR not installed)."""

    name: str = f"{PLACEHOLDER}.ocr"
    operation_type: str = "ocr"
    cpu_bound: bool = False

    def process(self, event: DocumentReceived) -> Outcome:
        analysis = DocumentAnalysis(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=PLACEHOLDER,
            document_id=event.document_id, document_type=event.document_type_hint,
        )
        return Outcome([analysis], NO_MODEL)


@dataclass(frozen=True)
class PlaceholderCallAnalyzer:
    """calls.recorded -> calls.analyzed with no transcript (ASR not installed)."""

    name: str = f"{PLACEHOLDER}.transcription"
    operation_type: str = "transcription"
    cpu_bound: bool = False

    def process(self, event: CallRecorded) -> Outcome:
        analysis = CallAnalysis(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=PLACEHOLDER, call_id=event.call_id,
        )
        return Outcome([analysis], NO_MODEL)


@dataclass(frozen=True)
class PlaceholderAgentRunner:
    """agents.tasks -> agents.results: every task is skipped, with the reason."""

    name: str = f"{PLACEHOLDER}.agent_task"
    operation_type: str = "agent_task"
    cpu_bound: bool = False

    def process(self, event: AgentTask) -> Outcome:
        result = TaskResult(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=PLACEHOLDER,
            task_id=event.task_id, workflow_id=event.workflow_id, status=TaskStatus.SKIPPED,
            error="agent orchestration is not installed (placeholder processor)",
        )
        return Outcome([result], NO_MODEL)
