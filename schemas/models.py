"""Pydantic models that mirror the Avro schemas in ``schemas/avro`` one to one.

The ``.avsc`` files are the contract; these models give Python code typed access and validation.
``tests/schemas/test_models.py`` proves that every model's fields match its schema.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _to_utc_millis(value: datetime) -> datetime:
    """Avro timestamp-millis keeps milliseconds in UTC; normalise so round trips compare equal."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    micro = value.microsecond
    return value if micro % 1000 == 0 else value.replace(microsecond=micro - micro % 1000)


Millis = Annotated[datetime, AfterValidator(_to_utc_millis)]




def new_event_id() -> uuid.UUID:
    """A random (version 4) UUID without a system call per event; uniqueness, not secrecy, is what matters
    (the global generator is reseeded in forked children)."""
    return uuid.UUID(int=random.getrandbits(128), version=4)


def utc_now() -> datetime:
    """The current time at Avro's millisecond precision."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


class WorkflowIntent(StrEnum):
    CREATE_WORKFLOW = "create_workflow"
    MODIFY_WORKFLOW = "modify_workflow"
    DEBUG_WORKFLOW = "debug_workflow"
    OPTIMIZE_WORKFLOW = "optimize_workflow"


class BusinessDomain(StrEnum):
    SALES = "sales"
    SERVICE = "service"
    PARTS = "parts"
    FINANCE = "finance"
    MARKETING = "marketing"
    CUSTOMER_SUPPORT = "customer_support"


class DocumentType(StrEnum):
    REPAIR_ORDER = "repair_order"
    INVOICE = "invoice"
    DRIVERS_LICENSE = "drivers_license"
    CREDIT_APPLICATION = "credit_application"
    BUYERS_ORDER = "buyers_order"
    OTHER = "other"


class TriggerType(StrEnum):
    EVENT = "event"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    MANUAL = "manual"


class StepType(StrEnum):
    AI_TEXT = "ai_text"
    AI_CLASSIFY = "ai_classify"
    OCR_DOCUMENT = "ocr_document"
    TRANSCRIBE_CALL = "transcribe_call"
    ENRICH_COMPANY = "enrich_company"
    ENRICH_CONTACT = "enrich_contact"
    GENERATE_EMAIL_SEQUENCE = "generate_email_sequence"
    SEND_EMAIL = "send_email"
    SEND_SMS = "send_sms"
    CRM_UPDATE = "crm_update"
    CREATE_TASK = "create_task"
    SCHEDULE_APPOINTMENT = "schedule_appointment"
    CONDITION = "condition"
    WAIT = "wait"
    HTTP_REQUEST = "http_request"
    HUMAN_APPROVAL = "human_approval"


class TaskStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"


class WorkflowStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FailureStage(StrEnum):
    DECODE = "decode"
    VALIDATE = "validate"
    PROCESS = "process"
    ENCODE = "encode"
    PRODUCE = "produce"


class Record(BaseModel):
    """A nested Avro record: strict about unknown fields so a typo is an error, not lost data."""

    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")


class Event(Record):
    """The envelope every event carries; ``schema_name`` ties the model to its ``.avsc`` file."""

    schema_name: ClassVar[str]
    key_field: ClassVar[str] = "dealer_id"

    event_id: uuid.UUID = Field(default_factory=new_event_id)
    dealer_id: str = Field(min_length=1)
    occurred_at: Millis = Field(default_factory=utc_now)
    schema_version: int = 1

    def key(self) -> str:
        """The Kafka key DESIGN.md gives this event's topic."""
        return str(getattr(self, self.key_field))


class ResultEvent(Event):
    """A result: it names the inbound event it answers and the processor that made it."""

    source_event_id: uuid.UUID
    processor: str


class ConversationMessage(Event):
    schema_name = "ConversationMessage"
    key_field = "session_id"

    session_id: str
    user_id: str
    user_role: str | None = None
    text: str
    workflow_id: str | None = None


class Entity(Record):
    type: str
    value: str
    normalized: str | None = None
    confidence: float = 1.0


class RequirementAnalysis(ResultEvent):
    schema_name = "RequirementAnalysis"
    key_field = "session_id"

    session_id: str
    intent: WorkflowIntent | None = None
    business_domain: BusinessDomain | None = None
    entities: list[Entity] = []
    requirements: list[str] = []
    constraints: list[str] = []
    success_criteria: list[str] = []
    confidence: float = 0.0
    workflow_id: str | None = None
    language: str | None = None
    injection_suspected: bool = False
    error: str | None = None


class WorkflowTrigger(Record):
    type: TriggerType
    config: dict[str, str] = {}


class WorkflowStep(Record):
    step_id: str
    type: StepType
    name: str
    config: dict[str, str] = {}
    inputs: dict[str, str] = {}
    depends_on: list[str] = []
    model: str | None = None


class GeneratedWorkflow(ResultEvent):
    schema_name = "GeneratedWorkflow"
    key_field = "session_id"

    session_id: str
    workflow_id: str
    version: int = 1
    name: str
    description: str = ""
    trigger: WorkflowTrigger | None = None
    steps: list[WorkflowStep] = []
    valid: bool = False
    validation_errors: list[str] = []
    estimated_cost_usd: float = 0.0
    template_id: str | None = None
    changes: list[str] = []
    phases: list[list[str]] = []
    estimated_saving_usd: float = 0.0


class DebugFinding(Record):
    step_id: str | None = None
    severity: str
    problem: str
    suggestion: str = ""


