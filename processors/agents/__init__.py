"""Agent orchestration: the task-graph planner (``graph``), the orchestrator, the agents (``base``,
``intelligence``, ``campaign``) and the step executors (``steps``), with long-term memory (``memory``)."""
