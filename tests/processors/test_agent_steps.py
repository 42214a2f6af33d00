"""Step executors without peers: input references, conditions, wait times, and a workflow turned into tasks.
(SMTP, SMS, HTTP and the CRM run against real local servers in tests/connectors and tests/streams.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from processors.agents.base import PermanentTaskError, TaskRequest
from processors.agents.steps import (
    ConditionAgent,
    missing_trigger_fields,
    resolve_inputs,
    wait_until,
    workflow_tasks,
)
from schemas.models import GeneratedWorkflow, StepType, WorkflowStep, WorkflowTrigger

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC).timestamp()  # a Thursday


def test_references_resolve_to_trigger_fields_and_step_outputs() -> None:
    outputs = {"read_document": {"document_type": "invoice", "fields": {"vin": "1HGCM82633A004352"}}}
    inputs = resolve_inputs({"inputs": {"vin": "read_document.fields.vin", "to": "trigger.email",
                                        "missing": "trigger.phone", "url": "https://dms.example/ro",
                                        "version": "v1.2"}}, {"email": "a@b.example"}, outputs)
    assert inputs == {"vin": "1HGCM82633A004352", "to": "a@b.example", "missing": None,
                      "url": "https://dms.example/ro", "version": "v1.2"}
    literal = resolve_inputs({"inputs": {"to": "trigger.email"}, "literal": True}, {"email": "x"}, {})
    assert literal == {"to": "trigger.email"}  # a plain task's input is taken as given


@pytest.mark.parametrize(("expression", "inputs", "expected"), [
    ("value != ''", {"value": "brake pads"}, True),
    ("value != ''", {"value": ""}, False),
    ("value == 'safety_critical'", {"value": "routine"}, False),
    ("value.employees > 100", {"value": {"employees": 240}}, True),
    ("value > 5000 and customer", {"value": 7200, "customer": "Dana"}, True),
])
async def test_conditions_evaluate_over_their_inputs(expression: str, inputs: dict[str, object],
                                                     expected: bool) -> None:
    request = TaskRequest("c", "condition", "wf", "D1", {"expression": expression}, inputs)
    assert (await ConditionAgent().execute(request)).output == {"result": expected}


@pytest.mark.parametrize(("expression", "message"), [
    ("", "has no expression"),
    ("value >", "cannot evaluate"),
    ("value.__class__.__mro__", "cannot evaluate"),  # the sandbox refuses
    ("value > 5", "failed on its inputs"),
])
async def test_a_bad_condition_is_a_permanent_error(expression: str, message: str) -> None:
    request = TaskRequest("c", "condition", "wf", "D1", {"expression": expression}, {"value": "text"})
    with pytest.raises(PermanentTaskError, match=message):
        await ConditionAgent().execute(request)


def test_wait_times() -> None:
    assert wait_until({"duration_days": "1", "duration_hours": "2"}, {}, NOW) == NOW + 26 * 3600
    appointment = "2026-12-03T09:00:00+00:00"
    assert wait_until({"offset_days": "-2"}, {"until": appointment}, NOW) == datetime(
        2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()
    assert wait_until({}, {"until": "2026-01-01T00:00:00+00:00"}, NOW) == NOW  # already past: no wait
    tuesday = datetime.fromtimestamp(wait_until({}, {"until": "next Tuesday 10am"}, NOW), UTC)
    assert (tuesday.weekday(), tuesday.hour) == (1, 10) and tuesday.timestamp() > NOW
    with pytest.raises(PermanentTaskError, match="needs duration_days"):
        wait_until({}, {}, NOW)
    with pytest.raises(PermanentTaskError, match="cannot read the time 'whenever'"):
        wait_until({}, {"until": "whenever"}, NOW)
    with pytest.raises(PermanentTaskError, match="duration_hours must be a number"):
        wait_until({"duration_hours": "three"}, {}, NOW)


def test_a_generated_workflow_becomes_one_task_per_step() -> None:
    workflow = GeneratedWorkflow(
        dealer_id="D1", source_event_id="00000000-0000-4000-8000-000000000001", processor="test", session_id="s",
        workflow_id="wf-1", name="Declined work", valid=True,
        trigger=WorkflowTrigger(type="event", config={"fields": "ro_number,customer_email,declined_services"}),
        steps=[WorkflowStep(step_id="has_declined", type=StepType.CONDITION, name="When declined",
                            config={"expression": "value != ''"}, inputs={"value": "trigger.declined_services"}),
               WorkflowStep(step_id="read", type=StepType.OCR_DOCUMENT, name="Read", inputs={"document": "trigger.x"},
                            depends_on=["has_declined"])])
    trigger = {"ro_number": "RO-1", "declined_services": "brake pads"}
    tasks = workflow_tasks(workflow, trigger, "run-7")
    assert [(t.task_id, t.task_type, t.depends_on, t.task_count, t.run_id) for t in tasks] == [
        ("has_declined", "condition", [], 2, "run-7"), ("read", "ocr_document", ["has_declined"], 2, "run-7")]
    body = json.loads(tasks[0].input_json)
    assert body["config"] == {"expression": "value != ''"} and body["trigger"] == trigger
    assert tasks[1].timeout_seconds == 600.0  # OCR gets longer than the default
    assert missing_trigger_fields(workflow, trigger) == ["customer_email"]
    with pytest.raises(ValueError, match="is not valid: no trigger"):
        workflow_tasks(workflow.model_copy(update={"valid": False, "validation_errors": ["no trigger"]}), {}, None)
