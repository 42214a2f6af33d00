"""Interface generation: a GeneratedInterface for a workflow, as the chat builder renders it.

A form for what the trigger needs from a person (manual and webhook triggers) or a read-only view of the event
fields, a dashboard of the workflow's run metrics, and a table per step that produces records people act on.
Components carry a 12-column grid layout with breakpoints so the builder can lay them out responsively.
"""

from __future__ import annotations

from schemas.models import GeneratedInterface, GeneratedWorkflow, StepType, TriggerType, UIComponent

TABLE_STEPS = {StepType.CREATE_TASK: "Tasks created", StepType.SCHEDULE_APPOINTMENT: "Appointments booked",
               StepType.SEND_EMAIL: "Emails sent", StepType.SEND_SMS: "Texts sent",
               StepType.HUMAN_APPROVAL: "Waiting for approval", StepType.OCR_DOCUMENT: "Documents read",
               StepType.TRANSCRIBE_CALL: "Calls transcribed", StepType.CRM_UPDATE: "CRM updates"}
FIELD_INPUTS = (("email", "email"), ("phone", "tel"), ("time", "datetime-local"), ("date", "date"),
                ("mileage", "number"), ("amount", "number"), ("notes", "textarea"))


def _layout(row: int, width: int, column: int = 0) -> dict[str, str]:
    """Grid placement: ``width`` of 12 columns on desktop, full width below the ``md`` breakpoint."""
    return {"row": str(row), "col": str(column), "width": str(width), "width_sm": "12", "width_md": str(max(width, 6))}


def interface_for(workflow: GeneratedWorkflow) -> GeneratedInterface:
    """Forms for its inputs, a dashboard for its metrics, tables for its outputs."""
    trigger = workflow.trigger
    fields = [f.strip() for f in (trigger.config.get("fields", "") if trigger else "").split(",") if f.strip()]
    components: list[UIComponent] = []
    row = 0
    editable = trigger is not None and trigger.type in (TriggerType.MANUAL, TriggerType.WEBHOOK)
    form_type = "form" if editable else "event_view"
    components.append(UIComponent(component_id="trigger_form", type=form_type,
                                  label="Start a run" if editable else "What starts it",
                                  binds_to="trigger", props={**_layout(row, 12), "submit": "run" if editable else "",
                                                             "trigger_type": trigger.type.value if trigger else ""}))
    for index, name in enumerate(fields):
        kind = next((t for key, t in FIELD_INPUTS if key in name), "text")
        components.append(UIComponent(
            component_id=f"field_{name}", type="input" if editable else "field",
            label=name.replace("_", " ").capitalize(), binds_to=f"trigger.{name}",
            props={**_layout(row + 1 + index // 3, 4, (index % 3) * 4), "input_type": kind,
                   "required": "true" if editable else "false", "parent": "trigger_form"}))
    row += 2 + len(fields) // 3
    metrics = (("runs", "Runs", "count"), ("success_rate", "Success rate", "percent"),
               ("p95_latency_ms", "p95 run time", "ms"), ("cost_usd", "AI cost", "usd"))
    components.append(UIComponent(component_id="dashboard", type="dashboard", label=f"{workflow.name}: last 7 days",
                                  binds_to=f"metrics.workflow.{workflow.workflow_id}", props=_layout(row, 12)))
    for index, (key, label, unit) in enumerate(metrics):
        components.append(UIComponent(component_id=f"metric_{key}", type="metric_card", label=label,
                                      binds_to=f"metrics.{key}", props={**_layout(row + 1, 3, index * 3),
                                                                         "unit": unit, "parent": "dashboard"}))
    row += 2
    for step in workflow.steps:
        title = TABLE_STEPS.get(step.type)
        if title is None:
            continue
        components.append(UIComponent(component_id=f"table_{step.step_id}", type="table", label=f"{title}: {step.name}",
                                      binds_to=f"steps.{step.step_id}.outputs",
                                      props={**_layout(row, 12), "page_size": "25", "sortable": "true",
                                             "actions": "approve,reject" if step.type is StepType.HUMAN_APPROVAL
                                             else ""}))
        row += 1
    return GeneratedInterface(dealer_id=workflow.dealer_id, source_event_id=workflow.source_event_id,
                              processor="ui.interface", session_id=workflow.session_id,
                              workflow_id=workflow.workflow_id, components=components)
