"""The task graph of one workflow run: phases in dependency order, what may run now, and what a failure skips.

Broker-free and stateless: the orchestrator keeps each run's task states in a table and asks these functions
what to do next, so a restarted worker resumes from the states alone. A graph with a cycle or a dependency on a
task that does not exist is refused with an error that names the tasks involved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from graphlib import CycleError, TopologicalSorter


class GraphError(ValueError):
    """The tasks do not form a runnable graph; the message names the offending tasks."""


class State(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"


DONE = frozenset({State.SUCCEEDED, State.FAILED, State.SKIPPED, State.TIMED_OUT})
UNSUCCESSFUL = frozenset({State.FAILED, State.SKIPPED, State.TIMED_OUT})


@dataclass(frozen=True)
class TaskGraph:
    """Task ids and their dependencies, checked: every dependency exists and there is no cycle."""

    depends_on: Mapping[str, tuple[str, ...]]
    phases: tuple[tuple[str, ...], ...]

    @classmethod
    def build(cls, tasks: Mapping[str, Sequence[str]]) -> TaskGraph:
        """The graph of ``{task_id: [dependency ids]}``; phases are sets of tasks that may run concurrently."""
        missing = sorted(f"{task} -> {dep}" for task, deps in tasks.items() for dep in deps if dep not in tasks)
        if missing:
            raise GraphError(f"dependencies on tasks that are not in the workflow: {', '.join(missing)}")
        self_loops = sorted(task for task, deps in tasks.items() if task in deps)
        if self_loops:
            raise GraphError(f"tasks that depend on themselves: {', '.join(self_loops)}")
        sorter = TopologicalSorter({task: set(deps) for task, deps in tasks.items()})
        try:
            sorter.prepare()
        except CycleError as exc:
            cycle = exc.args[1]
            raise GraphError(f"dependency cycle: {' -> '.join(cycle)}") from exc
        phases = []
        while sorter.is_active():
            ready = tuple(sorted(sorter.get_ready()))
            phases.append(ready)
            sorter.done(*ready)
        return cls({task: tuple(deps) for task, deps in tasks.items()}, tuple(phases))

    def runnable(self, states: Mapping[str, State]) -> list[str]:
        """Pending tasks whose dependencies have all succeeded, in phase order (they may run concurrently)."""
        return [task for phase in self.phases for task in phase
                if states.get(task, State.PENDING) == State.PENDING
                and all(states.get(dep) == State.SUCCEEDED for dep in self.depends_on[task])]

    def to_skip(self, states: Mapping[str, State]) -> dict[str, str]:
        """Pending tasks that can never run because a dependency (transitively) did not succeed, with why."""
        skipped: dict[str, str] = {}
        for phase in self.phases:
            for task in phase:
                if states.get(task, State.PENDING) != State.PENDING:
                    continue
                blocked = [dep for dep in self.depends_on[task]
                           if states.get(dep) in UNSUCCESSFUL or dep in skipped]
                if blocked:
                    skipped[task] = f"skipped: dependency {blocked[0]} " + (
                        "was skipped" if blocked[0] in skipped else f"ended {states[blocked[0]].value}")
        return skipped

    def finished(self, states: Mapping[str, State]) -> bool:
        """Every task has ended (succeeded, failed, skipped or timed out)."""
        return all(states.get(task) in DONE for task in self.depends_on)
