"""Agent orchestration. So far the task-graph planner (``graph``); the orchestrator, the agents and the step
executors are still to come, and until then the agents pipeline runs the placeholder."""
