"""The orchestrator: runs each workflow run's task graph, one phase's tasks concurrently, durably.

Every change to a run (a task arrived, a task ended, a wait started, an approval came) is saved to the run
store before anyone hears of it, so a worker that restarts resumes from the stored states: finished tasks are
not run again (a sent email is not sent again), a task that was running is run again, a wait keeps its due
time and an approval keeps waiting. Each task gets the best agent for its capability and record, a timeout per
attempt, and retries with backoff (another capable agent first, when there is one); a task that fails or times
out skips its dependents, and the WorkflowResult lists what ran, what failed and why. Broker-free: the streams
layer gives it a store and an ``emit`` for the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from processors.agents.base import CAPABILITY_OF, AgentResult, BaseAgent, PermanentTaskError, Recollection, TaskRequest
from processors.agents.graph import DONE, GraphError, State, TaskGraph
from processors.agents.steps import InputReferenceError, resolve_inputs, wait_until
from schemas.errors import InvalidEvent
from schemas.models import (
    AgentTask,
    AIOperationMetric,
    ApprovalDecision,
    Event,
    StepType,
    TaskOutcome,
    TaskResult,
    TaskStatus,
    WorkflowResult,
    WorkflowStatus,
)

log = logging.getLogger(__name__)
PROCESSOR = "agents.orchestrator"
RESULT_NAMESPACE = uuid.UUID("8b2f1f7e-4c1d-5a8e-9f63-0d7a3c2b9e41")
_WAIT, _APPROVAL, _CONDITION = StepType.WAIT.value, StepType.HUMAN_APPROVAL.value, StepType.CONDITION.value
_STATUS = {State.SUCCEEDED: TaskStatus.SUCCEEDED, State.FAILED: TaskStatus.FAILED,
           State.SKIPPED: TaskStatus.SKIPPED, State.TIMED_OUT: TaskStatus.TIMED_OUT}

Emit = Callable[[Event], Awaitable[None]]


class RunStore(Protocol):
    """Where runs live between events: ``save`` returns once the value is durable (a changelog ack)."""

    def load(self, workflow_id: str, key: str) -> str | None: ...

    async def save(self, workflow_id: str, key: str, value: str) -> None: ...


class LongTermMemory(Protocol):
    """Outcomes of past tasks by similarity of their inputs (``processors.agents.memory.VectorMemory``)."""

    async def recall(self, task_type: str, text: str) -> list[Recollection]: ...

    async def remember(self, task_type: str, text: str, agent_id: str, success: bool, latency_ms: float,
                       parameters: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class OrchestratorConfig:
    default_timeout_s: float = 120.0  # per attempt, when the task gives none
    approval_timeout_s: float = 72 * 3600.0  # a human_approval with no decision by then times out
    missing_task_wait_s: float = 60.0  # how long a run waits for a task it depends on or was told to expect
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    latency_weight: float = 0.2  # selection: score = success rate - latency and cost penalties + memory
    cost_weight: float = 0.2
    memory_weight: float = 0.3


class TaskRecord(BaseModel):
    """One task of a run and where it stands."""

    task_id: str
    task_type: str
    event_id: str
    depends_on: list[str] = []
    step: dict[str, Any] = {}  # name, config, inputs (with references), model
    timeout_s: float | None = None
    max_attempts: int = 3
    arrived_at: float
    state: State = State.PENDING
    attempts: int = 0
    agent_id: str | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float = 0.0
    due_at: float | None = None  # a wait's resume time, or an approval's deadline
    reported: bool = False  # its TaskResult has been published


class RunRecord(BaseModel):
    """One run of a workflow: its tasks, the trigger's data, and decisions that arrived."""

    workflow_id: str
    run_id: str | None = None
    dealer_id: str
    task_count: int | None = None
    trigger: dict[str, Any] = {}
    tasks: dict[str, TaskRecord] = {}
    approvals: dict[str, dict[str, Any]] = {}
    error: str | None = None
    finished: bool = False
    reported_size: int = 0  # the number of tasks the last WorkflowResult covered
    created_at: float = Field(default_factory=time.time)

    @property
    def key(self) -> str:
        return run_key(self.workflow_id, self.run_id)


