"""The task graph of a workflow run: phases, what may run, what a failure skips, and refused graphs."""

from __future__ import annotations

import pytest

from processors.agents.graph import GraphError, State, TaskGraph

CAMPAIGN = {"lookup": [], "enrich": ["lookup"], "segment": ["lookup"], "draft": ["enrich", "segment"],
            "approve": ["draft"], "send": ["approve"], "log": ["send"]}


def test_phases_follow_dependencies_and_group_what_can_run_together() -> None:
    graph = TaskGraph.build(CAMPAIGN)
    assert graph.phases == (("lookup",), ("enrich", "segment"), ("draft",), ("approve",), ("send",), ("log",))
    assert graph.runnable({}) == ["lookup"]
    assert graph.runnable({"lookup": State.SUCCEEDED}) == ["enrich", "segment"]
    assert graph.runnable({"lookup": State.SUCCEEDED, "enrich": State.SUCCEEDED, "segment": State.RUNNING}) == []


def test_a_failure_skips_its_dependents_transitively_and_nothing_else() -> None:
    graph = TaskGraph.build({**CAMPAIGN, "report": ["lookup"]})
    states = {"lookup": State.SUCCEEDED, "enrich": State.FAILED, "segment": State.SUCCEEDED}
    assert graph.to_skip(states) == {
        "draft": "skipped: dependency enrich ended failed", "approve": "skipped: dependency draft was skipped",
        "send": "skipped: dependency approve was skipped", "log": "skipped: dependency send was skipped"}
    assert graph.runnable(states) == ["report"]  # an independent branch still runs
    done = {**states, **dict.fromkeys(graph.to_skip(states), State.SKIPPED), "report": State.SUCCEEDED}
    assert graph.finished(done) and not graph.finished(states)
    assert graph.to_skip({"lookup": State.TIMED_OUT})["enrich"] == "skipped: dependency lookup ended timed_out"


@pytest.mark.parametrize(("tasks", "message"), [
    ({"a": ["b"], "b": ["c"], "c": ["a"]}, r"dependency cycle: (a -> c -> b -> a|[abc] -> [abc] -> [abc] -> [abc])"),
    ({"a": ["a"]}, "tasks that depend on themselves: a"),
    ({"send": ["draft"]}, "dependencies on tasks that are not in the workflow: send -> draft"),
])
def test_graphs_that_cannot_run_are_refused_with_the_tasks_named(tasks: dict[str, list[str]], message: str) -> None:
    with pytest.raises(GraphError, match=message):
        TaskGraph.build(tasks)


def test_an_empty_workflow_is_finished_at_once() -> None:
    graph = TaskGraph.build({})
    assert graph.phases == () and graph.runnable({}) == [] and graph.finished({})
