"""Step executors: the agents that do what DESIGN.md's workflow steps say, over the ports streams/ injects.

Inputs arrive resolved (``resolve_inputs``): a step's ``trigger.<field>`` and ``<step_id>.<output>``
references are replaced by the trigger's data and earlier steps' outputs. ``wait`` and ``human_approval`` are
the orchestrator's own (they pause the run durably); ``wait_until`` computes a wait's due time. Outputs follow
``processors.workflows.catalog``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dateparser
from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, Field

from processors.agents.base import AgentResult, BaseAgent, PermanentTaskError, TaskError, TaskRequest
from processors.ports import Crm, HttpCaller, Mailer, SmsSender, StructuredLlm
from schemas.models import AgentTask, GeneratedWorkflow, StepType

_REFERENCE = re.compile(r"^([A-Za-z_][\w-]*)\.([\w.]+)$")
_SANDBOX = ImmutableSandboxedEnvironment()


class InputReferenceError(ValueError):
    """A step's inputs are not a mapping of names to values or references."""


def resolve_inputs(step: Mapping[str, Any], trigger: Mapping[str, Any],
                   outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The step's inputs with ``trigger.x`` and ``<step>.<output>`` references replaced by values.

    A reference to a field the trigger or the step did not provide becomes None (the agent says which input it
    needs); a string that is not a reference to the trigger or a known step stays as it is.

    >>> resolve_inputs({"inputs": {"to": "trigger.email", "body": "write.text", "note": "hello"}},
    ...                {"email": "a@b.example"}, {"write": {"text": "Hi"}})
    {'to': 'a@b.example', 'body': 'Hi', 'note': 'hello'}
    """
    inputs = step.get("inputs", {})
    if not isinstance(inputs, Mapping):
        raise InputReferenceError(f"a step's inputs must be an object, got {type(inputs).__name__}")
    if step.get("literal"):
        return dict(inputs)
    resolved: dict[str, Any] = {}
    for name, value in inputs.items():
        match = _REFERENCE.match(value) if isinstance(value, str) else None
        if match and (match[1] == "trigger" or match[1] in outputs):
            source: Any = trigger if match[1] == "trigger" else outputs[match[1]]
            for part in match[2].split("."):
                source = source.get(part) if isinstance(source, Mapping) else None
            resolved[name] = source
        else:
            resolved[name] = value
    return resolved


def wait_until(config: Mapping[str, str], inputs: Mapping[str, Any], now: float) -> float:
    """When a wait ends: ``until`` (a time, plus ``offset_days``/``offset_hours``) or ``duration_*`` from now.
    A time already past ends the wait at once."""
    def number(key: str) -> float:
        try:
            return float(config.get(key) or 0)
        except ValueError:
            raise PermanentTaskError(f"wait: {key} must be a number, got {config.get(key)!r}") from None

    offset = number("offset_days") * 86400 + number("offset_hours") * 3600
    until = inputs.get("until") or config.get("until")
    if until:
        moment = parse_time(str(until), now)
        if moment is None:
            raise PermanentTaskError(f"wait: cannot read the time {until!r}")
        return max(now, moment.timestamp() + offset)
    duration = (number("duration_days") * 86400 + number("duration_hours") * 3600
                + number("duration_minutes") * 60 + number("duration_seconds"))
    if duration <= 0 and not offset:
        raise PermanentTaskError("wait needs duration_days, duration_hours, duration_minutes, duration_seconds "
                                 "or an `until` time")
    return now + max(0.0, duration + offset)


def parse_time(text: str, now: float) -> datetime | None:
    """An ISO time, or words such as "next Tuesday 10am", relative to ``now``; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = dateparser.parse(text, settings={"PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": True,
                                                  "TIMEZONE": "UTC", "RELATIVE_BASE": datetime.fromtimestamp(now)})
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def message_id(request: TaskRequest) -> str:
    """A Message-ID derived from the task, the same on every attempt, so a resend is recognisable."""
    return f"<{hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:32]}@auterity>"


def text_of(value: Any) -> str:
    """An input as text: strings as they are, structures as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


@functools.lru_cache(maxsize=1024)
def _compiled(expression: str) -> Any:
    """A condition's expression, compiled once: every run of a workflow evaluates the same few."""
    return _SANDBOX.compile_expression(expression, undefined_to_none=True)


class ConditionAgent(BaseAgent):
    """``condition``: evaluates ``config.expression`` (Python-like, sandboxed) over ``value`` and the inputs."""

    def __init__(self, agent_id: str = "condition") -> None:
        super().__init__(agent_id, [StepType.CONDITION.value])

    async def execute(self, request: TaskRequest) -> AgentResult:
        expression = request.config.get("expression", "").strip()
        if not expression:
            raise PermanentTaskError(f"condition {request.task_id!r} has no expression")
        try:
            evaluate = _compiled(expression)
            result = evaluate(**{**request.inputs, "value": request.inputs.get("value"), "inputs": request.inputs})
        except TemplateError as exc:
            raise PermanentTaskError(f"condition {request.task_id!r}: cannot evaluate {expression!r}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise PermanentTaskError(f"condition {request.task_id!r}: {expression!r} failed on its inputs: "
                                     f"{type(exc).__name__}: {exc}") from exc
        return AgentResult({"result": bool(result)})


class MessagingAgent(BaseAgent):
    """``send_email`` through the dealer's SMTP and ``send_sms`` through its SMS gateway."""

    def __init__(self, mailer: Mailer | None, sms: SmsSender | None, agent_id: str = "messaging") -> None:
        capabilities = [t.value for t, port in ((StepType.SEND_EMAIL, mailer), (StepType.SEND_SMS, sms)) if port]
        super().__init__(agent_id, capabilities)
        self.mailer, self.sms = mailer, sms

    async def execute(self, request: TaskRequest) -> AgentResult:
        to = str(request.require("to")).strip()
        body = text_of(request.inputs.get("body")) or request.config.get("body", "")
        if not body.strip():
            raise PermanentTaskError(f"{request.task_type} task {request.task_id!r} has no body to send")
        if request.task_type == StepType.SEND_EMAIL and self.mailer is not None:
            subject = text_of(request.inputs.get("subject")) or request.config.get("subject") or "A message from us"
            sent = await self.mailer.send_email(to=to, subject=subject, body=body, message_id=message_id(request))
        elif request.task_type == StepType.SEND_SMS and self.sms is not None:
            sent = await self.sms.send_sms(to=to, body=body, message_id=message_id(request))
        else:
            raise PermanentTaskError(f"{request.task_type} is not configured on this worker")
        return AgentResult({"message_id": sent})


class HttpAgent(BaseAgent):
    """``http_request``: ``config.url`` with ``config.method`` (POST when there is a payload, else GET)."""

    def __init__(self, caller: HttpCaller, agent_id: str = "http") -> None:
        super().__init__(agent_id, [StepType.HTTP_REQUEST.value])
        self.caller = caller

    async def execute(self, request: TaskRequest) -> AgentResult:
        url = request.config.get("url") or request.inputs.get("url")
        if not url:
            raise PermanentTaskError(f"http_request {request.task_id!r} has no url")
        payload = request.inputs.get("payload")
        method = (request.config.get("method") or ("POST" if payload is not None else "GET")).upper()
        headers = {"Idempotency-Key": request.idempotency_key}
        status, body = await self.caller.call(method=method, url=str(url), payload=payload, headers=headers)
        if status >= 400:
            raise PermanentTaskError(f"{method} {url} answered {status}: {body[:200]}")
        return AgentResult({"status": status, "body": body})


class CrmAgent(BaseAgent):
    """``crm_update``, ``create_task`` and ``schedule_appointment`` in the dealer's CRM (idempotent per task)."""

    def __init__(self, crm: Crm, agent_id: str = "crm") -> None:
        super().__init__(agent_id, [StepType.CRM_UPDATE.value, StepType.CREATE_TASK.value,
                                    StepType.SCHEDULE_APPOINTMENT.value])
        self.crm = crm

    async def execute(self, request: TaskRequest) -> AgentResult:
        key, config, inputs = request.idempotency_key, request.config, request.inputs
        if request.task_type == StepType.CRM_UPDATE:
            record = request.require("record")
            values = inputs.get("values")
            fields = _as_record(record, config.get("match_on") or "id")
            if isinstance(values, Mapping):
                fields.update(values)
            elif values not in (None, ""):
                fields["notes"] = text_of(values)
            record_id = await self.crm.upsert_record(key=key, dealer_id=request.dealer_id,
                                                     object_type=config.get("object") or "record", record=fields,
                                                     match_on=config.get("match_on") or
                                                     ("id" if not isinstance(record, Mapping) else None))
            return AgentResult({"record_id": record_id})
        if request.task_type == StepType.CREATE_TASK:
            title = config.get("title") or text_of(inputs.get("title"))
            if not title:
                raise PermanentTaskError(f"create_task {request.task_id!r} has no title")
            due = None
            if config.get("due_in_minutes"):
                due = (datetime.now(UTC) + timedelta(minutes=float(config["due_in_minutes"]))).isoformat()
            task_id = await self.crm.create_task(key=key, dealer_id=request.dealer_id, title=title,
                                                 assignee_role=config.get("assignee_role"),
                                                 priority=config.get("priority"), due_at=due,
                                                 about=text_of(inputs.get("about")) or None,
                                                 context=text_of(inputs.get("context")) or None)
            return AgentResult({"task_id": task_id})
        customer = text_of(request.require("customer"))
        try:
            minutes = int(config.get("duration_minutes") or 60)
        except ValueError:
            raise PermanentTaskError(f"duration_minutes must be whole minutes, got {config['duration_minutes']!r}"
                                     ) from None
        appointment_id, starts = await self.crm.book_appointment(
            key=key, dealer_id=request.dealer_id, customer=customer, vehicle=text_of(inputs.get("vehicle")) or None,
            appointment_type=config.get("appointment_type"),
            preferred=text_of(inputs.get("preferred_time")) or config.get("preferred_time"), duration_minutes=minutes)
        return AgentResult({"appointment_id": appointment_id, "appointment_time": starts})


def _as_record(record: Any, match_on: str) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    if isinstance(record, str) and record.strip().startswith("{"):
        try:
            parsed = json.loads(record)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {match_on: text_of(record)}


class TextAnswer(BaseModel):
    """An ai_text step's answer."""

    text: str = Field(min_length=1)


class LabelAnswer(BaseModel):
    """An ai_classify step's answer: one of the labels offered."""

    label: str
    confidence: float = Field(ge=0, le=1)


Redact = Callable[[str, str], str]  # (dealer_id, text) -> text without the PII the dealer's policy covers
DocumentReader = Callable[[str, str], Awaitable[dict[str, Any]]]  # (dealer_id, uri) -> outputs


class AiStepAgent(BaseAgent):
    """The AI steps through the project's processors: ``ai_text`` and ``ai_classify`` through the LLM router
    (redacted first), ``ocr_document`` and ``transcribe_call`` through the OCR and call processors."""

    learns = True

    def __init__(self, llm: StructuredLlm, redact: Redact, group: str = "smart",
                 read_document: DocumentReader | None = None, transcribe_call: DocumentReader | None = None,
                 agent_id: str = "ai-steps") -> None:
        capabilities = [StepType.AI_TEXT.value, StepType.AI_CLASSIFY.value]
        capabilities += [StepType.OCR_DOCUMENT.value] if read_document else []
        capabilities += [StepType.TRANSCRIBE_CALL.value] if transcribe_call else []
        super().__init__(agent_id, capabilities)
        self.llm, self.redact, self.group = llm, redact, group
        self.read_document, self.transcribe_call = read_document, transcribe_call

    async def execute(self, request: TaskRequest) -> AgentResult:
        if request.task_type == StepType.OCR_DOCUMENT and self.read_document:
            return AgentResult(await self.read_document(request.dealer_id, text_of(request.require("document"))))
        if request.task_type == StepType.TRANSCRIBE_CALL and self.transcribe_call:
            return AgentResult(await self.transcribe_call(request.dealer_id, text_of(request.require("recording"))))
        group = request.model or self.group
        if request.task_type == StepType.AI_CLASSIFY:
            labels = [label.strip() for label in request.config.get("labels", "").split(",") if label.strip()]
            if len(labels) < 2:
                raise PermanentTaskError(f"ai_classify {request.task_id!r} needs at least two comma-separated labels")
            text = self.redact(request.dealer_id, text_of(request.require("text")))
            answer = await self._ask(LabelAnswer, "ai_classify", "Classify the text into exactly one of the labels.",
                                     json.dumps({"labels": labels, "text": text}), group, request)
            value = answer.value
            assert isinstance(value, LabelAnswer)
            if value.label not in labels:
                raise TaskError(f"the model answered {value.label!r}, which is not one of {labels}")
            return _ai_result({"label": value.label, "confidence": value.confidence}, answer)
        context = self.redact(request.dealer_id, text_of(request.require("context")))
        instructions = self.redact(request.dealer_id, text_of(request.inputs.get("instructions")))
        brief = {"prompt": request.config.get("prompt", ""), "context": context, "instructions": instructions}
        answer = await self._ask(TextAnswer, "ai_text", "Write the text the prompt asks for, from the context. "
                                 "Placeholders like [EMAIL_1] stand for redacted values: keep them as they are.",
                                 json.dumps(brief), group, request)
        value = answer.value
        assert isinstance(value, TextAnswer)
        return _ai_result({"text": value.text}, answer)

    async def _ask(self, model: type[BaseModel], task: str, system: str, user: str, group: str,
                   request: TaskRequest) -> Any:
        try:
            return await self.llm.structured(model, task=task, system=system, user=user, group=group,
                                             dealer_id=request.dealer_id)
        except Exception as exc:
            raise TaskError(f"the LLM could not answer: {type(exc).__name__}: {exc}") from exc


def _ai_result(output: dict[str, Any], answer: Any) -> AgentResult:
    return AgentResult(output, cost_usd=answer.cost_usd, model=answer.model, notes=tuple(answer.notes))


DEFAULT_TIMEOUTS_S = {StepType.OCR_DOCUMENT.value: 600.0, StepType.TRANSCRIBE_CALL.value: 1800.0}


def workflow_tasks(workflow: GeneratedWorkflow, trigger: Mapping[str, Any], run_id: str | None,
                   dealer_id: str | None = None) -> list[AgentTask]:
    """One AgentTask per step of a generated workflow, for one run: the step's config and input references
    travel in ``input_json`` with the trigger's data; ``task_count`` lets the run start once all have arrived.
    An invalid workflow is refused with its validation errors."""
    if not workflow.valid:
        raise ValueError(f"workflow {workflow.workflow_id} is not valid: {'; '.join(workflow.validation_errors)}")
    if not workflow.steps:
        raise ValueError(f"workflow {workflow.workflow_id} has no steps")
    return [AgentTask(dealer_id=dealer_id or workflow.dealer_id, task_id=step.step_id, workflow_id=workflow.workflow_id,
                      run_id=run_id, task_type=step.type.value, depends_on=list(step.depends_on),
                      task_count=len(workflow.steps), timeout_seconds=DEFAULT_TIMEOUTS_S.get(step.type.value),
                      input_json=json.dumps({"name": step.name, "config": step.config, "inputs": step.inputs,
                                             "model": step.model, "trigger": dict(trigger)}, default=str))
            for step in workflow.steps]


def missing_trigger_fields(workflow: GeneratedWorkflow, trigger: Mapping[str, Any]) -> list[str]:
    """The fields the workflow's trigger declares that ``trigger`` does not give."""
    declared = (workflow.trigger.config.get("fields", "") if workflow.trigger else "").split(",")
    return [name.strip() for name in declared if name.strip() and trigger.get(name.strip()) in (None, "")]