class DebugAnalysis(ResultEvent):
    schema_name = "DebugAnalysis"
    key_field = "session_id"

    session_id: str
    workflow_id: str | None = None
    version: int = 0
    findings: list[DebugFinding] = []
    failed_steps: list[str] = []
    summary: str = ""


class UIComponent(Record):
    component_id: str
    type: str
    label: str
    binds_to: str | None = None
    props: dict[str, str] = {}


class GeneratedInterface(ResultEvent):
    schema_name = "GeneratedInterface"
    key_field = "session_id"

    session_id: str
    workflow_id: str
    components: list[UIComponent] = []


class DocumentReceived(Event):
    schema_name = "DocumentReceived"

    document_id: str
    filename: str
    content_type: str
    content: bytes | None = None
    blob_uri: str | None = None
    sha256: str
    size_bytes: int
    source: str = "unknown"
    document_type_hint: DocumentType | None = None


class DocumentFields(Record):
    vin: str | None = None
    ro_number: str | None = None
    invoice_number: str | None = None
    customer_name: str | None = None
    phone: str | None = None
    email: str | None = None
    date: str | None = None
    mileage: int | None = None
    total: str | None = None
    license_number: str | None = None
    date_of_birth: str | None = None


class DocumentAnalysis(ResultEvent):
    schema_name = "DocumentAnalysis"

    document_id: str
    document_type: DocumentType | None = None
    fields: DocumentFields = Field(default_factory=DocumentFields)
    field_confidence: dict[str, float] = {}
    text: str = ""
    pages: int = 0
    engine: str | None = None
    mean_confidence: float | None = None
    error: str | None = None


class CallRecorded(Event):
    schema_name = "CallRecorded"
    key_field = "call_id"

    call_id: str
    content_type: str
    content: bytes | None = None
    blob_uri: str | None = None
    sha256: str
    size_bytes: int
    direction: CallDirection | None = None
    agent_id: str | None = None
    started_at: Millis | None = None
    agent_channel: int = 0


class Word(Record):
    word: str
    start: float
    end: float
    probability: float = 1.0


class TranscriptSegment(Record):
    start: float
    end: float
    speaker: str
    text: str
    sentiment: float | None = None
    stress: bool = False
    words: list[Word] = []


class ActionItem(Record):
    task: str
    assignee: str | None = None
    deadline: Millis | None = None
    priority: str = "normal"


class CallAnalysis(ResultEvent):
    schema_name = "CallAnalysis"
    key_field = "call_id"

    call_id: str
    language: str | None = None
    duration_seconds: float | None = None
    transcript: str = ""
    segments: list[TranscriptSegment] = []
    sentiment: Sentiment | None = None
    sentiment_score: float | None = None
    action_items: list[ActionItem] = []
    summary: str | None = None
    error: str | None = None


class AgentTask(Event):
    schema_name = "AgentTask"
    key_field = "workflow_id"

    task_id: str
    workflow_id: str
    task_type: str
    depends_on: list[str] = []
    input_json: str = "{}"
    timeout_seconds: float | None = None
    max_attempts: int = 3
    run_id: str | None = None
    task_count: int | None = None


class TaskResult(ResultEvent):
    schema_name = "TaskResult"
    key_field = "workflow_id"

    task_id: str
    workflow_id: str
    status: TaskStatus
    agent_id: str | None = None
    output_json: str | None = None
    error: str | None = None
    attempts: int = 0
    latency_ms: float = 0.0
    run_id: str | None = None


class TaskOutcome(Record):
    task_id: str
    status: TaskStatus
    error: str | None = None


class WorkflowResult(ResultEvent):
    schema_name = "WorkflowResult"
    key_field = "workflow_id"

    workflow_id: str
    status: WorkflowStatus
    tasks: list[TaskOutcome] = []
    run_id: str | None = None
    error: str | None = None


class ApprovalDecision(Event):
    schema_name = "ApprovalDecision"
    key_field = "workflow_id"

    workflow_id: str
    run_id: str | None = None
    task_id: str
    approved: bool
    approver: str
    comment: str | None = None


class AIOperationMetric(ResultEvent):
    schema_name = "AIOperationMetric"

    operation_type: str
    pipeline: str
    model: str
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float
    success: bool
    error_class: str | None = None

    def key(self) -> str:
        """metrics.events is keyed model:operation so one aggregate lives in one partition."""
        return f"{self.model}:{self.operation_type}"


class AIAuditEvent(ResultEvent):
    schema_name = "AIAuditEvent"

    actor: str
    actor_role: str | None = None
    operation_type: str
    model: str
    provider: str
    data_types_seen: list[str] = []
    pii_redacted: bool


class Alert(Event):
    schema_name = "Alert"
    key_field = "alert_type"

    alert_type: str
    severity: Severity
    message: str
    model: str | None = None
    operation_type: str | None = None
    value: float = 0.0
    threshold: float = 0.0
    recommendation: str | None = None


class Header(Record):
    key: str
    value: bytes | None = None


class DeadLetter(Event):
    schema_name = "DeadLetter"

    topic: str
    partition: int
    offset: int
    original_key: bytes | None = None
    original_value: bytes
    original_headers: list[Header] = []
    stage: FailureStage
    error_class: str
    error_message: str
    attempts: int = 1
    pipeline: str


EVENT_MODELS: dict[str, type[Event]] = {
    model.schema_name: model
    for model in (
        ConversationMessage, RequirementAnalysis, GeneratedWorkflow, GeneratedInterface, DebugAnalysis,
        DocumentReceived, DocumentAnalysis, CallRecorded, CallAnalysis, AgentTask, ApprovalDecision,
        TaskResult, WorkflowResult, AIOperationMetric, AIAuditEvent, Alert, DeadLetter,
    )
}
