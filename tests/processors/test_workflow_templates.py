"""The packaged workflow template library: every template loads, validates and stays in the vocabulary."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from processors.workflows.catalog import STEP_SPECS
from processors.workflows.templates import WorkflowTemplate, load_templates
from processors.workflows.validate import ancestors, phases, trigger_fields, validate
from schemas.models import BusinessDomain, GeneratedWorkflow, StepType, TriggerType

TEMPLATES = load_templates()
MODEL_FOR = {StepType.AI_TEXT: "smart", StepType.GENERATE_EMAIL_SEQUENCE: "smart", StepType.AI_CLASSIFY: "fast",
             StepType.OCR_DOCUMENT: "ppocr-v6-small", StepType.TRANSCRIBE_CALL: "whisper-tiny.en"}
TRIGGER_CONFIG = {TriggerType.EVENT: "event", TriggerType.SCHEDULE: "cron", TriggerType.WEBHOOK: "path"}

VALID_YAML = """\
- template_id: good_one
  name: Good one
  domain: service
  description: Texts the customer.
  keywords: [text]
  trigger:
    type: event
    config: {event: appointment.created, fields: "customer_phone"}
  steps:
    - {step_id: write, type: ai_text, name: Write, model: smart, config: {prompt: Hi},
       inputs: {context: trigger.customer_phone}}
    - {step_id: text, type: send_sms, name: Text, inputs: {to: trigger.customer_phone, body: write.text},
       depends_on: [write]}
"""


def as_workflow(template: WorkflowTemplate) -> GeneratedWorkflow:
    return GeneratedWorkflow(dealer_id="d1", source_event_id=uuid.uuid4(), processor="test", session_id="s",
                             workflow_id="w", name=template.name, description=template.description,
                             trigger=template.trigger, steps=template.steps)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.template_id)
def test_every_template_validates(template: WorkflowTemplate) -> None:
    assert validate(as_workflow(template)) == []


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.template_id)
def test_every_template_is_well_formed(template: WorkflowTemplate) -> None:
    assert 3 <= len(template.steps) <= 8
    assert 4 <= len(template.keywords) <= 10
    assert trigger_fields(template.trigger), "the trigger must declare the fields it provides"
    key = TRIGGER_CONFIG.get(template.trigger.type)
    assert key is None or template.trigger.config.get(key)
    for step in template.steps:
        assert step.model == MODEL_FOR.get(step.type), step.step_id
    # no redundant edges: a step does not also depend on what another of its dependencies already waits for
    upstream = ancestors(template.steps)
    for step in template.steps:
        redundant = {dep for dep in step.depends_on for other in step.depends_on if dep in upstream[other]}
        assert not redundant, (step.step_id, redundant)


def test_library_covers_the_vocabulary() -> None:
    assert len(TEMPLATES) >= 25
    ids = [t.template_id for t in TEMPLATES]
    assert len(ids) == len(set(ids))
    domains = Counter(t.domain for t in TEMPLATES)
    assert all(domains[d] >= 3 for d in BusinessDomain), domains
    assert {t.trigger.type for t in TEMPLATES} == set(TriggerType)
    assert {s.type for t in TEMPLATES for s in t.steps} == set(StepType) == set(STEP_SPECS)
    with_approval = [t for t in TEMPLATES if any(s.type is StepType.HUMAN_APPROVAL for s in t.steps)]
    parallel = [t for t in TEMPLATES if any(len(phase) > 1 for phase in phases(t.steps))]
    assert len(with_approval) >= 3 and len(parallel) >= 3


def test_search_text_holds_name_description_and_keywords() -> None:
    template = next(t for t in TEMPLATES if t.template_id == "recall_outreach")
    text = template.search_text()
    assert template.name in text and "safety recall" in text and "VIN" in text


def test_loading_is_cached_and_templates_are_frozen() -> None:
    assert load_templates() is TEMPLATES
    with pytest.raises(ValueError):
        TEMPLATES[0].name = "changed"  # type: ignore[misc]


def test_a_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(VALID_YAML)
    (template,) = load_templates(path)
    assert template.template_id == "good_one" and validate(as_workflow(template)) == []


@pytest.mark.parametrize(("text", "message"), [
    (VALID_YAML.replace("domain: service", "domain: bodyshop"), "'good_one'"),
    (VALID_YAML.replace('config: {prompt: Hi}', 'config: {prompt: 3}'), "steps.0.config.prompt"),
    (VALID_YAML.replace("type: send_sms", "type: send_fax"), "'good_one'"),
    (VALID_YAML.replace("  name: Good one\n", ""), "'good_one'"),
    (VALID_YAML + VALID_YAML.replace("domain: service", "domain: parts"), "repeats template_id 'good_one'"),
    (VALID_YAML.replace("- template_id: good_one", "- template_id:"), "entry 1"),
    ("template_id: good_one\n", "must hold a YAML list"),
    ("- [unclosed\n", "not valid YAML"),
])
def test_a_malformed_file_names_the_template(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_templates(path)
    assert message in str(caught.value)


def test_a_fixed_recipient_without_approval_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(VALID_YAML.replace(
        "- {step_id: text, type: send_sms,",
        "- {step_id: mail, type: send_email, name: Mail, config: {to_address: gm@example.com},"
        " inputs: {to: trigger.customer_phone, body: write.text}, depends_on: [write]}\n"
        "    - {step_id: text, type: send_sms,"))
    (template,) = load_templates(path)
    errors = validate(as_workflow(template))
    assert errors == ["step mail sends to a fixed recipient rather than the workflow's own customer and no "
                      "human_approval step comes before it"]
