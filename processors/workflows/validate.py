"""Workflow validation: a DAG of known step types whose every input is wired, and no unapproved data egress.

``validate`` returns every problem it finds (an empty list means valid), worded for the person who asked for
the workflow, so a GeneratedWorkflow can carry them in ``validation_errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from processors.workflows.catalog import STEP_SPECS, TRIGGER_FIELDS_KEY
from schemas.models import GeneratedWorkflow, StepType, WorkflowStep, WorkflowTrigger

RECIPIENT_CONFIG_KEYS = ("to_address", "to_number", "recipient")  # a literal recipient typed into the workflow


def trigger_fields(trigger: WorkflowTrigger | None) -> list[str]:
    """The fields a trigger provides to the steps (``trigger.<field>``)."""
    if trigger is None:
        return []
    return [f.strip() for f in trigger.config.get(TRIGGER_FIELDS_KEY, "").split(",") if f.strip()]


def ancestors(steps: Sequence[WorkflowStep]) -> dict[str, set[str]]:
    """step_id -> every step it depends on, directly or not (steps in a cycle include themselves)."""
    parents = {s.step_id: set(s.depends_on) for s in steps}
    closure: dict[str, set[str]] = {}
    for step_id in parents:
        seen: set[str] = set()
        stack = list(parents[step_id])
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(parents.get(current, ()))
        closure[step_id] = seen
    return closure


def phases(steps: Sequence[WorkflowStep]) -> list[list[str]]:
    """Topological layers: every step of a phase can run concurrently once the earlier phases are done.

    Raises ValueError naming the steps of a cycle."""
    remaining = {s.step_id: set(s.depends_on) & {t.step_id for t in steps} for s in steps}
    layers: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        ready = sorted(step_id for step_id, deps in remaining.items() if deps <= done)
        if not ready:
            raise ValueError(f"steps {', '.join(sorted(remaining))} depend on each other in a cycle")
        layers.append(ready)
        done.update(ready)
        for step_id in ready:
            del remaining[step_id]
    return layers


def validate(workflow: GeneratedWorkflow, allowed_hosts: Iterable[str] = ()) -> list[str]:
    """Every reason this workflow cannot run safely as written; empty when it is valid."""
    errors: list[str] = []
    steps = workflow.steps
    if workflow.trigger is None:
        errors.append("the workflow has no trigger")
    if not steps:
        errors.append("the workflow has no steps")
    ids = [s.step_id for s in steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        errors.append(f"step ids are not unique: {', '.join(duplicates)}")
    known = set(ids)
    for step in steps:
        for dep in step.depends_on:
            if dep not in known:
                errors.append(f"step {step.step_id} depends on unknown step {dep}")
    try:
        phases(steps)
    except ValueError as exc:
        errors.append(str(exc))
    closure = ancestors(steps)
    fields = set(trigger_fields(workflow.trigger))
    by_id = {s.step_id: s for s in steps}
    for step in steps:
        errors.extend(_step_errors(step, fields, by_id, closure[step.step_id]))
    errors.extend(_egress_errors(steps, by_id, closure, set(allowed_hosts)))
    return errors


def _step_errors(step: WorkflowStep, fields: set[str], by_id: Mapping[str, WorkflowStep],
                 upstream: set[str]) -> list[str]:
    spec = STEP_SPECS[step.type]
    errors = [f"step {step.step_id} ({step.type}) needs input {name}" for name in spec.required_inputs
              if name not in step.inputs]
    errors += [f"step {step.step_id} ({step.type}) needs config {key}" for key in spec.required_config
               if not step.config.get(key)]
    unknown_inputs = sorted(set(step.inputs) - set(spec.inputs))
    if unknown_inputs:
        errors.append(f"step {step.step_id} ({step.type}) has unknown inputs {', '.join(unknown_inputs)}")
    if spec.ai and not step.model:
        errors.append(f"step {step.step_id} ({step.type}) runs a model but names none")
    for name, reference in step.inputs.items():
        source, _, output = reference.partition(".")
        if source == "trigger":
            if output not in fields:
                errors.append(f"step {step.step_id} input {name} reads trigger field {output!r}, which the "
                              f"trigger does not provide")
        elif source not in by_id:
            errors.append(f"step {step.step_id} input {name} reads {reference!r}: no step {source!r}")
        elif output not in STEP_SPECS[by_id[source].type].outputs:
            errors.append(f"step {step.step_id} input {name} reads {reference!r}: {by_id[source].type} "
                          f"has no output {output!r}")
        elif source not in upstream:
            errors.append(f"step {step.step_id} input {name} reads {reference!r} but does not depend on "
                          f"step {source}")
    return errors


def _egress_errors(steps: Sequence[WorkflowStep], by_id: Mapping[str, WorkflowStep],
                   closure: Mapping[str, set[str]], allowed_hosts: set[str]) -> list[str]:
    errors: list[str] = []
    for step in steps:
        reason = egress_reason(step, allowed_hosts)
        if reason is None:
            continue
        approved = any(by_id[a].type is StepType.HUMAN_APPROVAL for a in closure[step.step_id] if a in by_id)
        if not approved:
            errors.append(f"step {step.step_id} {reason} and no human_approval step comes before it")
    return errors


def egress_reason(step: WorkflowStep, allowed_hosts: set[str]) -> str | None:
    """Why a step would send data outside the dealer's own systems and customers, or None when it does not."""
    if not STEP_SPECS[step.type].sends_outside:
        return None
    if step.type is StepType.HTTP_REQUEST:
        host = urlsplit(step.config.get("url", "")).hostname or ""
        if host not in allowed_hosts:
            return f"calls {host or 'an unnamed host'}, which is not one of the dealer's allowed hosts"
        return None
    literal = next((step.config[k] for k in RECIPIENT_CONFIG_KEYS if step.config.get(k)), None)
    if literal is not None:
        return "sends to a fixed recipient rather than the workflow's own customer"
    if step.config.get("bulk_export") == "true":
        return "sends customer data in bulk"
    return None
