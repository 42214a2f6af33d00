"""Placeholder processors: they answer every inbound event with an honest, empty result.

They keep each pipeline wired end to end (topics, DLQ, metrics, monitoring) until the real processors of the
documents and agents issues replace them. Every result says ``processor="placeholder"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.base import Outcome, Usage
from schemas.models import (
    AgentTask,
    DocumentAnalysis,
    DocumentReceived,
    TaskResult,
    TaskStatus,
)

PLACEHOLDER = "placeholder"
NO_MODEL = Usage(model="none", provider=PLACEHOLDER)


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
