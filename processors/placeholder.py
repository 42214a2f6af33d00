"""Placeholder processors: they answer every inbound event with an honest, empty result.

They keep each pipeline wired end to end (topics, DLQ, metrics, monitoring) until the real processor of the
agents issue replaces them. Every result says ``processor="placeholder"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.base import Outcome, Usage
from schemas.models import AgentTask, TaskResult, TaskStatus

PLACEHOLDER = "placeholder"
NO_MODEL = Usage(model="none", provider=PLACEHOLDER)


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
