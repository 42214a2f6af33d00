"""The HTTP ingest gateway: how dealership systems without a Kafka client publish events and read results.

``POST /v1/{conversations,documents,calls,agent-tasks,approvals}`` validates the request against the event's contract
(422 names the field), stamps the caller's dealer id and publishes; the answer is the event id (202).
Documents and calls are multipart uploads: large ones go through the blob store, like every producer's.
``GET /v1/results/{event_id}`` returns the results of an event once they exist. Every request needs a
per-dealer API key (``Authorization: Bearer <key>`` or ``X-API-Key``), kept only as its SHA-256; a dealer
publishes and reads only as itself, and another dealer's event is 404, like one that does not exist, so ids
do not leak. Per-dealer rate limits (429 with Retry-After) and body limits (413, judged from Content-Length
before the body is read). The OpenAPI document is at ``/openapi.json``.

Broker-free: ``create_app`` takes a ``GatewayBackend`` (``streams/gateway.py`` is the Kafka one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.errors import InvalidEvent
from schemas.models import (
    AgentTask,
    ApprovalDecision,
    CallDirection,
    CallRecorded,
    ConversationMessage,
    DocumentReceived,
    DocumentType,
    Event,
)

ENVELOPE = frozenset({"event_id", "dealer_id", "occurred_at", "schema_version"})


class StoredBlob(Protocol):
    @property
    def uri(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def size_bytes(self) -> int: ...


class GatewayBackend(Protocol):
    """What the gateway needs from the rest of the system."""

    async def publish(self, event: Event) -> None:
        """Publish, or raise InvalidEvent when the event cannot be encoded (nothing is sent then)."""
        ...

    def store(self, data: bytes, suffix: str) -> StoredBlob: ...

    def results(self, event_id: uuid.UUID) -> tuple[str, list[dict[str, Any]]] | None:
        """(dealer id, results as JSON objects) of an answered event, or None."""
        ...


@dataclass(frozen=True)
class GatewayConfig:
    keys: Mapping[str, str]  # SHA-256 hex of an API key -> the dealer it belongs to
    rate_per_s: float = 20.0
    burst: int = 40
    max_json_bytes: int = 256 * 1024
    max_upload_bytes: int = 64 * 1024 * 1024
    document_inline_max_bytes: int = 512 * 1024
    call_inline_max_bytes: int = 2 * 1024 * 1024


def key_hash(key: str) -> str:
    """How an API key is stored: its SHA-256 (keys are random 256-bit tokens, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh key and the hash to configure; the key itself is shown once and never stored."""
    key = "ak_" + secrets.token_urlsafe(32)
    return key, key_hash(key)


class Accepted(BaseModel):
    event_id: uuid.UUID
    status: str = "accepted"


class Results(BaseModel):
    event_id: uuid.UUID
    status: str  # "done" or "pending"
    results: list[dict[str, Any]] = []


def inbound_model(event_type: type[Event]) -> type[BaseModel]:
    """The request body of an event type: its fields without the envelope the gateway stamps."""
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in event_type.model_fields.items()
                              if name not in ENVELOPE}
    return create_model(f"{event_type.__name__}Request", __config__=ConfigDict(extra="forbid"), **fields)


ConversationRequest = inbound_model(ConversationMessage)
AgentTaskRequest = inbound_model(AgentTask)
ApprovalRequest = inbound_model(ApprovalDecision)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per dealer: ``rate_per_s`` sustained, ``burst`` at once."""

    rate_per_s: float
    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def wait_s(self, dealer: str) -> float:
        """0 when the request may go now (and takes a token), else the seconds until a token is free."""
        now = time.monotonic()
        bucket = self.buckets.setdefault(dealer, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate_per_s)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate_per_s


class BodyLimit:
    """413 before a byte of an oversized body is read, 411 for a POST that does not say its length."""

    def __init__(self, app: ASGIApp, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app, self.max_json, self.max_upload = app, max_json_bytes, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            limit = self.max_upload if headers.get("content-type", "").startswith("multipart/") else self.max_json
            length = headers.get("content-length")
            response: JSONResponse | None = None
            if length is None or not length.isdigit():
                response = JSONResponse({"detail": "Content-Length is required"}, 411)
            elif int(length) > limit:
                response = JSONResponse({"detail": f"the body is {length} bytes; the limit is {limit}"}, 413)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def dealer_of(request: Request) -> str:
    """The caller's dealer, from its API key; 401 without a valid one, 429 over its rate."""
    config: GatewayConfig = request.app.state.config
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    digest = key_hash(key) if key else ""
    dealer = next((d for h, d in config.keys.items() if hmac.compare_digest(h, digest)), None) if key else None
    if dealer is None:
        raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    wait = request.app.state.limiter.wait_s(dealer)
    if wait:
        raise HTTPException(429, f"rate limit of {config.rate_per_s:g} requests/s exceeded",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    return dealer


Dealer = Annotated[str, Depends(dealer_of)]


def create_app(config: GatewayConfig, backend: GatewayBackend, lifespan: Any = None) -> FastAPI:
    app = FastAPI(title="Auterity Streams ingest gateway", version="1", lifespan=lifespan,
                  description="Publish dealership events and read their results.")
    app.add_middleware(BodyLimit, max_json_bytes=config.max_json_bytes, max_upload_bytes=config.max_upload_bytes)
    app.state.config, app.state.limiter = config, RateLimiter(config.rate_per_s, config.burst)
    published: OrderedDict[uuid.UUID, str] = OrderedDict()  # ids this gateway published -> dealer (bounded)


    async def accept(event: Event) -> Accepted:
        try:
            await backend.publish(event)
        except InvalidEvent as exc:  # valid for pydantic, not for Avro (an int beyond 32 bits, say)
            raise HTTPException(422, [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from exc
        published[event.event_id] = event.dealer_id
        while len(published) > 100_000:
            published.popitem(last=False)
        return Accepted(event_id=event.event_id)

    def build(make: Callable[[], Event]) -> Event:
        try:
            return make()
        except ValidationError as exc:  # a rule of the contract beyond the request schema
            raise HTTPException(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                                      for e in exc.errors(include_url=False, include_input=False)]) from exc

    async def upload(file: UploadFile, inline_max: int) -> dict[str, Any]:
        data = await file.read()
        if not data:
            raise HTTPException(422, [{"loc": ["body", "file"], "msg": "the file is empty", "type": "value_error"}])
        digest = await run_in_threadpool(lambda: hashlib.sha256(data).hexdigest())  # up to 64 MiB: off the loop
        if len(data) <= inline_max:
            return {"content": data, "sha256": digest, "size_bytes": len(data)}
        suffix = "." + file.filename.rsplit(".", 1)[-1].lower() if file.filename and "." in file.filename else ""
        blob = await run_in_threadpool(backend.store, data, suffix)
        return {"blob_uri": blob.uri, "sha256": blob.sha256, "size_bytes": blob.size_bytes}

    @app.post("/v1/conversations", status_code=202, response_model=Accepted, tags=["publish"])
    async def conversations(body: ConversationRequest, dealer: Dealer) -> Accepted:  # type: ignore[valid-type]
        return await accept(build(lambda: ConversationMessage(dealer_id=dealer, **body.model_dump())))  # type: ignore[attr-defined]

    @app.post("/v1/agent-tasks", status_code=202, response_model=Accepted, tags=["publish"])
    async def agent_tasks(body: AgentTaskRequest, dealer: Dealer) -> Accepted:  # type: ignore[valid-type]
        return await accept(build(lambda: AgentTask(dealer_id=dealer, **body.model_dump())))  # type: ignore[attr-defined]

    @app.post("/v1/approvals", status_code=202, response_model=Accepted, tags=["publish"])
    async def approvals(body: ApprovalRequest, dealer: Dealer) -> Accepted:  # type: ignore[valid-type]
        """A decision on a paused run's human_approval task."""
        return await accept(build(lambda: ApprovalDecision(dealer_id=dealer, **body.model_dump())))  # type: ignore[attr-defined]

    @app.post("/v1/documents", status_code=202, response_model=Accepted, tags=["publish"])
    async def documents(dealer: Dealer, file: Annotated[UploadFile, File(description="PNG, JPEG, TIFF or PDF")],
                        document_id: Annotated[str, Form(min_length=1, max_length=200)],
                        document_type_hint: Annotated[DocumentType | None, Form()] = None,
                        source: Annotated[str, Form(max_length=100)] = "gateway") -> Accepted:
        carried = await upload(file, config.document_inline_max_bytes)
        return await accept(build(lambda: DocumentReceived(
            dealer_id=dealer, document_id=document_id, filename=file.filename or document_id,
            content_type=file.content_type or "application/octet-stream", source=source,
            document_type_hint=document_type_hint, **carried)))

    @app.post("/v1/calls", status_code=202, response_model=Accepted, tags=["publish"])
    async def calls(dealer: Dealer, file: Annotated[UploadFile, File(description="WAV, MP3, OGG, FLAC ...")],
                    call_id: Annotated[str, Form(min_length=1, max_length=200)],
                    agent_id: Annotated[str | None, Form(max_length=200)] = None,
                    agent_channel: Annotated[int, Form(ge=0, le=1)] = 0,
                    direction: Annotated[CallDirection | None, Form()] = None) -> Accepted:
        carried = await upload(file, config.call_inline_max_bytes)
        return await accept(build(lambda: CallRecorded(
            dealer_id=dealer, call_id=call_id, content_type=file.content_type or "application/octet-stream",
            agent_id=agent_id, agent_channel=agent_channel, direction=direction, **carried)))

    @app.get("/v1/results/{event_id}", response_model=Results, tags=["results"],
             responses={202: {"model": Results, "description": "published, no result yet"},
                        404: {"description": "no such event for this dealer"}})
    async def results(event_id: uuid.UUID, dealer: Dealer) -> JSONResponse:
        found = backend.results(event_id)
        if found is not None and found[0] == dealer:
            return JSONResponse(Results(event_id=event_id, status="done", results=found[1]).model_dump(mode="json"))
        if found is None and published.get(event_id) == dealer:
            return JSONResponse(Results(event_id=event_id, status="pending").model_dump(mode="json"), 202)
        raise HTTPException(404, "no such event")  # another dealer's event looks exactly like a missing one

    return app


