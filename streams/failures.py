"""What went wrong in each workflow's runs, for debug_workflow: failed task results (agents.results) and dead
letters of its tasks (agents.tasks.dlq), indexed by (dealer, workflow) in every worker.

The workflows pipeline is partitioned by chat session, these topics by workflow, so each worker reads all
their partitions (no consumer group), like a global table; only the latest entries per workflow are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque

from processors.workflows.debug import ErrorContext
from schemas.codec import AvroCodec
from schemas.errors import InvalidEvent, UndecodableEvent
from schemas.models import AgentTask, DeadLetter, Event, TaskResult, TaskStatus
from streams.kafka import consumer
from streams.settings import Settings
from streams.topics import dlq_topic

log = logging.getLogger(__name__)


class FailureIndex:
    """(dealer_id, workflow_id) -> the latest failed task results and dead letters."""

    def __init__(self, settings: Settings, codec: AvroCodec, per_workflow: int = 50) -> None:
        self.settings, self.codec = settings, codec
        self._tasks: dict[tuple[str, str], deque[TaskResult]] = defaultdict(lambda: deque(maxlen=per_workflow))
        self._letters: dict[tuple[str, str], deque[DeadLetter]] = defaultdict(lambda: deque(maxlen=per_workflow))

    def context(self, dealer_id: str, workflow_id: str) -> ErrorContext:
        key = (dealer_id, workflow_id)
        return ErrorContext(failed_tasks=list(self._tasks.get(key, ())),
                            dead_letters=list(self._letters.get(key, ())))

    def add(self, event: Event) -> None:
        if isinstance(event, TaskResult) and event.status is TaskStatus.FAILED:
            self._tasks[(event.dealer_id, event.workflow_id)].append(event)
        elif isinstance(event, DeadLetter):
            try:
                task = self.codec.decode(event.original_value, AgentTask)
            except (UndecodableEvent, InvalidEvent):
                return  # not a task at all: nothing ties it to a workflow
            self._letters[(task.dealer_id, task.workflow_id)].append(event)

    async def run(self) -> None:
        """Follow both topics from their start for as long as the worker runs."""
        topics = [self.settings.topics.agents_results, dlq_topic(self.settings.topics.agents_tasks)]
        async with consumer(self.settings, topics) as client:
            while True:
                for records in (await client.getmany(timeout_ms=500)).values():
                    for record in records:
                        try:
                            self.add(self.codec.decode(record.value or b""))
                        except (UndecodableEvent, InvalidEvent) as exc:
                            log.debug("failure index: skipped %s@%s: %s", record.topic, record.offset, exc)
                await asyncio.sleep(0)
