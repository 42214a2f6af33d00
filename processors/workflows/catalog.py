"""What each workflow step type of DESIGN.md's vocabulary takes, produces and may do.

The generator, the validator and the optimiser read this table; the agents that execute steps implement it.
Inputs are wired by reference: ``trigger.<field>`` (a field the trigger declares) or ``<step_id>.<output>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models import StepType, TriggerType


@dataclass(frozen=True)
class StepSpec:
    """One step type: its inputs (required ones must be wired), its outputs, and what it may do."""

    outputs: tuple[str, ...]
    required_inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    required_config: tuple[str, ...] = ()
    ai: bool = False  # runs a model: has a `model`, costs tokens, can move to a cheaper model
    sends_outside: bool = False  # can carry data out of the dealer's own systems (needs human_approval when
    # its recipient is not the workflow's own customer or the destination is not an allowed host)
    description: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.required_inputs + self.optional_inputs


STEP_SPECS: dict[StepType, StepSpec] = {
    StepType.AI_TEXT: StepSpec(("text",), ("context",), ("instructions",), ("prompt",), ai=True,
                               description="Write text (a reply, a summary, a note) with the LLM."),
    StepType.AI_CLASSIFY: StepSpec(("label", "confidence"), ("text",), (), ("labels",), ai=True,
                                   description="Put a text into one of the configured labels."),
    StepType.OCR_DOCUMENT: StepSpec(("document_type", "fields", "text"), ("document",), (), (), ai=True,
                                    description="OCR a scanned document and extract its fields."),
    StepType.TRANSCRIBE_CALL: StepSpec(("transcript", "action_items", "sentiment", "summary"), ("recording",), (),
                                       (), ai=True, description="Transcribe and analyse a recorded call."),
    StepType.ENRICH_COMPANY: StepSpec(("company", "confidence"), ("company_name",), ("domain",), (),
                                      description="Look a company up in the configured data sources."),
    StepType.ENRICH_CONTACT: StepSpec(("contact", "confidence"), ("contact",), ("company",), (),
                                      description="Complete a contact (title, phone, email) from data sources."),
    StepType.GENERATE_EMAIL_SEQUENCE: StepSpec(("emails",), ("audience",), ("context",), ("goal",), ai=True,
                                               description="Write a personalised email sequence."),
    StepType.SEND_EMAIL: StepSpec(("message_id",), ("to",), ("body", "subject", "context"), (),
                                  sends_outside=True, description="Send an email through the dealer's SMTP."),
    StepType.SEND_SMS: StepSpec(("message_id",), ("to",), ("body", "context"), (), sends_outside=True,
                                description="Send a text message through the dealer's SMS gateway."),
    StepType.CRM_UPDATE: StepSpec(("record_id",), ("record",), ("values",), ("object",),
                                  description="Create or update a record in the dealer's CRM."),
    StepType.CREATE_TASK: StepSpec(("task_id",), (), ("about", "context"), ("title",),
                                   description="Create a task for a person or team in the CRM."),
    StepType.SCHEDULE_APPOINTMENT: StepSpec(("appointment_id", "appointment_time"), ("customer",), ("vehicle",),
                                            (), description="Book a slot in the dealer's scheduler."),
    StepType.CONDITION: StepSpec(("result",), ("value",), (), ("expression",),
                                 description="Branch: later steps can depend on the result."),
    StepType.WAIT: StepSpec(("resumed_at",), (), ("until",), (),
                            description="Pause for `duration_days`/`duration_hours`, or until a time."),
    StepType.HTTP_REQUEST: StepSpec(("status", "body"), (), ("payload",), ("url",), sends_outside=True,
                                    description="Call an HTTP endpoint."),
    StepType.HUMAN_APPROVAL: StepSpec(("approved", "approver"), (), ("subject",), ("approver_role",),
                                      description="Pause the run until a person approves."),
}

TRIGGER_TYPES = frozenset(TriggerType)
TRIGGER_FIELDS_KEY = "fields"  # trigger.config["fields"]: the comma-separated fields the trigger provides