def run_key(workflow_id: str, run_id: str | None) -> str:
    return workflow_id if run_id is None else f"{workflow_id}/{run_id}"


def result_id(*parts: str) -> uuid.UUID:
    """Deterministic, so a result published again after a restart is recognised as the same event."""
    return uuid.uuid5(RESULT_NAMESPACE, "/".join(parts))


class TaskEnded(Exception):
    """A task's final failure: ``state`` is FAILED or TIMED_OUT and the message says why."""

    def __init__(self, state: State, message: str) -> None:
        super().__init__(message)
        self.state = state


class AgentRegistry:
    """The agents of a worker; picks one per task by capability, recorded performance and memory."""

    def __init__(self, agents: Sequence[BaseAgent], config: OrchestratorConfig) -> None:
        self.agents = list(agents)
        self.config = config
        self.task_types = frozenset(t for a in agents for t in _served(a))

    def capable(self, task_type: str) -> list[BaseAgent]:
        return [agent for agent in self.agents if agent.can_handle(task_type)]

    def score(self, agent: BaseAgent, recollections: Sequence[Recollection]) -> float:
        config, record = self.config, agent.performance
        score = record.success_rate
        score -= config.latency_weight * min(1.0, record.mean_latency_ms / 10_000)
        score -= config.cost_weight * min(1.0, record.mean_cost_usd / 0.10)
        mine = [r for r in recollections if r.agent_id == agent.agent_id]
        if mine:
            weight = sum(r.similarity for r in mine)
            score += config.memory_weight * sum(r.similarity * (1 if r.success else -1) for r in mine) / weight
        return score

    def choose(self, task_type: str, exclude: Iterable[str] = (),
               recollections: Sequence[Recollection] = ()) -> BaseAgent | None:
        """The best capable agent not in ``exclude`` (all capable ones again once every one has been tried)."""
        capable = self.capable(task_type)
        excluded = set(exclude)
        candidates = [agent for agent in capable if agent.agent_id not in excluded] or capable
        if len(candidates) == 1:
            return candidates[0]
        return max(candidates, key=lambda agent: self.score(agent, recollections), default=None)


def _served(agent: BaseAgent) -> set[str]:
    return set(agent.capabilities) | {t for t, capability in CAPABILITY_OF.items() if capability in agent.capabilities}


