"""debug_workflow: why a workflow fails, from its definition and its error context (failed task results and
the DLQ entries of its events), worded for the dealership staff member who asked."""

from __future__ import annotations

from dataclasses import dataclass, field

from processors.workflows.catalog import STEP_SPECS
from processors.workflows.validate import egress_reason, validate
from schemas.models import (
    DeadLetter,
    DebugAnalysis,
    DebugFinding,
    GeneratedWorkflow,
    RequirementAnalysis,
    StepType,
    TaskResult,
    TaskStatus,
    WorkflowStep,
)

HINTS = (  # (words in an error message, what to do about it)
    (("timeout", "timed out"), "the step ran out of time: raise its timeout or check that the system it calls "
                               "answers"),
    (("auth", "401", "403", "credential", "api key", "password"), "the step was refused: check the credentials of "
                                                                 "the system it calls"),
    (("recipient", "address", "invalid email", "invalid phone", "e.164", "no email", "no phone"),
     "the recipient is missing or malformed: check the trigger field it reads"),
    (("rate limit", "429", "quota"), "the provider is rate limiting: spread the runs or raise the quota"),
    (("budget",), "the dealer's daily LLM budget is spent: raise it or use a cheaper model group"),
    (("schema", "validation", "invalid", "decode"), "the event did not match its schema: fix the sender, then "
                                                    "replay it with `auterity dlq replay`"),
)


@dataclass(frozen=True)
class ErrorContext:
    """What went wrong when the workflow ran: its failed task results and DLQ entries."""

    failed_tasks: list[TaskResult] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def hint_for(message: str) -> str:
    lowered = message.lower()
    return next((hint for words, hint in HINTS if any(w in lowered for w in words)),
                "look at the step's input data and the system it calls")


def debug_workflow(workflow: GeneratedWorkflow | None, context: ErrorContext, request: RequirementAnalysis,
                   allowed_hosts: frozenset[str] = frozenset()) -> DebugAnalysis:
    """Findings from the definition (validation, risky or incomplete steps) and from the runs."""
    findings: list[DebugFinding] = []
    failed: list[str] = []
    if workflow is None:
        findings.append(DebugFinding(severity="error", problem="this session has no workflow to debug",
                                     suggestion="describe the workflow first, or send its workflow_id"))
    else:
        steps = {s.step_id: s for s in workflow.steps}
        findings += [DebugFinding(severity="error", problem=e, suggestion="regenerate or modify the workflow")
                     for e in validate(workflow, allowed_hosts)]
        for task in context.failed_tasks:
            if task.status is not TaskStatus.FAILED:
                continue
            failed.append(task.task_id)
            step = steps.get(task.task_id)
            findings.append(DebugFinding(
                step_id=task.task_id, severity="error",
                problem=f"{step.name if step else task.task_id} failed after {task.attempts} attempt(s): "
                        f"{task.error or 'no error message'}",
                suggestion=hint_for(task.error or "")))
            for later in workflow.steps:
                if task.task_id in later.depends_on:
                    findings.append(DebugFinding(step_id=later.step_id, severity="warning",
                                                 problem=f"{later.name} did not run: it depends on {task.task_id}",
                                                 suggestion="it runs once the failed step succeeds"))
        for letter in context.dead_letters:
            findings.append(DebugFinding(
                severity="error", problem=f"an event on {letter.topic} was rejected at {letter.stage.value}: "
                                          f"{letter.error_class}: {letter.error_message[:300]}",
                suggestion=hint_for(f"{letter.error_class} {letter.error_message}")))
        for step in workflow.steps:
            findings += _definition_findings(step, allowed_hosts)
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    errors = sum(f.severity == "error" for f in findings)
    summary = (f"{errors} problem(s) found" + (f"; failed steps: {', '.join(failed)}" if failed else "")
               if findings else "no problem found in the definition, and no failed runs are on record")
    return DebugAnalysis(
        dealer_id=request.dealer_id, source_event_id=request.event_id, processor="workflows.debug",
        session_id=request.session_id,
        workflow_id=workflow.workflow_id if workflow else request.workflow_id,
        version=workflow.version if workflow else 0, findings=findings, failed_steps=failed, summary=summary)


def _definition_findings(step: WorkflowStep, allowed_hosts: frozenset[str]) -> list[DebugFinding]:
    findings: list[DebugFinding] = []
    if step.type is StepType.WAIT and not any(k in step.config for k in ("duration_days", "duration_hours",
                                                                         "offset_days")) \
            and "until" not in step.inputs:
        findings.append(DebugFinding(step_id=step.step_id, severity="warning", problem=f"{step.name} waits for "
                                     "no time at all", suggestion="give it duration_days or an until input"))
    if STEP_SPECS[step.type].sends_outside and egress_reason(step, set(allowed_hosts)):
        findings.append(DebugFinding(step_id=step.step_id, severity="info", problem=f"{step.name} "
                                     f"{egress_reason(step, set(allowed_hosts))}",
                                     suggestion="it waits for human approval on every run"))
    return findings
