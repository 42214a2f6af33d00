"""What every agent is: capabilities it serves, a status, short-term memory and a performance record.

The orchestrator (``processors.agents.orchestrator``) picks an agent for each task by capability and record,
calls ``run`` with a ``TaskRequest`` whose inputs are already resolved, and feeds the outcome back through
``learn_from_result``. Agents raise ``TaskError`` (retried with backoff) or ``PermanentTaskError`` (bad input,
a refusal: retrying cannot help); anything else is treated as transient too.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from schemas.errors import PermanentTaskError as PermanentTaskError  # re-exported: agents raise them
from schemas.errors import TaskError as TaskError
from schemas.models import StepType

# Step types served under the seed's capability names; every other step type is its own capability.
CAPABILITY_OF: dict[str, str] = {
    StepType.ENRICH_COMPANY.value: "company_lookup",
    StepType.ENRICH_CONTACT.value: "contact_enrichment",
    StepType.GENERATE_EMAIL_SEQUENCE.value: "email_sequence_generation",
}


def capability_of(task_type: str) -> str:
    """The capability a task type needs (``enrich_company`` -> ``company_lookup``; a capability is itself)."""
    return CAPABILITY_OF.get(task_type, task_type)


class AgentStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    ERROR = "error"  # the last attempt failed


@dataclass(frozen=True)
class Recollection:
    """A similar task from long-term memory: which agent ran it, how it went, and with what parameters."""

    agent_id: str
    task_type: str
    success: bool
    latency_ms: float
    similarity: float
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskRequest:
    """One attempt at one task, with its inputs resolved (``trigger.x`` and ``<step>.<output>`` references
    replaced by values) and what long-term memory recalls of similar tasks."""

    task_id: str
    task_type: str
    workflow_id: str
    dealer_id: str
    config: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    run_id: str = ""
    attempt: int = 1
    memory: Sequence[Recollection] = ()

    @property
    def idempotency_key(self) -> str:
        """Stable across attempts and restarts of the same task in the same run: sinks de-duplicate on it."""
        return f"{self.workflow_id}/{self.run_id}/{self.task_id}"

    def require(self, name: str) -> Any:
        """An input that must be present and non-empty, else a PermanentTaskError naming it."""
        value = self.inputs.get(name)
        if value is None or value == "":
            raise PermanentTaskError(f"{self.task_type} task {self.task_id!r} needs input {name!r}")
        return value


@dataclass(frozen=True)
class AgentResult:
    """What a task produced: its outputs (the step type's outputs in ``processors.workflows.catalog``)."""

    output: Mapping[str, Any]
    cost_usd: float = 0.0
    model: str | None = None
    confidence: float | None = None
    notes: tuple[str, ...] = ()  # e.g. "source clearbit failed: timeout" when the result is partial
    parameters: Mapping[str, Any] = field(default_factory=dict)  # what the agent chose, remembered if it works


@dataclass
class Performance:
    """An agent's record: counts, total latency and cost, for selection by success rate, latency and cost."""

    succeeded: int = 0
    failed: int = 0
    total_latency_ms: float = 0.0
    total_cost_usd: float = 0.0

    @property
    def attempts(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float:
        """Laplace-smoothed, so a new agent starts at 0.5 rather than at 0 or 1."""
        return (self.succeeded + 1) / (self.attempts + 2)

    @property
    def mean_latency_ms(self) -> float:
        return self.total_latency_ms / self.attempts if self.attempts else 0.0

    @property
    def mean_cost_usd(self) -> float:
        return self.total_cost_usd / self.attempts if self.attempts else 0.0

    def record(self, success: bool, latency_ms: float, cost_usd: float) -> None:
        if success:
            self.succeeded += 1
        else:
            self.failed += 1
        self.total_latency_ms += latency_ms
        self.total_cost_usd += cost_usd


@dataclass(frozen=True)
class Experience:
    """One finished attempt, as the agent remembers it in the short term."""

    task_type: str
    task_id: str
    success: bool
    latency_ms: float
    error: str | None = None


class BaseAgent(ABC):
    """An agent: ``capabilities`` name the task types it serves (see ``capability_of``)."""

    learns: bool = False  # True: outcomes go to long-term memory (worth an embedding per task)

    def __init__(self, agent_id: str, capabilities: Sequence[str], memory_size: int = 100) -> None:
        self.agent_id = agent_id
        self.capabilities = frozenset(capabilities)
        self.performance = Performance()
        self.memory: deque[Experience] = deque(maxlen=memory_size)
        self.status = AgentStatus.IDLE
        self._in_flight = 0

    def can_handle(self, task_type: str) -> bool:
        return capability_of(task_type) in self.capabilities

    @abstractmethod
    async def execute(self, request: TaskRequest) -> AgentResult:
        """Do the task; raise TaskError (retried) or PermanentTaskError (not retried)."""

    async def run(self, request: TaskRequest) -> AgentResult:
        """``execute`` with status and performance tracking (the orchestrator calls this)."""
        self._in_flight += 1
        self.status = AgentStatus.BUSY
        started = time.perf_counter()
        try:
            result = await self.execute(request)
        except BaseException as exc:
            self.learn_from_result(request, None, (time.perf_counter() - started) * 1000, exc)
            raise
        self.learn_from_result(request, result, (time.perf_counter() - started) * 1000, None)
        return result

    def learn_from_result(self, request: TaskRequest, result: AgentResult | None, latency_ms: float,
                          error: BaseException | None) -> None:
        """Update the performance record and short-term memory; long-term memory is the orchestrator's."""
        self._in_flight -= 1
        success = error is None
        self.performance.record(success, latency_ms, result.cost_usd if result else 0.0)
        self.memory.append(Experience(request.task_type, request.task_id, success, latency_ms,
                                      None if error is None else f"{type(error).__name__}: {error}"))
        self.status = AgentStatus.ERROR if not success else AgentStatus.BUSY if self._in_flight else AgentStatus.IDLE
