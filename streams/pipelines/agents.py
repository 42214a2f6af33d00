"""agents.tasks -> agents.results."""

from __future__ import annotations

from processors.placeholder import PlaceholderAgentRunner
from schemas.models import AgentTask
from streams.pipeline import wire_processor
from streams.runtime import Runtime


def wire(runtime: Runtime) -> None:
    wire_processor(runtime, "agents", runtime.settings.topics.agents_tasks, AgentTask, PlaceholderAgentRunner())
