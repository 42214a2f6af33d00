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
    domain: BusinessDomain | None = None
    recent_messages: list[str] = []


class RequirementRequest(BaseModel):
    """The user message of a requirement-analysis request, for the local and hosted models alike."""

    message: str
    session: SessionSummary = SessionSummary()
    now: datetime


class RequirementBatchRequest(BaseModel):
    """Several messages of one dealer and role, analysed in one LLM call (concurrent chat sessions)."""

    requests: list[RequirementRequest]


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
    understood: bool = True  # false when the message is not a request for an automation (noise, code)


class RequirementBatch(BaseModel):
    """The answer to a RequirementBatchRequest: one analysis per request, in order."""

    analyses: list[RequirementDraft]


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
MIN_SIMILARITY = 0.22  # below this to every exemplar, a message is noise (emoji, keyboard mash, control bytes)
CODE = re.compile(r"<\s*/?\s*script|\b(?:select\s+.+\s+from|drop\s+table|delete\s+from|insert\s+into|"
                  r"union\s+select)\b|;\s*--|\bjavascript:", re.IGNORECASE)
INJECTION = re.compile(
    r"ignore (all |any |the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|disregard (all |the )?"
    r"(previous|prior|above|your)|you are now|admin mode|developer mode|jailbreak|system\s*(prompt|:)|"
    r"(export|dump|download|forward|send|email|text|upload|copy)\w* (me |us )?(all|every|the entire|the whole|each)\s+"
    r"(of (the|our) )?(customers?|clients?|contacts?|leads?|credit app\w*|records?|phone numbers?|emails?|"
    r"customer (list|table|data|records?)|database|ssns?)"
    r"|(customer|client) (table|database|list|data) to|to (my|an?) (personal |private )?(gmail|yahoo|hotmail|outlook|"
    r"dropbox|server|webhook)|https?://(?!localhost)"
    r"|</?\s*(system|assistant|user|instructions?)\s*>|#+\s*system|system override|admin (mode|privileges|access)|"
    r"(previous|prior|earlier) instructions|your real task|skip (the )?(human )?approval|without (human )?approval|"
    r"\bb?cc\b|blind copy|wire \$|account (number|#)|routing number|\{\{.*\}\}|\bsecrets?\b|api[ _-]?keys?|"
    r"dealer_id|[A-Za-z0-9+/]{24,}={0,2}"
    r"|(send|text|email|forward|copy|share|post|upload)\w*\b[^.]{0,80}\[(EMAIL|PHONE)_\d+\]"
    r"|\b(ssns?|social security|incomes?|credit scores?|card numbers?)\b[^.]{0,60}\b(send|text|email|forward)"
    r"|\b(send|text|email|forward)\w*\b[^.]{0,60}\b(ssns?|social security|incomes?|card numbers?)\b", re.IGNORECASE)
# Grammar of the intents, beyond the exemplars' cue phrases: failure talk, cost/speed talk, and new automations.
DEBUG_SIGNAL = re.compile(
    r"\b(?:not|isn'?t|aren'?t|wasn'?t|weren'?t|didn'?t|doesn'?t|don'?t|won'?t|never|no longer|nothing)\s+"
    r"(?:\w+\s+)?(?:work|fir|trigger|go|send|sent|show|run|arriv|load|match|reach|get|happen)\w*"
    r"|\b(?:fail\w*|error\w*|broke\w*|bounc\w*|stuck|crash\w*|stopped|still (?:getting|receiving|going|sending)|"
    r"wrong|missing|[45]\d\d|timed? ?out|duplicat\w*|twice|glitch\w*|bug\w*)\b", re.IGNORECASE)
OPTIMIZE_SIGNAL = re.compile(
    r"\b(?:cheap\w*|costs?|costing|expensive|pricey|spend\w*|faster|quick\w*|speed\w*|slow\w*|"
    r"takes? (?:too |way )?(?:long|forever)|takes? (?:\w+ ){1,2}(?:seconds?|minutes?|hours?)|parallel|trim\w*|waste\w*|"
    r"reuse|batch\w*|in groups|efficien\w*|simplif\w*|fewer|overkill|save (?:money|time))\b", re.IGNORECASE)
CREATE_SIGNAL = re.compile(r"\b(?:when(?:ever)?|every|each|set ?up|automat\w*|new workflow|build|create)\b",
                           re.IGNORECASE)
SIGNAL_BONUS = 0.05
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

    async def answer_batch(self, request_json: str) -> str:
        batch = RequirementBatchRequest.model_validate_json(request_json)
        vectors = await asyncio.gather(*(self.batcher.embed(r.message[:2000]) for r in batch.requests))
        drafts = [self.draft(r, v) for r, v in zip(batch.requests, vectors, strict=True)]
        return RequirementBatch(analyses=drafts).model_dump_json()

    def draft(self, request: RequirementRequest, vector: NDArray[np.float32]) -> RequirementDraft:
        text, session = request.message, request.session
        has_workflow = session.workflow_id is not None
        follow_up = bool(FOLLOW_UP.search(text)) and len(text.split()) <= 25
        debug_hits = min(len(DEBUG_SIGNAL.findall(text)), 2)
        optimize_hits = min(len(OPTIMIZE_SIGNAL.findall(text)), 2)
        # A follow-up ("make it ...", "also ...") changes the workflow, unless it talks of failures or cost.
        modify = 0.06 if has_workflow and follow_up and not (debug_hits or optimize_hits) else 0.0
        intent_adjust = {
            WorkflowIntent.DEBUG_WORKFLOW.value: SIGNAL_BONUS * debug_hits,
            WorkflowIntent.OPTIMIZE_WORKFLOW.value: SIGNAL_BONUS * optimize_hits,
            WorkflowIntent.CREATE_WORKFLOW.value: SIGNAL_BONUS * min(len(CREATE_SIGNAL.findall(text)), 1),
            WorkflowIntent.MODIFY_WORKFLOW.value: modify,
        }
        if has_workflow:  # a message in a session that has a workflow is more often about that workflow
            intent_adjust[WorkflowIntent.CREATE_WORKFLOW.value] -= 0.03
        else:
            intent_adjust[WorkflowIntent.MODIFY_WORKFLOW.value] -= 0.12
            intent_adjust[WorkflowIntent.OPTIMIZE_WORKFLOW.value] -= 0.04
            intent_adjust[WorkflowIntent.DEBUG_WORKFLOW.value] -= 0.02
        intent = self.intents.classify(vector, text, intent_adjust)
        domain = self.domains.classify(vector, text)
        closest = max(*intent.similarities.values(), *domain.similarities.values())
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
            confidence=round(intent.confidence, 3), injection_suspected=bool(INJECTION.search(text)),
            understood=closest >= MIN_SIMILARITY and not CODE.search(text))
