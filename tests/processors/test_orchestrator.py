"""The orchestrator without a broker: phases, failure policy, agent choice, bad input, waits, approvals, restarts.

The agents here are small in-process ones that count what they do; the real step executors (SMTP, HTTP, CRM)
run against real local peers in tests/streams/test_agents_pipeline.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from processors.agents.base import AgentResult, BaseAgent, PermanentTaskError, TaskError, TaskRequest
from processors.agents.orchestrator import MemoryRunStore, Orchestrator, OrchestratorConfig
from processors.agents.steps import ConditionAgent
from schemas.errors import InvalidEvent
from schemas.models import AgentTask, ApprovalDecision, Event, TaskResult, TaskStatus, WorkflowResult, WorkflowStatus

FAST = OrchestratorConfig(default_timeout_s=2.0, initial_backoff_s=0.01, max_backoff_s=0.02, missing_task_wait_s=0.3)


class Worker(BaseAgent):
    """Runs ``behave(request)`` for its task types, counting calls and the most tasks it had at once."""

    def __init__(self, agent_id: str, types: list[str],
                 behave: Callable[[TaskRequest], Any] | None = None, delay: float = 0.0) -> None:
        super().__init__(agent_id, types)
        self.behave, self.delay = behave, delay
        self.calls: list[TaskRequest] = []
        self.now = self.peak = 0

    async def execute(self, request: TaskRequest) -> AgentResult:
        self.calls.append(request)
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.delay)
            output = self.behave(request) if self.behave else {"done": request.task_id}
            return AgentResult(output)
        finally:
            self.now -= 1


class Events:
    def __init__(self) -> None:
        self.items: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.items.append(event)

    def results(self) -> dict[str, TaskResult]:
        return {e.task_id: e for e in self.items if isinstance(e, TaskResult)}

    def workflow(self) -> WorkflowResult:
        found = [e for e in self.items if isinstance(e, WorkflowResult)]
        assert len(found) == 1, found
        return found[0]


def task(task_id: str, task_type: str = "work", deps: tuple[str, ...] = (), count: int | None = None,
         **extra: Any) -> AgentTask:
    return AgentTask(dealer_id="D1", task_id=task_id, workflow_id="wf-1", task_type=task_type, depends_on=list(deps),
                     task_count=count, **extra)


async def run_all(orchestrator: Orchestrator, *tasks: AgentTask) -> None:
    for t in tasks:
        await orchestrator.accept(t)
    await asyncio.wait_for(orchestrator.idle(), 10)


async def test_a_diamond_runs_in_phases_with_the_middle_concurrently() -> None:
    worker, events = Worker("w", ["work"], delay=0.05), Events()
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("a", count=4), task("b", deps=("a",), count=4), task("c", deps=("a",), count=4),
                  task("d", deps=("b", "c"), count=4))
    order = [r.task_id for r in worker.calls]
    assert order[0] == "a" and set(order[1:3]) == {"b", "c"} and order[3] == "d"
    assert worker.peak == 2  # b and c ran at the same time
    assert all(r.status == TaskStatus.SUCCEEDED for r in events.results().values())
    result = events.workflow()
    assert result.status == WorkflowStatus.SUCCEEDED and [t.task_id for t in result.tasks] == ["a", "b", "c", "d"]
    assert json.loads(events.results()["d"].output_json or "") == {"done": "d"}


async def test_a_run_waits_for_every_task_it_was_told_to_expect() -> None:
    worker, events = Worker("w", ["work"]), Events()
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await orchestrator.accept(task("a", count=2))
    await asyncio.sleep(0.05)
    assert worker.calls == []  # b has not arrived yet
    await run_all(orchestrator, task("b", deps=("a",), count=2))
    assert [r.task_id for r in worker.calls] == ["a", "b"]


async def test_retries_with_backoff_then_fails_and_skips_dependents() -> None:
    attempts: dict[str, int] = {}

    def behave(request: TaskRequest) -> dict[str, Any]:
        attempts[request.task_id] = request.attempt
        if request.task_id == "flaky" and request.attempt < 3:
            raise TaskError("peer busy")
        if request.task_id == "broken":
            raise TaskError("peer down")
        return {}

    events = Events()
    orchestrator = Orchestrator([Worker("w", ["work"], behave)], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("flaky", count=4), task("broken", count=4),
                  task("after", deps=("broken",), count=4), task("later", deps=("after",), count=4))
    results = events.results()
    assert results["flaky"].status == TaskStatus.SUCCEEDED and results["flaky"].attempts == 3
    assert results["broken"].status == TaskStatus.FAILED and results["broken"].attempts == 3
    assert "peer down" in (results["broken"].error or "") and "after 3 attempts" in (results["broken"].error or "")
    assert results["after"].status == TaskStatus.SKIPPED
    assert results["after"].error == "skipped: dependency broken ended failed"
    assert results["later"].error == "skipped: dependency after was skipped"
    assert events.workflow().status == WorkflowStatus.PARTIAL


async def test_a_permanent_error_is_not_retried() -> None:
    def refuse(request: TaskRequest) -> dict[str, Any]:
        raise PermanentTaskError("recipient refused")

    events = Events()
    orchestrator = Orchestrator([Worker("w", ["work"], refuse)], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("a"))
    assert events.results()["a"].attempts == 1 and "recipient refused" in (events.results()["a"].error or "")
    assert events.workflow().status == WorkflowStatus.FAILED


async def test_a_failed_attempt_moves_to_another_capable_agent_and_the_record_steers_choice() -> None:
    def fail(request: TaskRequest) -> dict[str, Any]:
        raise TaskError("down")

    bad, good, events = Worker("bad", ["work"], fail), Worker("good", ["work"]), Events()
    orchestrator = Orchestrator([bad, good], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("a"))
    assert events.results()["a"].agent_id == "good" and events.results()["a"].attempts == 2
    # The record now favours the agent that works: the next task goes straight to it.
    await run_all(orchestrator, task("b"))
    assert [r.task_id for r in good.calls] == ["a", "b"] and [r.task_id for r in bad.calls] == ["a"]
    assert good.performance.success_rate > bad.performance.success_rate


async def test_a_hanging_agent_times_out_and_the_run_still_ends() -> None:
    events = Events()
    hang = Worker("hang", ["work"], delay=3600)
    orchestrator = Orchestrator([hang], MemoryRunStore(), events, FAST)
    started = time.monotonic()
    await run_all(orchestrator, task("a", timeout_seconds=0.1, max_attempts=2), task("b", deps=("a",)))
    result = events.results()["a"]
    assert result.status == TaskStatus.TIMED_OUT and result.attempts == 2
    assert result.error == "hang did not answer within 0.1s (after 2 attempts)"
    assert events.results()["b"].status == TaskStatus.SKIPPED
    assert events.workflow().status == WorkflowStatus.FAILED and time.monotonic() - started < 2


@pytest.mark.parametrize(("bad", "message"), [
    (task("x", task_type="teleport"), "unknown task type 'teleport'; this worker runs: human_approval, wait, work"),
    (task("x", input_json="{not json"), "input_json is not JSON"),
    (task("x", input_json="[1, 2]"), "input_json must be a JSON object, got list"),
    (task("x", input_json='{"config": "loud"}'), "input_json 'config' must be an object"),
    (task("x", timeout_seconds=-1), "timeout_seconds must be positive"),
])
async def test_bad_input_gets_a_clear_task_error_and_a_finished_run(bad: AgentTask, message: str) -> None:
    worker, events = Worker("w", ["work"]), Events()
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, bad, task("next", deps=("x",)))
    assert events.results()["x"].status == TaskStatus.FAILED and message in (events.results()["x"].error or "")
    assert events.results()["next"].status == TaskStatus.SKIPPED and worker.calls == []
    assert events.workflow().status == WorkflowStatus.FAILED


async def test_a_cycle_fails_every_task_naming_the_cycle() -> None:
    worker, events = Worker("w", ["work"]), Events()
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("a", deps=("b",), count=3), task("b", deps=("a",), count=3), task("c", count=3))
    assert worker.calls == []
    assert {r.status for r in events.results().values()} == {TaskStatus.FAILED}
    assert "dependency cycle: " in (events.workflow().error or "")
    assert {"a", "b"} <= set((events.workflow().error or "").split(": ")[1].split(" -> "))
    # A task that arrives after the run failed fails the same way, and the run reports again.
    await run_all(orchestrator, task("late", count=3))
    assert "dependency cycle: " in (events.results()["late"].error or "")
    assert len([e for e in events.items if isinstance(e, WorkflowResult)]) == 2


async def test_a_missing_dependency_is_named() -> None:
    events = Events()
    orchestrator = Orchestrator([Worker("w", ["work"])], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("a", deps=("ghost",), count=1))
    assert events.workflow().error == "dependencies on tasks that are not in the workflow: a -> ghost"
    # Without a task count, the task waits for its dependency, then fails saying it never came.
    events2 = Events()
    orchestrator2 = Orchestrator([Worker("w", ["work"])], MemoryRunStore(), events2, FAST)
    await run_all(orchestrator2, task("a", deps=("ghost",)))
    assert "dependency 'ghost' is not a task of this run" in (events2.results()["a"].error or "")
    # And a run told to expect more tasks than arrive says so.
    events3 = Events()
    orchestrator3 = Orchestrator([Worker("w", ["work"])], MemoryRunStore(), events3, FAST)
    await run_all(orchestrator3, task("a", count=3))
    assert events3.workflow().error == "only 1 of the 3 tasks of the run arrived within 0.3s"


def step(task_id: str, task_type: str, deps: tuple[str, ...] = (), config: dict[str, str] | None = None,
         inputs: dict[str, str] | None = None, trigger: dict[str, Any] | None = None, count: int = 3) -> AgentTask:
    body = {"name": task_id, "config": config or {}, "inputs": inputs or {}, "trigger": trigger or {}}
    return task(task_id, task_type, deps, count=count, input_json=json.dumps(body))


async def test_a_false_condition_skips_its_branch_and_inputs_flow_by_reference() -> None:
    worker, events = Worker("w", ["work"], lambda r: {"echo": dict(r.inputs)}), Events()
    orchestrator = Orchestrator([worker, ConditionAgent()], MemoryRunStore(), events, FAST)
    trigger = {"declined": "", "name": "Dana"}
    await run_all(orchestrator,
                  step("has_declined", "condition", config={"expression": "value != ''"},
                       inputs={"value": "trigger.declined"}, trigger=trigger, count=4),
                  step("remind", "work", ("has_declined",), count=4),
                  step("greet", "work", inputs={"who": "trigger.name"}, trigger=trigger, count=4),
                  step("echo", "work", ("greet",), inputs={"from_greet": "greet.echo", "plain": "as is"}, count=4))
    results = events.results()
    assert json.loads(results["has_declined"].output_json or "") == {"result": False}
    assert results["remind"].status == TaskStatus.SKIPPED
    assert results["remind"].error == "skipped: condition 'has_declined' was false"
    assert json.loads(results["echo"].output_json or "")["echo"] == {"from_greet": {"who": "Dana"}, "plain": "as is"}
    assert events.workflow().status == WorkflowStatus.SUCCEEDED  # a branch not taken is not a failure


async def test_a_wait_keeps_its_due_time_across_a_restart() -> None:
    store, events = MemoryRunStore(), Events()
    ran_at: list[float] = []
    worker = Worker("w", ["work"], lambda r: ran_at.append(time.time()) or {})
    first = Orchestrator([worker], store, events, FAST)
    await first.accept(step("pause", "wait", config={"duration_seconds": "1.0"}, count=2))
    await first.accept(step("then", "work", ("pause",), count=2))
    await asyncio.sleep(0.5)
    await first.release()  # the worker stops half-way through the wait

    def due_at() -> float:
        [(_, raw)] = store.values.items()
        return float(json.loads(raw)["tasks"]["pause"]["due_at"])

    due = due_at()  # saved when the wait began
    assert worker.calls == []
    second = Orchestrator([worker], store, events, FAST)
    assert second.resume(store.keys()) == 1
    await asyncio.wait_for(second.idle(), 5)
    assert [r.task_id for r in worker.calls] == ["then"]
    assert due_at() == due and ran_at[0] >= due  # the stored due time held: not a fresh 1 s from the restart,
    assert ran_at[0] < due + 0.4  # which would have ended 0.5 s after it


async def test_human_approval_pauses_the_run_until_a_decision() -> None:
    store, events, worker = MemoryRunStore(), Events(), Worker("w", ["work"])
    orchestrator = Orchestrator([worker], store, events, FAST)
    await orchestrator.accept(step("approve", "human_approval", config={"approver_role": "manager"}, count=2))
    await orchestrator.accept(step("send", "work", ("approve",), count=2))
    await asyncio.sleep(0.2)
    assert worker.calls == [] and "approve" not in events.results()
    await orchestrator.decide(ApprovalDecision(dealer_id="D1", workflow_id="wf-1", task_id="approve", approved=True,
                                               approver="sam"))
    await asyncio.wait_for(orchestrator.idle(), 5)
    assert json.loads(events.results()["approve"].output_json or "") == {"approved": True, "approver": "sam"}
    assert [r.task_id for r in worker.calls] == ["send"]


async def test_a_rejection_skips_what_it_guarded_and_bad_decisions_are_refused() -> None:
    events, worker = Events(), Worker("w", ["work"])
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await orchestrator.accept(step("approve", "human_approval", count=2))
    await orchestrator.accept(step("send", "work", ("approve",), count=2))
    with pytest.raises(InvalidEvent, match="task 'send' of workflow wf-1, which is a work task"):
        await orchestrator.decide(ApprovalDecision(dealer_id="D1", workflow_id="wf-1", task_id="send",
                                                   approved=True, approver="sam"))
    with pytest.raises(InvalidEvent, match="workflow nope, which has no tasks here"):
        await orchestrator.decide(ApprovalDecision(dealer_id="D1", workflow_id="nope", task_id="approve",
                                                   approved=True, approver="sam"))
    await orchestrator.decide(ApprovalDecision(dealer_id="D1", workflow_id="wf-1", task_id="approve",
                                               approved=False, approver="sam", comment="wrong customer"))
    await asyncio.wait_for(orchestrator.idle(), 5)
    assert events.results()["approve"].error == "rejected by sam: wrong customer"
    assert events.results()["send"].status == TaskStatus.SKIPPED and worker.calls == []


async def test_an_approval_nobody_gives_times_out() -> None:
    events = Events()
    orchestrator = Orchestrator([Worker("w", ["work"])], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, step("approve", "human_approval", count=1).model_copy(update={"timeout_seconds": 0.2}))
    assert events.results()["approve"].status == TaskStatus.TIMED_OUT


async def test_a_restart_does_not_redo_finished_tasks_and_reports_the_same_result_ids() -> None:
    store, events = MemoryRunStore(), Events()
    sender = Worker("sender", ["work"])
    first = Orchestrator([sender], store, events, FAST)
    await first.accept(step("send", "work", count=3))
    await first.accept(step("approve", "human_approval", ("send",), count=3))
    await first.accept(step("after", "work", ("approve",), count=3))
    await asyncio.sleep(0.2)
    await first.release()  # the worker dies while the run waits for approval
    sent_id = events.results()["send"].event_id
    second = Orchestrator([sender], store, events, FAST)
    second.resume(store.keys())
    await second.decide(ApprovalDecision(dealer_id="D1", workflow_id="wf-1", task_id="approve", approved=True,
                                         approver="sam"))
    await asyncio.wait_for(second.idle(), 5)
    assert [r.task_id for r in sender.calls] == ["send", "after"]  # "send" ran once
    assert events.results()["send"].event_id == sent_id
    assert events.workflow().status == WorkflowStatus.SUCCEEDED


async def test_runs_of_one_workflow_are_kept_apart_by_run_id() -> None:
    worker, events = Worker("w", ["work"], lambda r: {"run": r.run_id}), Events()
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, task("a", run_id="r1"), task("a", run_id="r2"))
    workflows = [e for e in events.items if isinstance(e, WorkflowResult)]
    assert sorted(w.run_id or "" for w in workflows) == ["r1", "r2"]
    assert len({e.event_id for e in events.items}) == len(events.items)


async def test_every_result_goes_out_once_and_one_lost_in_a_crash_goes_out_on_resume() -> None:
    worker, events = Worker("w", ["work"], delay=0.01), Events()
    orchestrator = Orchestrator([worker], MemoryRunStore(), events, FAST)
    await run_all(orchestrator, *(task(f"t{i}", deps=(f"t{i - 1}",) if i else (), count=6) for i in range(6)))
    assert len({e.event_id for e in events.items}) == len(events.items) == 6 + 6 + 1  # results, metrics, run

    store, lost = MemoryRunStore(), Events()

    async def crash_while_publishing(event: Event) -> None:
        if isinstance(event, TaskResult) and event.task_id == "a":
            await asyncio.sleep(3600)  # the worker dies here: "a" is saved as ended, its result not yet out
        await lost(event)

    first = Orchestrator([Worker("w", ["work"])], store, crash_while_publishing, FAST)
    await first.accept(task("a", count=2))
    await first.accept(task("b", deps=("a",), count=2))
    await asyncio.sleep(0.2)
    await first.release()
    assert "a" not in lost.results()
    again = Events()
    second = Orchestrator([Worker("w", ["work"])], store, again, FAST)
    second.resume(store.keys())
    await asyncio.wait_for(second.idle(), 5)
    assert [e.task_id for e in again.items if isinstance(e, TaskResult)] == ["a", "b"]
    assert again.workflow().status == WorkflowStatus.SUCCEEDED
