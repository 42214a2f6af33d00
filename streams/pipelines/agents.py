"""agents.tasks -> agents.results: the orchestrator runs each workflow run's task graph with the worker's agents.

The topic carries AgentTasks and ApprovalDecisions, both keyed by workflow id, so a run's tasks, its decisions
and its state (the ``runs`` table) share a partition. Accepting a task saves it before the offset is committed;
the run goes on in the background, each task's end saved before its result is published. When partitions
arrive (a start, a rebalance) their unfinished runs resume; when they leave, this worker lets go of them.
"""

from __future__ import annotations

import asyncio

from schemas.errors import InvalidEvent
from schemas.models import AgentTask, ApprovalDecision, Event
from streams.agents import TableRunStore, build_orchestrator, kafka_emit
from streams.pipeline import Outbox, selected, table, wire_handler
from streams.runtime import Runtime

MEMORY_EXPIRY_INTERVAL_S = 3600.0


def wire(runtime: Runtime) -> None:
    settings, source = runtime.settings, runtime.settings.topics.agents_tasks
    if not selected(runtime, "agents"):
        return
    runs = table(runtime, "runs", source)
    host = runtime.pipeline_host()
    store = TableRunStore(runs, lambda: host.producer)
    orchestrator = build_orchestrator(settings, store, kafka_emit(settings, runtime.codec, lambda: host.producer),
                                      runtime.executor)

    async def handle(event: Event, trace_headers: dict[str, bytes], outbox: Outbox) -> None:
        if isinstance(event, AgentTask):
            await orchestrator.accept(event)
        elif isinstance(event, ApprovalDecision):
            await orchestrator.decide(event)
        else:
            raise InvalidEvent(f"{source} carries AgentTask and ApprovalDecision events, not {type(event).__name__}")

    async def assigned(partitions: list[int]) -> None:
        orchestrator.resume(store.runs(partitions))

    async def revoked(partitions: list[int]) -> None:
        await orchestrator.release(key for _, key in store.runs(partitions))

    async def expire_memories() -> None:
        expire = getattr(orchestrator.memory, "expire", None)
        while expire is not None:
            await asyncio.to_thread(expire)
            await asyncio.sleep(MEMORY_EXPIRY_INTERVAL_S)

    pipeline = wire_handler(runtime, "agents", source, handle, group="agents",
                            concurrency=settings.agents.concurrency, stores=[runs])
    pipeline.on_assigned.append(assigned)
    pipeline.on_revoked.append(revoked)
    host.followers.append(expire_memories)