class Orchestrator:
    """Runs workflow runs to their end; ``accept`` and ``decide`` take events, ``resume`` restarted runs."""

    def __init__(self, agents: Sequence[BaseAgent], store: RunStore, emit: Emit,
                 config: OrchestratorConfig | None = None, memory: LongTermMemory | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or OrchestratorConfig()
        self.registry = AgentRegistry(agents, self.config)
        self.store, self.emit, self.memory, self.clock = store, emit, memory, clock
        self._runs: dict[str, RunRecord] = {}
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._executing: dict[str, dict[str, asyncio.Task[None]]] = {}
        self._decisions: dict[str, asyncio.Event] = {}  # run key/task id -> set when its approval arrives
        self._resumed: set[str] = set()  # runs loaded by resume() whose unreported results go out first
        self._reporting: set[str] = set()  # run key/task id of results being published
        self.known_types = self.registry.task_types | {_WAIT, _APPROVAL}

    # Events in -----------------------------------------------------------------------------------------------

    async def accept(self, task: AgentTask) -> None:
        """Add a task to its run (the run is created by its first task) and let the run go on."""
        run = self._load(task.workflow_id, task.run_id)
        if run is None:
            run = RunRecord(workflow_id=task.workflow_id, run_id=task.run_id, dealer_id=task.dealer_id,
                            created_at=self.clock())
        if task.task_id in run.tasks:
            return  # the same task sent again under a new event id: the first one stands
        record, trigger = self._record(task)
        run.tasks[task.task_id] = record
        run.trigger.update(trigger)
        if run.task_count is None and task.task_count is not None:
            run.task_count = task.task_count
        run.finished = False  # a task arriving after the run ended reopens it
        self._runs[run.key] = run
        await self._save(run)
        if record.state in DONE:  # refused on arrival (unknown type, bad input): say so now
            await self._report(run, record)
        self._wake(run.key)

    async def decide(self, decision: ApprovalDecision) -> None:
        """Record a decision on a human_approval task; one for a run or task that does not exist is refused."""
        run = self._load(decision.workflow_id, decision.run_id)
        where = f"workflow {decision.workflow_id}" + (f" run {decision.run_id}" if decision.run_id else "")
        if run is None:
            raise InvalidEvent(f"approval for {where}, which has no tasks here")
        task = run.tasks.get(decision.task_id)
        if task is not None and task.task_type != _APPROVAL:
            raise InvalidEvent(f"approval for task {decision.task_id!r} of {where}, which is a {task.task_type} "
                               "task, not a human_approval")
        if (task is not None and task.state in DONE) or decision.task_id in run.approvals:
            return  # decided already: the first decision stands
        run.approvals[decision.task_id] = {"approved": decision.approved, "approver": decision.approver,
                                           "comment": decision.comment}
        self._runs[run.key] = run
        await self._save(run)
        if (signal := self._decisions.get(f"{run.key}/{decision.task_id}")) is not None:
            signal.set()
        self._wake(run.key)

    def resume(self, workflow_keys: Iterable[tuple[str, str]]) -> int:
        """Go on with stored runs that had not finished (after a restart or a rebalance); returns how many."""
        resumed = 0
        for workflow_id, key in workflow_keys:
            raw = self.store.load(workflow_id, key)
            if raw is None:
                continue
            run = RunRecord.model_validate_json(raw)
            if run.finished and run.reported_size == len(run.tasks) and all(t.reported for t in run.tasks.values()):
                continue
            for task in run.tasks.values():
                if task.state == State.RUNNING:
                    task.state = State.PENDING  # it was running when the worker stopped: run it again
            self._runs[key] = run
            self._resumed.add(key)
            self._wake(key)
            resumed += 1
        return resumed

    async def release(self, keys: Iterable[str] | None = None) -> None:
        """Stop driving these runs (all when None): their partitions went to another worker, or we stop."""
        chosen = list(self._runs) if keys is None else [k for k in keys if k in self._runs]
        tasks = [t for key in chosen for t in (self._drivers.get(key), *self._executing.get(key, {}).values()) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for key in chosen:
            self._runs.pop(key, None)
            self._wakes.pop(key, None)

    async def idle(self) -> None:
        """Wait until every run this orchestrator drives has finished or is waiting on something outside."""
        while self._drivers:
            await asyncio.gather(*list(self._drivers.values()), return_exceptions=True)

    # The run's life ------------------------------------------------------------------------------------------

    def _record(self, task: AgentTask) -> tuple[TaskRecord, dict[str, Any]]:
        """The task as the run keeps it; one that cannot run (unknown type, bad input) is failed at once."""
        record = TaskRecord(task_id=task.task_id, task_type=task.task_type, event_id=str(task.event_id),
                            depends_on=list(dict.fromkeys(task.depends_on)), timeout_s=task.timeout_seconds,
                            max_attempts=max(1, task.max_attempts), arrived_at=self.clock())
        trigger: dict[str, Any] = {}
        problem = None
        try:
            data = json.loads(task.input_json or "{}")
        except ValueError as exc:
            data, problem = {}, f"input_json is not JSON: {exc}"
        if problem is None and not isinstance(data, dict):
            problem = f"input_json must be a JSON object, got {type(data).__name__}"
        elif problem is None and ("inputs" in data or "config" in data):  # a workflow step (run-workflow)
            for part in ("config", "inputs", "trigger"):
                if not isinstance(data.get(part, {}), dict):
                    problem = f"input_json {part!r} must be an object"
            if problem is None:
                record.step = {"name": data.get("name", task.task_id), "config": data.get("config", {}),
                               "inputs": data.get("inputs", {}), "model": data.get("model")}
                trigger = data.get("trigger", {})
        elif problem is None:  # a plain task: its input is the inputs, given as values
            record.step = {"name": task.task_id, "config": {}, "inputs": data, "literal": True}
        if problem is None and task.task_type not in self.known_types:
            problem = (f"unknown task type {task.task_type!r}; this worker runs: "
                       f"{', '.join(sorted(self.known_types))}")
        if problem is None and task.timeout_seconds is not None and task.timeout_seconds <= 0:
            problem = f"timeout_seconds must be positive, got {task.timeout_seconds}"
        if problem is not None:
            record.state, record.error = State.FAILED, problem
        return record, trigger

    def _wake(self, key: str) -> None:
        wake = self._wakes.setdefault(key, asyncio.Event())
        wake.set()
        if key not in self._drivers:
            self._drivers[key] = asyncio.create_task(self._drive(key), name=f"run {key}")

    async def _drive(self, key: str) -> None:
        wake = self._wakes[key]
        try:
            while (run := self._runs.get(key)) is not None:
                wake.clear()
                deadline = await self._step(run)
                if run.finished and not self._executing.get(key):
                    # Done: only the store keeps it (a late task reloads it); memory holds live runs only.
                    self._runs.pop(key, None)
                    self._executing.pop(key, None)
                    self._wakes.pop(key, None)
                    return
                timeout = None if deadline is None else max(0.0, deadline - self.clock())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not leave the run stuck silently
            log.exception("run %s: the orchestrator failed; the run resumes on the next event or restart", key)
        finally:
            self._drivers.pop(key, None)

    async def _step(self, run: RunRecord) -> float | None:
        """Do what the run's states allow now; returns when to look again (None: when something happens)."""
        now, deadline = self.clock(), None
        if run.key in self._resumed:  # ended before a restart, but their results may not have gone out
            self._resumed.discard(run.key)
            for task in run.tasks.values():
                if task.state in DONE and not task.reported:
                    await self._report(run, task)
        absent = {t.task_id: [d for d in t.depends_on if d not in run.tasks] for t in run.tasks.values()}
        expected = run.task_count is not None and len(run.tasks) < run.task_count
        if run.error is not None:  # the run could not start: a task arriving since fails the same way
            if any(t.state not in DONE for t in run.tasks.values()):
                await self._fail_run(run, run.error)
        else:
            first = min(t.arrived_at for t in run.tasks.values())
            overdue = now - first >= self.config.missing_task_wait_s
            if expected and overdue:
                await self._fail_run(run, f"only {len(run.tasks)} of the {run.task_count} tasks of the run arrived "
                                          f"within {self.config.missing_task_wait_s:g}s")
            elif expected:
                deadline = first + self.config.missing_task_wait_s
            else:
                try:
                    graph = TaskGraph.build({t.task_id: [d for d in t.depends_on if d in run.tasks]
                                             if run.task_count is None else t.depends_on
                                             for t in run.tasks.values()})
                except GraphError as exc:
                    await self._fail_run(run, str(exc))
                else:
                    deadline = await self._schedule(run, graph, absent, now)
        unreported = not run.finished or run.reported_size != len(run.tasks)  # a crash may fall between the two
        if unreported and all(t.state in DONE for t in run.tasks.values()) and not self._executing.get(run.key):
            await self._finish(run)
        return deadline

    async def _schedule(self, run: RunRecord, graph: TaskGraph, absent: Mapping[str, list[str]],
                        now: float) -> float | None:
        deadline = None
        for task in run.tasks.values():  # dependencies that never arrived (the run did not say how many tasks)
            if task.state == State.PENDING and absent[task.task_id]:
                due = task.arrived_at + self.config.missing_task_wait_s
                if now >= due:
                    await self._end(run, task, State.FAILED, f"dependency {absent[task.task_id][0]!r} is not a task "
                                    f"of this run (none arrived within {self.config.missing_task_wait_s:g}s)")
                else:
                    deadline = due if deadline is None else min(deadline, due)
        states = {t.task_id: t.state for t in run.tasks.values()}
        for task in run.tasks.values():  # a condition that came out false: what depends on it does not run
            if task.state == State.PENDING:
                closed = [d for d in task.depends_on if self._condition_false(run, d)]
                if closed:
                    await self._end(run, task, State.SKIPPED, f"skipped: condition {closed[0]!r} was false")
                    states[task.task_id] = State.SKIPPED
        for task_id, reason in graph.to_skip(states).items():
            await self._end(run, run.tasks[task_id], State.SKIPPED, reason)
            states[task_id] = State.SKIPPED
        executing = self._executing.setdefault(run.key, {})
        for task_id in graph.runnable(states):
            if task_id not in executing and not absent[task_id]:
                run.tasks[task_id].state = State.RUNNING
                executing[task_id] = asyncio.create_task(self._execute(run, run.tasks[task_id]),
                                                         name=f"task {run.key}/{task_id}")
        return deadline

    def _condition_false(self, run: RunRecord, task_id: str) -> bool:
        task = run.tasks.get(task_id)
        return (task is not None and task.task_type == _CONDITION and task.state == State.SUCCEEDED
                and not (task.output or {}).get("result"))

    async def _fail_run(self, run: RunRecord, message: str) -> None:
        """The run cannot start as given (a cycle, a missing task): every task not yet ended fails, saying so."""
        run.error = message
        for task in run.tasks.values():
            if task.state not in DONE:
                task.state, task.error = State.FAILED, message
        await self._save(run)
        for task in run.tasks.values():
            if not task.reported:
                await self._report(run, task)

    async def _end(self, run: RunRecord, task: TaskRecord, state: State, error: str | None,
                   output: Mapping[str, Any] | None = None) -> None:
        task.state, task.error = state, error
        task.output = dict(output) if output is not None else task.output
        await self._save(run)  # durable before anyone hears of it
        await self._report(run, task)

    async def _execute(self, run: RunRecord, task: TaskRecord) -> None:
        started = time.perf_counter()
        result: AgentResult | None = None
        try:
            if task.task_type == _WAIT:
                output = await self._wait(run, task)
            elif task.task_type == _APPROVAL:
                output = await self._await_approval(run, task)
            else:
                result = await self._attempts(run, task)
                output = dict(result.output)
            state, error = State.SUCCEEDED, None
        except TaskEnded as ended:
            state, error, output = ended.state, str(ended), {}
        except asyncio.CancelledError:
            task.state = State.PENDING
            raise
        except Exception as exc:  # a bug in an agent or here: the task fails, the run goes on
            log.exception("run %s task %s: unexpected failure", run.key, task.task_id)
            state, error, output = State.FAILED, f"{type(exc).__name__}: {exc}", {}
        finally:
            self._executing.get(run.key, {}).pop(task.task_id, None)
        task.latency_ms = (time.perf_counter() - started) * 1000
        await self._end(run, task, state, error, output if state == State.SUCCEEDED else None)
        await self._emit_metric(run, task, result)
        self._wake(run.key)

    async def _attempts(self, run: RunRecord, task: TaskRecord) -> AgentResult:
        """Attempts until one succeeds, a permanent error, or max_attempts; each under the task's timeout."""
        try:
            inputs = resolve_inputs(task.step, run.trigger, {t.task_id: t.output or {} for t in run.tasks.values()})
        except InputReferenceError as exc:
            raise TaskEnded(State.FAILED, str(exc)) from exc
        learning = self.memory is not None and any(a.learns for a in self.registry.capable(task.task_type))
        text = _memory_text(task.task_type, inputs) if learning else ""
        recollections: list[Recollection] = []
        if learning and self.memory is not None:
            try:
                recollections = await self.memory.recall(task.task_type, text)
            except Exception:  # memory is an aid: a store that is down must not fail the task
                log.warning("long-term memory could not be searched for %s", task.task_id, exc_info=True)
        timeout = task.timeout_s or self.config.default_timeout_s
        tried: list[str] = []
        last, timed_out = "the worker stopped during its last attempt", False  # when none is left after a restart
        for attempt in range(task.attempts + 1, task.max_attempts + 1):
            agent = self.registry.choose(task.task_type, tried, recollections)
            if agent is None:
                raise TaskEnded(State.FAILED, f"no agent of this worker can do {task.task_type!r}")
            task.attempts, task.agent_id = attempt, agent.agent_id
            request = TaskRequest(task.task_id, task.task_type, run.workflow_id, run.dealer_id,
                                  task.step.get("config", {}), inputs, task.step.get("model"), run.run_id or "",
                                  attempt, recollections)
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(agent.run(request), timeout)
            except PermanentTaskError as exc:
                await self._learn(agent, task, text, False, started, {})
                raise TaskEnded(State.FAILED, f"{agent.agent_id}: {exc}") from exc
            except TimeoutError:
                last, timed_out = f"{agent.agent_id} did not answer within {timeout:g}s", True
            except Exception as exc:  # noqa: BLE001  any other failure of an agent is worth another attempt
                last, timed_out = f"{agent.agent_id}: {type(exc).__name__}: {exc}", False
            else:
                await self._learn(agent, task, text, True, started, result.parameters)
                return result
            await self._learn(agent, task, text, False, started, {})
            tried.append(agent.agent_id)
            if attempt < task.max_attempts:
                await asyncio.sleep(min(self.config.max_backoff_s, self.config.initial_backoff_s * 2 ** (attempt - 1)))
        attempts = f"{task.attempts} attempt{'s' if task.attempts != 1 else ''}"
        raise TaskEnded(State.TIMED_OUT if timed_out else State.FAILED, f"{last} (after {attempts})")

    async def _learn(self, agent: BaseAgent, task: TaskRecord, text: str, success: bool, started: float,
                     parameters: Mapping[str, Any]) -> None:
        if self.memory is not None and agent.learns and text:
            try:
                await self.memory.remember(task.task_type, text, agent.agent_id, success,
                                           (time.perf_counter() - started) * 1000, parameters)
            except Exception:  # memory is an aid: a store that is down must not fail the task
                log.warning("long-term memory could not record %s", task.task_id, exc_info=True)

    async def _wait(self, run: RunRecord, task: TaskRecord) -> dict[str, Any]:
        """Sleep until the wait's due time, which is saved first so a restart keeps it."""
        if task.due_at is None:
            try:
                inputs = resolve_inputs(task.step, run.trigger, {t.task_id: t.output or {} for t in run.tasks.values()})
                task.due_at = wait_until(task.step.get("config", {}), inputs, self.clock())
            except (InputReferenceError, PermanentTaskError) as exc:
                raise TaskEnded(State.FAILED, str(exc)) from exc
            await self._save(run)
        await asyncio.sleep(max(0.0, task.due_at - self.clock()))
        return {"resumed_at": datetime.fromtimestamp(self.clock(), UTC).isoformat()}

    async def _await_approval(self, run: RunRecord, task: TaskRecord) -> dict[str, Any]:
        """Wait for an ApprovalDecision (or the approval timeout); a rejection fails the task."""
        if task.due_at is None:
            task.due_at = self.clock() + (task.timeout_s or self.config.approval_timeout_s)
            await self._save(run)
        signal = self._decisions.setdefault(f"{run.key}/{task.task_id}", asyncio.Event())
        try:
            while (decision := run.approvals.get(task.task_id)) is None:
                remaining = task.due_at - self.clock()
                if remaining <= 0:
                    raise TaskEnded(State.TIMED_OUT, "no approval decision before the approval timeout")
                signal.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), remaining)
        finally:
            self._decisions.pop(f"{run.key}/{task.task_id}", None)
        if not decision["approved"]:
            comment = f": {decision['comment']}" if decision.get("comment") else ""
            raise TaskEnded(State.FAILED, f"rejected by {decision['approver']}{comment}")
        return {"approved": True, "approver": decision["approver"]}

    async def _finish(self, run: RunRecord) -> None:
        outcomes = [TaskOutcome(task_id=t.task_id, status=_STATUS[t.state], error=t.error) for t in run.tasks.values()]
        bad = [t for t in run.tasks.values() if t.state in (State.FAILED, State.TIMED_OUT)
               or (t.state == State.SKIPPED and not (t.error or "").startswith("skipped: condition"))]
        good = [t for t in run.tasks.values() if t.state == State.SUCCEEDED]
        status = (WorkflowStatus.SUCCEEDED if not bad else WorkflowStatus.PARTIAL if good else WorkflowStatus.FAILED)
        first = min(run.tasks.values(), key=lambda t: t.arrived_at)
        run.finished = True
        await self._save(run)
        if run.reported_size != len(run.tasks):
            await self.emit(WorkflowResult(
                event_id=result_id(run.key, "workflow", str(len(run.tasks))), dealer_id=run.dealer_id,
                source_event_id=uuid.UUID(first.event_id), processor=PROCESSOR, workflow_id=run.workflow_id,
                run_id=run.run_id, status=status, tasks=outcomes, error=run.error))
            run.reported_size = len(run.tasks)
            await self._save(run)

    async def _report(self, run: RunRecord, task: TaskRecord) -> None:
        marker = f"{run.key}/{task.task_id}"
        if task.reported or marker in self._reporting:
            return  # another path is publishing it right now
        self._reporting.add(marker)
        try:
            await self._publish_result(run, task)
        finally:
            self._reporting.discard(marker)
        task.reported = True  # saved with the run's next change; a restart before that reports it again (same id)

    async def _publish_result(self, run: RunRecord, task: TaskRecord) -> None:
        await self.emit(TaskResult(
            event_id=result_id(run.key, task.task_id, "result"), dealer_id=run.dealer_id,
            source_event_id=uuid.UUID(task.event_id), processor=PROCESSOR, task_id=task.task_id,
            workflow_id=run.workflow_id, run_id=run.run_id, status=_STATUS[task.state], agent_id=task.agent_id,
            output_json=json.dumps(task.output, default=str) if task.output is not None else None,
            error=task.error, attempts=task.attempts, latency_ms=task.latency_ms))

    async def _emit_metric(self, run: RunRecord, task: TaskRecord, result: AgentResult | None) -> None:
        await self.emit(AIOperationMetric(
            event_id=result_id(run.key, task.task_id, "metric"), dealer_id=run.dealer_id,
            source_event_id=uuid.UUID(task.event_id), processor=PROCESSOR, operation_type=task.task_type,
            pipeline="agents", model=(result.model if result and result.model else "none"),
            provider=task.agent_id or "orchestrator", cost_usd=result.cost_usd if result else 0.0,
            latency_ms=task.latency_ms, success=task.state == State.SUCCEEDED,
            error_class=None if task.state == State.SUCCEEDED else task.state.value))

    def _load(self, workflow_id: str, run_id: str | None) -> RunRecord | None:
        """The live run, or the stored one (not kept in memory unless the caller changes it)."""
        key = run_key(workflow_id, run_id)
        run = self._runs.get(key)
        if run is None:
            raw = self.store.load(workflow_id, key)
            if raw is not None:
                run = RunRecord.model_validate_json(raw)
        return run

    async def _save(self, run: RunRecord) -> None:
        await self.store.save(run.workflow_id, run.key, run.model_dump_json())


class MemoryRunStore:
    """A RunStore in a dict: for the one-shot CLI, tests and benchmarks, where no stream owns the runs."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.saves = 0

    def load(self, workflow_id: str, key: str) -> str | None:
        return self.values.get(key)

    async def save(self, workflow_id: str, key: str, value: str) -> None:
        self.values[key] = value
        self.saves += 1

    def keys(self) -> list[tuple[str, str]]:
        return [(RunRecord.model_validate_json(v).workflow_id, k) for k, v in self.values.items()]


def _memory_text(task_type: str, inputs: Mapping[str, Any]) -> str:
    """What a task is about, for similarity: its type and inputs (the memory redacts before embedding)."""
    return f"{task_type}: {json.dumps(inputs, sort_keys=True, default=str)[:2000]}"
