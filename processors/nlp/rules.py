"""The local model's answer to a requirement-analysis request: embeddings + exemplars + cue words + gazetteer.

It reads the same JSON request a hosted model gets (``RequirementRequest``) and answers the same JSON
(``RequirementDraft``), so it plugs into the LLM router as the offline provider. Message embeddings are
micro-batched: requests that arrive within a few milliseconds of each other share one ONNX run.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from processors.nlp.classify import ExemplarClassifier, load_exemplars
from processors.nlp.entities import extract_entities
from processors.ports import Embedder
from schemas.models import BusinessDomain, Entity, WorkflowIntent


class SessionSummary(BaseModel):
    """What the model may know of the session: its current workflow and recent (redacted) messages."""

    workflow_id: str | None = None
    workflow_name: str | None = None
    domain: BusinessDomain | None = None
    step_types: list[str] = []
    recent_messages: list[str] = []


class RequirementRequest(BaseModel):
    """The user message of a requirement-analysis request, for the local and hosted models alike."""

    message: str
    session: SessionSummary = SessionSummary()
    now: datetime


class RequirementDraft(BaseModel):
    """The structured answer; its JSON schema is the ``response_format`` of the request."""

    intent: WorkflowIntent
    business_domain: BusinessDomain
    entities: list[Entity] = []
    requirements: list[str] = []
    constraints: list[str] = []
    success_criteria: list[str] = []
    confidence: float = Field(0.0, ge=0.0, le=1.0)
    injection_suspected: bool = False


SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+(?:and then|then|also)\s+|\n+")
REQUIREMENT = re.compile(r"\b(send|remind|notify|text|email|call|follow[- ]?up|schedule|book|create|assign|alert|"
                         r"escalate|route|update|log|track|flag|offer|invite|ask|collect|approve|review|scan|"
                         r"transcribe|enrich|generate|post|reply|check|wait|make|add|remove|change|switch|use)\w*",
                         re.IGNORECASE)
CONSTRAINT = re.compile(r"\b(only|never|don'?t|do not|no more than|at most|at least|within|before|after|unless|"
                        r"except|between|must|budget|opt[- ]?out|business hours|weekdays?|weekends?|limit|max(imum)?|"
                        r"min(imum)?|no later than|by \d)\b", re.IGNORECASE)
SUCCESS = re.compile(r"\b(so that|so we|goal|target|increase|reduce|improve|boost|cut|lower|raise|kpi|conversion|"
                     r"show[- ]rate|response rate|csi|nps|retention|revenue|%|percent)\b", re.IGNORECASE)
INJECTION = re.compile(
    r"ignore (all |any |the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|disregard (all |the )?"
    r"(previous|prior|above|your)|you are now|admin mode|developer mode|jailbreak|system\s*(prompt|:)|"
    r"(export|dump|download|forward|send|email|text|upload|copy)\w* (me |us )?(all|every|the entire|the whole|each)\s+"
    r"(of (the|our) )?(customers?|clients?|contacts?|leads?|credit app\w*|records?|phone numbers?|emails?|"
    r"customer (list|table|data|records?)|database|ssns?)"
    r"|(customer|client) (table|database|list|data) to|to (my|an?) (personal |private )?(gmail|yahoo|hotmail|outlook|"
    r"dropbox|server|webhook)|https?://(?!localhost)", re.IGNORECASE)
FOLLOW_UP = re.compile(r"^\s*(make it|change it|actually|instead|also|and |but |can you|could you|what about|"
                       r"switch|remove|drop|add|use|only)\b|\binstead\b|\b(it|that|this one)\b", re.IGNORECASE)


class EmbeddingBatcher:
    """Embeds texts in shared batches: callers awaiting within ``window_s`` of each other share one run."""

    def __init__(self, embedder: Embedder, max_batch: int = 64, window_s: float = 0.002,
                 cache_size: int = 4096) -> None:
        self.embedder, self.max_batch, self.window_s = embedder, max_batch, window_s
        self._pending: list[tuple[str, asyncio.Future[NDArray[np.float32]]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._cache_size = cache_size

    async def embed(self, text: str) -> NDArray[np.float32]:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        future: asyncio.Future[NDArray[np.float32]] = loop.create_future()
        self._pending.append((text, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        texts = [text for text, _ in batch]
        done = asyncio.get_running_loop().run_in_executor(None, self.embedder.embed, texts)
        done.add_done_callback(lambda result: self._deliver(batch, result))

    def _deliver(self, batch: Sequence[tuple[str, asyncio.Future[NDArray[np.float32]]]],
                 result: asyncio.Future[NDArray[np.float32]]) -> None:
        error = result.exception()
        for index, (text, future) in enumerate(batch):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
                continue
            vector = result.result()[index]
            future.set_result(vector)
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


class RuleBasedAnalyst:
    """Answers RequirementRequest JSON with RequirementDraft JSON, offline."""

    def __init__(self, embedder: Embedder) -> None:
        exemplars = load_exemplars()
        self.intents = ExemplarClassifier(exemplars["intents"], embedder)
        self.domains = ExemplarClassifier(exemplars["domains"], embedder)
        self.batcher = EmbeddingBatcher(embedder)

    async def answer(self, request_json: str) -> str:
        request = RequirementRequest.model_validate_json(request_json)
        vector = await self.batcher.embed(request.message[:2000])
        return self.draft(request, vector).model_dump_json()

    def draft(self, request: RequirementRequest, vector: NDArray[np.float32]) -> RequirementDraft:
        text, session = request.message, request.session
        has_workflow = session.workflow_id is not None
        follow_up = bool(FOLLOW_UP.search(text)) and len(text.split()) <= 25
        intent_adjust = {WorkflowIntent.MODIFY_WORKFLOW.value: 0.06 if has_workflow and follow_up else 0.0}
        if not has_workflow:
            intent_adjust = {WorkflowIntent.MODIFY_WORKFLOW.value: -0.12, WorkflowIntent.OPTIMIZE_WORKFLOW.value: -0.04,
                             WorkflowIntent.DEBUG_WORKFLOW.value: -0.02}
        intent = self.intents.classify(vector, text, intent_adjust)
        domain = self.domains.classify(vector, text)
        domain_label = domain.label
        if has_workflow and session.domain is not None and intent.label != WorkflowIntent.CREATE_WORKFLOW.value \
                and (domain.confidence < 0.6 or not any(self.domains.cue_hits(text).values())):
            domain_label = session.domain.value  # "make it 5 days instead" is about the session's workflow
        clauses = [c.strip(" ,") for c in SENTENCE.split(text) if c and len(c.strip()) > 2][:20]
        return RequirementDraft(
            intent=WorkflowIntent(intent.label), business_domain=BusinessDomain(domain_label),
            entities=extract_entities(text, request.now),
            requirements=[c for c in clauses if REQUIREMENT.search(c) and not CONSTRAINT.search(c)][:10]
            or clauses[:1],
            constraints=[c for c in clauses if CONSTRAINT.search(c)][:10],
            success_criteria=[c for c in clauses if SUCCESS.search(c)][:5],
            confidence=round(intent.confidence, 3), injection_suspected=bool(INJECTION.search(text)))
