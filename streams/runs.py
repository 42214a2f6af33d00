"""Workflow runs from the command line: find a generated workflow, publish its steps as agent tasks for one run,
follow the run's results, and publish approval decisions."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from processors.agents.steps import workflow_tasks
from schemas.errors import EventError
from schemas.models import ApprovalDecision, Event, GeneratedWorkflow, TaskResult, WorkflowResult
from streams.kafka import consumer, producer, read_to_end, send_event
from streams.runtime import make_codec
from streams.settings import Settings


class WorkflowNotFound(LookupError):
    """No generated workflow with that id (in the file given, or on the workflows topic)."""


def load_workflow_file(path: Path, workflow_id: str | None) -> GeneratedWorkflow:
    """A GeneratedWorkflow from a JSON file: the workflow itself, or `auterity generate --json` output."""
    data = json.loads(path.read_text())
    candidates = data if isinstance(data, list) else [data]
    for item in candidates:
        if isinstance(item, dict) and "steps" in item and workflow_id in (None, item.get("workflow_id")):
            return GeneratedWorkflow.model_validate(item)
    raise WorkflowNotFound(f"{path} holds no generated workflow" + (f" with id {workflow_id}" if workflow_id else ""))


async def find_workflow(settings: Settings, workflow_id: str) -> GeneratedWorkflow:
    """The newest version of a workflow on the workflows.generated topic."""
    codec, newest = make_codec(settings), None
    async with consumer(settings, [settings.topics.workflows_generated]) as client:
        async for record in read_to_end(client):
            try:
                event: Event = codec.decode(record.value or b"")
            except EventError:  # bytes no worker could read either (they are in the DLQ already)
                continue
            if (isinstance(event, GeneratedWorkflow) and event.workflow_id == workflow_id
                    and (newest is None or event.version >= newest.version)):
                newest = event
    if newest is None:
        raise WorkflowNotFound(f"no workflow {workflow_id} on {settings.topics.workflows_generated}")
    return newest


async def start_run(settings: Settings, workflow: GeneratedWorkflow, trigger: Mapping[str, Any],
                    run_id: str | None = None, dealer_id: str | None = None) -> str:
    """Publish the workflow's steps as the agent tasks of a new run; returns the run id."""
    run_id = run_id or uuid.uuid4().hex[:12]
    tasks = workflow_tasks(workflow, trigger, run_id, dealer_id)
    codec = make_codec(settings)
    async with producer(settings) as client:
        await asyncio.gather(*[await send_event(client, codec, settings.topics.agents_tasks, t) for t in tasks])
    return run_id


async def follow_run(settings: Settings, workflow_id: str, run_id: str | None, timeout_s: float,
                     on_task: Callable[[TaskResult], None]) -> WorkflowResult | None:
    """Print each TaskResult of the run as it arrives; the WorkflowResult, or None if it did not come in time."""
    codec, seen = make_codec(settings), set()
    deadline = time.monotonic() + timeout_s
    async with consumer(settings, [settings.topics.agents_results]) as client:
        while time.monotonic() < deadline:
            for records in (await client.getmany(timeout_ms=500)).values():
                for record in records:
                    event: Event = codec.decode(record.value or b"")
                    if not isinstance(event, TaskResult | WorkflowResult) or event.workflow_id != workflow_id \
                            or event.run_id != run_id or event.event_id in seen:
                        continue
                    seen.add(event.event_id)
                    if isinstance(event, WorkflowResult):
                        return event
                    on_task(event)
    return None


async def publish_decision(settings: Settings, decision: ApprovalDecision) -> None:
    async with producer(settings) as client:
        await (await send_event(client, make_codec(settings), settings.topics.agents_tasks, decision))
