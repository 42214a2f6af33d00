"""Agents benchmark: tasks per second through the orchestrator with trivial agents, and its overhead per task.

    .venv/bin/python bench/agents.py --runs 400 --repeats 5

Two measurements in one run:

- **in process**: the orchestrator alone, with a store in memory and agents that return at once. ``runs``
  workflow runs of 5 tasks each (a diamond: 1 -> 3 -> 1) are accepted at once; tasks/s = tasks / wall time, and
  the scheduling overhead per task is the CPU time per task (everything but the agents is the orchestrator).
- **worker**: a real worker (``auterity worker``, agents pipeline only) on the embedded broker, every run's state
  saved to its changelog and acknowledged at each task's end. The same runs as ``condition`` tasks (the
  lightest real agent) are published at once; tasks/s = tasks / (last WorkflowResult - first task published).

Medians of ``repeats``; results go to bench/results/agents.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.agents.base import AgentResult, BaseAgent, TaskRequest  # noqa: E402
from processors.agents.orchestrator import MemoryRunStore, Orchestrator, OrchestratorConfig  # noqa: E402
from schemas.codec import AvroCodec  # noqa: E402
from schemas.models import AgentTask, Event, WorkflowResult  # noqa: E402
from streams.kafka import consumer, producer, send_event  # noqa: E402
from streams.settings import Settings, TopicNames  # noqa: E402

CODEC = AvroCodec()
SHAPE = {"a": [], "b": ["a"], "c": ["a"], "d": ["a"], "e": ["b", "c", "d"]}  # 5 tasks, 3 phases


class Instant(BaseAgent):
    """An agent with nothing to do: what remains is the orchestrator's own cost."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id, ["work"])

    async def execute(self, request: TaskRequest) -> AgentResult:
        return AgentResult({"ok": True})


def tasks(runs: int, task_type: str, dealer: str = "bench", prefix: str = "") -> list[AgentTask]:
    body = json.dumps({"config": {"expression": "true"}, "inputs": {}}) if task_type == "condition" else "{}"
    return [AgentTask(dealer_id=dealer, workflow_id=f"{prefix}wf-{i % 50}", run_id=f"{prefix}run-{i}", task_id=name,
                      task_type=task_type, depends_on=deps, task_count=len(SHAPE), input_json=body)
            for i in range(runs) for name, deps in SHAPE.items()]


async def in_process(runs: int) -> dict[str, float]:
    finished: list[Event] = []

    async def emit(event: Event) -> None:
        if isinstance(event, WorkflowResult):
            finished.append(event)

    orchestrator = Orchestrator([Instant("a1"), Instant("a2")], MemoryRunStore(), emit, OrchestratorConfig())
    batch = tasks(runs, "work")
    wall, cpu = time.perf_counter(), time.process_time()
    for task in batch:
        await orchestrator.accept(task)
    await orchestrator.idle()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(finished) == runs and all(r.status.value == "succeeded" for r in finished)
    return {"tasks": len(batch), "tasks_per_s": len(batch) / wall, "cpu_us_per_task": cpu / len(batch) * 1e6}


async def through_worker(settings: Settings, runs: int, prefix: str) -> dict[str, float]:
    batch = tasks(runs, "condition", prefix=prefix)
    async with producer(settings) as client:
        started = time.time()
        await asyncio.gather(*[await send_event(client, CODEC, settings.topics.agents_tasks, t) for t in batch])
    done: set[str] = set()
    last = started
    async with consumer(settings, [settings.topics.agents_results], from_beginning=True) as client:
        deadline = time.monotonic() + 600
        while len(done) < runs and time.monotonic() < deadline:
            for records in (await client.getmany(timeout_ms=500)).values():
                for record in records:
                    event = CODEC.decode(record.value or b"")
                    if isinstance(event, WorkflowResult) and (event.run_id or "").startswith(prefix):
                        assert event.status.value == "succeeded", event
                        done.add(event.run_id or "")
                        last = max(last, record.timestamp / 1000)
    assert len(done) == runs, f"{len(done)} of {runs} runs finished"
    return {"tasks": len(batch), "tasks_per_s": len(batch) / (last - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=400, help="workflow runs of 5 tasks per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-worker", action="store_true")
    args = parser.parse_args()

    local = [asyncio.run(in_process(args.runs)) for _ in range(args.repeats)]
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": args.runs, "tasks_per_run": len(SHAPE), "repeats": args.repeats,
        "in_process": {"tasks_per_s_median": statistics.median(r["tasks_per_s"] for r in local),
                       "cpu_us_per_task_median": statistics.median(r["cpu_us_per_task"] for r in local)},
    }
    print(json.dumps(report["in_process"], indent=1), flush=True)
    if not args.skip_worker:
        report["worker"] = measure_worker(args.runs, args.repeats)
    out = ROOT / "bench" / "results" / "agents.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


def measure_worker(runs: int, repeats: int) -> dict[str, float]:
    from bench.backbone import free_port
    from connectors.broker import EmbeddedBroker
    from streams.topics import ensure_topics_sync

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    names = TopicNames(**{k: f"{prefix}.{v}" for k, v in TopicNames().model_dump().items()})
    with EmbeddedBroker(port=free_port()) as broker, tempfile.TemporaryDirectory() as work:
        settings = Settings(bootstrap_servers=broker.bootstrap_servers, app_id=f"{prefix}-app", topics=names,
                            vector_uri=str(Path(work) / "milvus.db"))
        ensure_topics_sync(settings)
        env = {**os.environ, "AUTERITY_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "AUTERITY_APP_ID": settings.app_id,
               "AUTERITY_PIPELINES": '["agents"]', "AUTERITY_VECTOR_URI": settings.vector_uri,
               "AUTERITY_AGENTS__CRM_PATH": str(Path(work) / "crm.sqlite"), "AUTERITY_WEB_PORT": str(free_port()),
               **{f"AUTERITY_TOPICS__{k.upper()}": v for k, v in names.model_dump().items()}}
        log = open(Path(work) / "worker.log", "wb")  # noqa: SIM115  closed with the worker
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            asyncio.run(through_worker(settings, 20, "warmup"))  # the group has formed and the agents are loaded
            measured = [asyncio.run(through_worker(settings, runs, f"r{i}-")) for i in range(repeats)]
        finally:
            worker.terminate()
            worker.wait(30)
            log.close()
    result = {"tasks_per_s_median": statistics.median(r["tasks_per_s"] for r in measured),
              "tasks_per_s_all": [round(r["tasks_per_s"]) for r in measured]}
    print(json.dumps(result, indent=1), flush=True)
    return result


if __name__ == "__main__":
    main()
