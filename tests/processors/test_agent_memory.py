"""Long-term agent memory on the real embedder (MiniLM) and the real vector store (milvus-lite): recall by
similarity and task type, expiry, redaction before embedding, and memory steering the choice of agent."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from processors.agents.base import AgentResult, BaseAgent, TaskRequest
from processors.agents.memory import VectorMemory
from processors.agents.orchestrator import MemoryRunStore, Orchestrator, OrchestratorConfig
from processors.privacy import redact
from schemas.models import AgentTask, Event, TaskResult
from streams.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def memory_for(settings: Settings, clock: Clock, redactor: Any = None) -> VectorMemory:
    from streams.pipelines.conversations import services

    shared = services(settings)
    return VectorMemory(shared.embedder, shared.vectors, redactor or (lambda text: redact(text).text),
                        retention_days=30, collection=f"memory_{uuid.uuid4().hex[:8]}", clock=clock)


async def test_recall_finds_similar_tasks_of_the_same_type_and_expiry_forgets_old_ones(
        conversation_settings: Settings) -> None:
    clock = Clock()
    memory = memory_for(conversation_settings, clock)
    await memory.remember("enrich_company", "enrich_company: Harbor Fleet Services, fleet management, Tacoma",
                          "intel-a", True, 120.0, {"sources_used": ["crm"]})
    await memory.remember("enrich_company", "enrich_company: Puget Sound Rentals, car rental, Seattle",
                          "intel-b", False, 5000.0, {})
    await memory.remember("send_email", "send_email: Harbor Fleet Services welcome", "messaging", True, 80.0, {})
    clock.now += 20 * 86400
    await memory.remember("enrich_company", "enrich_company: Harbor Fleet Services Tacoma fleet", "intel-a", True,
                          90.0, {})

    recalled = await memory.recall("enrich_company", "enrich_company: Harbor Fleet Services, Tacoma WA")
    assert recalled and {r.task_type for r in recalled} == {"enrich_company"}  # the email is another task type
    assert recalled[0].agent_id == "intel-a" and recalled[0].success and recalled[0].similarity > 0.8
    assert all(r.similarity >= 0.6 for r in recalled)
    assert await memory.recall("enrich_company", "quarterly tax filing for a bakery") == []  # nothing alike

    clock.now += 15 * 86400  # the first three are now 35 days old, past the 30-day retention
    assert memory.expire() == 3
    remaining = await memory.recall("enrich_company", "enrich_company: Harbor Fleet Services, Tacoma WA")
    assert [r.latency_ms for r in remaining] == [90.0]


async def test_what_is_embedded_is_redacted_first(conversation_settings: Settings) -> None:
    seen: list[str] = []

    def spy(text: str) -> str:
        cleaned = redact(text).text
        seen.append(cleaned)
        return cleaned

    memory = memory_for(conversation_settings, Clock(), spy)
    await memory.remember("send_email", "send_email: to dana.whitfield@harborfleet.com, call (253) 555-0142",
                          "messaging", True, 50.0, {})
    assert seen and "dana.whitfield@harborfleet.com" not in seen[0] and "555-0142" not in seen[0]


class Enricher(BaseAgent):
    learns = True

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id, ["company_lookup"])
        self.calls = 0

    async def execute(self, request: TaskRequest) -> AgentResult:
        self.calls += 1
        return AgentResult({"company": {"name": request.inputs["company_name"]}, "confidence": 0.9})


async def test_memory_of_past_outcomes_steers_the_choice_of_agent(conversation_settings: Settings) -> None:
    memory = memory_for(conversation_settings, Clock())
    for city in ("Tacoma", "Olympia", "Everett"):
        text = f'enrich_company: {{"company_name": "Harbor Fleet Services {city}"}}'
        await memory.remember("enrich_company", text, "first", False, 4000.0, {})
        await memory.remember("enrich_company", text, "second", True, 300.0, {})
    first, second = Enricher("first"), Enricher("second")  # equal records in this process: only memory differs
    results: list[Event] = []

    async def emit(event: Event) -> None:
        results.append(event)

    orchestrator = Orchestrator([first, second], MemoryRunStore(), emit, OrchestratorConfig(), memory)
    await orchestrator.accept(AgentTask(dealer_id="D1", workflow_id="wf", task_id="t", task_type="enrich_company",
                                        input_json='{"company_name": "Harbor Fleet Services Tacoma"}'))
    await asyncio.wait_for(orchestrator.idle(), 30)
    [result] = [r for r in results if isinstance(r, TaskResult)]
    assert result.agent_id == "second" and (first.calls, second.calls) == (0, 1)
    # The outcome is remembered in turn.
    recalled = await memory.recall("enrich_company", 'enrich_company: {"company_name": "Harbor Fleet Services Tacoma"}')
    assert sum(1 for r in recalled if r.agent_id == "second") == 4
