"""Workflow generation: conversations.analyzed -> workflows.generated.

create: the best template from the library (semantic search in the vector store, within the request's domain),
adapted to the requirements (channels, delays, approvals), validated, optimised and published with its
interface. modify: a new version of the session's workflow. optimize: a cheaper or faster version with the
estimated saving. debug: a DebugAnalysis of the workflow and its error context (failed tasks, DLQ entries).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from processors.base import Outcome, Usage
from processors.ports import ContextStore, Embedder, VectorStore
from processors.ui import interface_for
from processors.workflows.catalog import STEP_SPECS
from processors.workflows.debug import ErrorContext, debug_workflow
from processors.workflows.templates import WorkflowTemplate, load_templates
from processors.workflows.validate import ancestors, egress_reason, phases, trigger_fields, validate
from schemas.models import (
    Event,
    GeneratedWorkflow,
    RequirementAnalysis,
    StepType,
    WorkflowIntent,
    WorkflowStep,
)

COLLECTION = "workflow_templates"
TOKENS_PER_RUN = {StepType.AI_TEXT: (600, 250), StepType.AI_CLASSIFY: (400, 10),
                  StepType.GENERATE_EMAIL_SEQUENCE: (900, 1200)}  # (input, output) tokens one run of a step uses
CHANNEL_STEP = {"email": StepType.SEND_EMAIL, "sms": StepType.SEND_SMS}
CHANNEL_FIELDS = {StepType.SEND_EMAIL: ("customer_email", "email", "lead_email", "contact_email"),
                  StepType.SEND_SMS: ("customer_phone", "phone", "lead_phone", "mobile_phone", "contact_phone")}
REMOVE = re.compile(r"\b(remove|drop|delete|skip|get rid of|no more|stop)\b\s+(the\s+)?([\w\s-]{3,40}?)"
                    r"(\s+step|\s+part|$|[.,;])", re.IGNORECASE)
ONLY = re.compile(r"\bonly\s+(by\s+|via\s+)?(email|e-mail|text|sms)\b", re.IGNORECASE)


class SessionWorkflows(BaseModel):
    """The workflows table's value for one session: each workflow's latest version, and which analysis
    produced which version (a redelivered analysis gets the same answer, not a new version)."""

    dealer_id: str
    latest: dict[str, GeneratedWorkflow] = {}
    produced: dict[str, tuple[str, int]] = {}  # source analysis event id -> (workflow_id, version)


@dataclass
class WorkflowGenerator:
    """The processor: RequirementAnalysis in, GeneratedWorkflow + GeneratedInterface (or DebugAnalysis) out."""

    embedder: Embedder
    vectors: VectorStore
    workflows: ContextStore
    price_per_token: Callable[[str], tuple[float, float]]
    error_context: Callable[[str, str], ErrorContext] = field(default=lambda dealer_id, workflow_id: ErrorContext())
    allowed_hosts: frozenset[str] = frozenset()
    templates: Sequence[WorkflowTemplate] = field(default_factory=load_templates)
    name: str = "workflows.generator"
    operation_type: str = "workflow_generation"
    cpu_bound: bool = True

    def __post_init__(self) -> None:
        self.by_id = {t.template_id: t for t in self.templates}
        self.vectors.ensure_collection(COLLECTION)
        if self.vectors.count(COLLECTION) != len(self.templates) or not self._indexed_current():
            vectors = self.embedder.embed([t.search_text() for t in self.templates])
            self.vectors.upsert(COLLECTION, [(t.template_id, vectors[i].tolist(), {"domain": t.domain.value})
                                             for i, t in enumerate(self.templates)])

    def _indexed_current(self) -> bool:
        probe = self.templates[0]
        hits = self.vectors.search(COLLECTION, self.embedder.embed([probe.search_text()])[0].tolist(), limit=1)
        return bool(hits) and hits[0].id == probe.template_id and hits[0].score > 0.999

    def process(self, event: RequirementAnalysis) -> Outcome:
        usage = Usage(model=self.embedder.model_name, provider="local")
        book = self._book(event)
        done = book.produced.get(str(event.event_id))
        if done is not None and done[0] in book.latest and book.latest[done[0]].version == done[1]:
            return self._publish(book.latest[done[0]], event, usage)  # a redelivery: the same answer again
        if event.intent is None or (event.error and event.intent is not WorkflowIntent.CREATE_WORKFLOW):
            return Outcome([self._not_generated(event, event.error or "the message was not understood")], usage,
                           error_class="NotGenerated")
        current = book.latest.get(event.workflow_id or "")
        if event.intent is WorkflowIntent.DEBUG_WORKFLOW:
            analysis = debug_workflow(current, self.error_context(event.dealer_id, event.workflow_id or ""),
                                      event, self.allowed_hosts)
            return Outcome([analysis], usage)
        if event.intent is WorkflowIntent.CREATE_WORKFLOW or current is None:
            workflow = self.create(event)
        elif event.intent is WorkflowIntent.MODIFY_WORKFLOW:
            workflow = self.modify(current, event)
        else:
            workflow = self.optimize(current, event)
        if event.injection_suspected:  # whatever the intent: nothing leaves without a person's approval
            steps, note = _gate_egress(workflow.steps, set(), every=True)
            workflow = self.finish(workflow.model_copy(update={"steps": steps, "changes": [*workflow.changes, *note]}))
        book.latest[workflow.workflow_id] = workflow
        book.produced[str(event.event_id)] = (workflow.workflow_id, workflow.version)
        book.produced = dict(list(book.produced.items())[-200:])
        self.workflows.put(event.session_id, book.model_dump_json())
        return self._publish(workflow, event, usage)

    def _publish(self, workflow: GeneratedWorkflow, event: RequirementAnalysis, usage: Usage) -> Outcome:
        results: list[Event] = [workflow.model_copy(update={"source_event_id": event.event_id})]
        if workflow.valid:
            results.append(interface_for(workflow))
        return Outcome(results, usage, error_class=None if workflow.valid else "InvalidWorkflow")

    # -- create ---------------------------------------------------------------------------------------------

    def match(self, event: RequirementAnalysis) -> tuple[WorkflowTemplate, float]:
        """The best template for the analysis, and its cosine similarity."""
        entity_words = " ".join(e.normalized or e.value for e in event.entities
                                if e.type in ("service", "crm_object", "channel"))
        query = ". ".join([*event.requirements, *event.success_criteria, entity_words]).replace("_", " ")
        vector = self.embedder.embed([query or "workflow"])[0].tolist()
        hits = []
        if event.business_domain is not None:
            hits = list(self.vectors.search(COLLECTION, vector, limit=3,
                                            filter=f'payload["domain"] == "{event.business_domain.value}"'))
        hits = hits or list(self.vectors.search(COLLECTION, vector, limit=3))
        best = hits[0]
        return self.by_id[best.id], best.score

    def create(self, event: RequirementAnalysis) -> GeneratedWorkflow:
        template, score = self.match(event)
        workflow = GeneratedWorkflow(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
            session_id=event.session_id, workflow_id=event.workflow_id or str(uuid.uuid4()), version=1,
            name=template.name, description=template.description.strip(), trigger=template.trigger.model_copy(),
            steps=[s.model_copy(deep=True) for s in template.steps], template_id=template.template_id,
            changes=[f"started from template {template.template_id} (similarity {score:.2f})"])
        workflow = self.adapt(workflow, event)
        return self.finish(self.economise(workflow))

    def economise(self, workflow: GeneratedWorkflow) -> GeneratedWorkflow:
        """The optimisation every new workflow gets: classification on the cheapest group the cost table
        allows, and no dependency that another one already implies (more steps per phase)."""
        steps = [s.model_copy(deep=True) for s in workflow.steps]
        changes = list(workflow.changes)
        for step in steps:
            cheaper = self._cheaper_group(step) if step.type is StepType.AI_CLASSIFY else None
            if cheaper is not None:
                changes.append(f"{step.step_id}: model {step.model} -> {cheaper} (classification)")
                step.model = cheaper
        steps, note = _reduce_dependencies(steps)
        return workflow.model_copy(update={"steps": steps, "changes": changes + note})

    def adapt(self, workflow: GeneratedWorkflow, event: RequirementAnalysis) -> GeneratedWorkflow:
        """Apply what the analysis asks for: delays, channels, removed steps, approval for risky requests."""
        steps, changes = list(workflow.steps), list(workflow.changes)
        days = _entity(event, "duration_days")
        if days is not None:
            for step in steps:
                if step.type is StepType.WAIT:
                    key = "offset_days" if "offset_days" in step.config else "duration_days"
                    old = step.config.get(key)
                    new = f"-{days}" if (old or "").startswith("-") else days
                    if old != new:
                        step.config = {**step.config, key: new}
                        step.config.pop("duration_hours", None)
                        before = "before" if new.startswith("-") else "after"
                        changes.append(f"{step.step_id}: {days} days {before} instead of "
                                       f"{(old or 'no').lstrip('-')}")
                    break
            else:
                changes.append(f"asked for {days} days, but the workflow has no wait step to change")
        text = " ".join([*event.requirements, *event.constraints])
        channels = {e.normalized or "" for e in event.entities if e.type == "channel"} & set(CHANNEL_STEP)
        only = ONLY.search(text)
        fields = trigger_fields(workflow.trigger)
        if only:
            keep = "sms" if only.group(2).lower() in ("text", "sms") else "email"
            steps, note = _drop_channel(steps, CHANNEL_STEP["email" if keep == "sms" else "sms"])
            changes += note
            channels = {keep}
        for channel in sorted(channels):
            steps, note = _ensure_channel(steps, CHANNEL_STEP[channel], fields)
            changes += note
        for match in REMOVE.finditer(text):
            steps, note = _remove_matching(steps, match.group(3).strip().lower())
            changes += note
        steps, note = _gate_egress(steps, set(self.allowed_hosts))
        changes += note
        return workflow.model_copy(update={"steps": steps, "changes": changes})

    # -- modify / optimize ----------------------------------------------------------------------------------

    def modify(self, current: GeneratedWorkflow, event: RequirementAnalysis) -> GeneratedWorkflow:
        base = current.model_copy(deep=True, update={
            "version": current.version + 1, "source_event_id": event.event_id, "changes": [],
            "estimated_saving_usd": 0.0})
        workflow = self.adapt(base, event)
        if not workflow.changes:
            workflow.changes = ["nothing in the request maps to a change of this workflow; it is unchanged"]
        return self.finish(workflow)

    def optimize(self, current: GeneratedWorkflow, event: RequirementAnalysis) -> GeneratedWorkflow:
        """Cheaper AI steps where the cost table has a cheaper group, and fewer needless dependencies."""
        steps = [s.model_copy(deep=True) for s in current.steps]
        changes: list[str] = []
        for step in steps:
            cheaper = self._cheaper_group(step)
            if cheaper is not None:
                changes.append(f"{step.step_id}: model {step.model} -> {cheaper}")
                step.model = cheaper
        steps, note = _reduce_dependencies(steps)
        changes += note
        before_phases = len(phases(current.steps))
        workflow = self.finish(current.model_copy(update={
            "version": current.version + 1, "source_event_id": event.event_id, "steps": steps, "changes": changes}))
        saving = round(current.estimated_cost_usd - workflow.estimated_cost_usd, 6)
        if len(workflow.phases) < before_phases:
            workflow.changes.append(f"{before_phases} phases -> {len(workflow.phases)}: more steps run at once")
        if not workflow.changes:
            workflow.changes = ["already optimal for the configured models: nothing cheaper or faster found"]
        return workflow.model_copy(update={"estimated_saving_usd": max(saving, 0.0)})

    def _cheaper_group(self, step: WorkflowStep) -> str | None:
        if step.type not in TOKENS_PER_RUN or step.model is None:
            return None
        candidates = ["fast"]  # the local group is the fallback of every chain, not a model to plan a step on
        current = self._step_cost(step.type, step.model)
        options = [(self._step_cost(step.type, g), g) for g in candidates if g != step.model]
        cheaper = [(cost, g) for cost, g in options if cost < current]
        return min(cheaper)[1] if cheaper else None

    def _step_cost(self, step_type: StepType, group: str) -> float:
        tokens_in, tokens_out = TOKENS_PER_RUN.get(step_type, (0, 0))
        price_in, price_out = self.price_per_token(group)
        return tokens_in * price_in + tokens_out * price_out

    # -- shared ---------------------------------------------------------------------------------------------

    def finish(self, workflow: GeneratedWorkflow) -> GeneratedWorkflow:
        """Validate, compute phases and the estimated cost per run."""
        errors = validate(workflow, self.allowed_hosts)
        try:
            layers = phases(workflow.steps)
        except ValueError:
            layers = []
        cost = sum(self._step_cost(s.type, s.model) for s in workflow.steps if s.model and s.type in TOKENS_PER_RUN)
        return workflow.model_copy(update={"valid": not errors, "validation_errors": errors, "phases": layers,
                                           "estimated_cost_usd": round(cost, 6)})

    def _book(self, event: RequirementAnalysis) -> SessionWorkflows:
        stored = self.workflows.get(event.session_id)
        book = SessionWorkflows.model_validate_json(stored) if stored else None
        if book is None or book.dealer_id != event.dealer_id:
            return SessionWorkflows(dealer_id=event.dealer_id)
        return book

    def _not_generated(self, event: RequirementAnalysis, reason: str) -> GeneratedWorkflow:
        workflow_id = event.workflow_id or str(uuid.uuid5(uuid.NAMESPACE_URL, str(event.event_id)))
        return GeneratedWorkflow(dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
                                 session_id=event.session_id, workflow_id=workflow_id, version=0,
                                 name="not generated", valid=False, validation_errors=[reason])


def _entity(event: RequirementAnalysis, kind: str) -> str | None:
    return next((e.normalized for e in event.entities if e.type == kind and e.normalized), None)


def _drop_channel(steps: list[WorkflowStep], step_type: StepType) -> tuple[list[WorkflowStep], list[str]]:
    dropped = [s for s in steps if s.type is step_type]
    if not dropped or len(dropped) == len(steps):
        return steps, []
    ids = {s.step_id for s in dropped}
    kept = [s.model_copy(update={"depends_on": [d for d in s.depends_on if d not in ids]}) for s in steps
            if s.step_id not in ids]
    return kept, [f"removed {', '.join(sorted(ids))}: only the other channel was asked for"]


def _ensure_channel(steps: list[WorkflowStep], step_type: StepType,
                    fields: list[str]) -> tuple[list[WorkflowStep], list[str]]:
    """Add a send step for the channel beside an existing send step of the other channel."""
    if any(s.type is step_type for s in steps):
        return steps, []
    other = next((s for s in steps if s.type in CHANNEL_FIELDS and s.type is not step_type), None)
    recipient = next((f for f in CHANNEL_FIELDS[step_type] if f in fields), None)
    if other is None or recipient is None:
        channel = "text" if step_type is StepType.SEND_SMS else "email"
        return steps, [f"{channel} was asked for, but the trigger provides no "
                       f"{'phone number' if step_type is StepType.SEND_SMS else 'email address'} to send it to"]
    step_id = f"{other.step_id}_{'sms' if step_type is StepType.SEND_SMS else 'email'}"
    body = {k: v for k, v in other.inputs.items() if k in ("body", "context")}
    added = WorkflowStep(step_id=step_id, type=step_type, name=f"{other.name} ({step_type.value.split('_')[1]})",
                         inputs={"to": f"trigger.{recipient}", **body}, depends_on=list(other.depends_on))
    return [*steps, added], [f"added {step_id}: also sends by {step_type.value.split('_')[1]}, beside "
                             f"{other.step_id}"]


def _remove_matching(steps: list[WorkflowStep], words: str) -> tuple[list[WorkflowStep], list[str]]:
    """Remove the steps a phrase names ("the survey step") and hand their dependencies to their dependents."""
    terms = {w for w in re.findall(r"[a-z]+", words) if len(w) > 2} - {"the", "step", "and", "all"}
    doomed = {s.step_id: s for s in steps
              if terms and terms & set(re.findall(r"[a-z]+", f"{s.step_id} {s.name}".lower()))}
    while True:  # a step whose required input came from a removed step goes too (a condition on its output)
        orphans = {s.step_id: s for s in steps if s.step_id not in doomed and any(
            s.inputs.get(name, "").split(".")[0] in doomed for name in STEP_SPECS[s.type].required_inputs)}
        if not orphans:
            break
        doomed.update(orphans)
    if not doomed or len(doomed) == len(steps):
        return steps, []
    kept: list[WorkflowStep] = []
    for step in steps:
        if step.step_id in doomed:
            continue
        deps = [kept_dep for dep in step.depends_on for kept_dep in _surviving(dep, doomed)]
        inputs = {k: v for k, v in step.inputs.items() if v.split(".")[0] not in doomed}
        kept.append(step.model_copy(update={"depends_on": list(dict.fromkeys(deps)), "inputs": inputs}))
    return kept, [f"removed {', '.join(sorted(doomed))} as asked"]


def _surviving(step_id: str, doomed: dict[str, WorkflowStep]) -> list[str]:
    """The step itself, or for a removed step the nearest steps it depended on that survive."""
    if step_id not in doomed:
        return [step_id]
    return [kept for dep in doomed[step_id].depends_on for kept in _surviving(dep, doomed)]


def _gate_egress(steps: list[WorkflowStep], allowed_hosts: set[str],
                 every: bool = False) -> tuple[list[WorkflowStep], list[str]]:
    """Put a human_approval step before every step that would send data out (all sends when ``every``)."""
    risky = [s for s in steps if (STEP_SPECS[s.type].sends_outside if every else egress_reason(s, allowed_hosts))]
    if not risky:
        return steps, []
    approval_id = "approve_outbound"
    if not any(s.step_id == approval_id for s in steps):
        roots = sorted({d for s in risky for d in s.depends_on})
        steps = [*steps, WorkflowStep(step_id=approval_id, type=StepType.HUMAN_APPROVAL,
                                      name="A manager approves before anything is sent",
                                      config={"approver_role": "manager"}, depends_on=roots)]
    ids = {s.step_id for s in risky}
    gated = [s.model_copy(update={"depends_on": list(dict.fromkeys([*s.depends_on, approval_id]))})
             if s.step_id in ids and approval_id not in s.depends_on else s for s in steps]
    return gated, [f"{', '.join(sorted(ids))} now wait for {approval_id}"]


def _reduce_dependencies(steps: list[WorkflowStep]) -> tuple[list[WorkflowStep], list[str]]:
    """Drop a dependency that another dependency already implies (a -> b -> c makes a -> c redundant)."""
    closure = ancestors(steps)
    changes: list[str] = []
    reduced: list[WorkflowStep] = []
    for step in steps:
        keep = [d for d in step.depends_on
                if not any(d in closure.get(o, set()) for o in step.depends_on if o != d)]
        if len(keep) < len(step.depends_on):
            changes.append(f"{step.step_id}: dropped redundant dependencies "
                           f"{', '.join(sorted(set(step.depends_on) - set(keep)))}")
        reduced.append(step.model_copy(update={"depends_on": keep}))
    return reduced, changes
