"""The ingest gateway over real HTTP (uvicorn) on the real broker: publishing as the key's dealer only, the
contract's 422s, 401/404/413/429, uploads inline and through the blob store, results, slow clients, and a
schemathesis fuzz of the published OpenAPI."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.codec import AvroCodec
from schemas.models import (
    ApprovalDecision,
    ConversationMessage,
    DocumentReceived,
    Event,
    RequirementAnalysis,
    WorkflowIntent,
)
from tests.conftest import GATEWAY_KEYS as KEYS
from tests.kafka_helpers import collect, publish

CODEC = AvroCodec()
RIVERSIDE, LAKESIDE = "dealer-riverside-ford", "dealer-lakeside-toyota"
CHAT = {"session_id": "s-1", "user_id": "staff-7", "text": "Text service customers 30 days before their oil change"}


def auth(dealer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[dealer]}"}


def test_a_chat_message_is_published_as_the_keys_dealer(start_gateway: Any) -> None:
    url, settings = start_gateway()
    answer = httpx.post(f"{url}/v1/conversations", json=CHAT, headers=auth(RIVERSIDE))
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    [record] = collect(settings, [settings.topics.conversations_messages], until=lambda rs: len(rs) >= 1)
    event = CODEC.decode(record.value, ConversationMessage)
    assert str(event.event_id) == answer.json()["event_id"] and event.dealer_id == RIVERSIDE
    assert event.text == CHAT["text"] and record.key == b"s-1"


def test_an_approval_is_published_beside_the_runs_tasks(start_gateway: Any) -> None:
    url, settings = start_gateway()
    decision = {"workflow_id": "wf-offer", "run_id": "r1", "task_id": "manager_ok", "approved": False,
                "approver": "sam.rivera", "comment": "rate too low"}
    answer = httpx.post(f"{url}/v1/approvals", json=decision, headers=auth(RIVERSIDE))
    assert answer.status_code == 202
    [record] = collect(settings, [settings.topics.agents_tasks], until=lambda rs: len(rs) >= 1)
    event = CODEC.decode(record.value, ApprovalDecision)
    assert record.key == b"wf-offer" and event.dealer_id == RIVERSIDE  # the run's partition, the key's dealer
    assert (event.approved, event.approver, event.comment) == (False, "sam.rivera", "rate too low")
    assert httpx.post(f"{url}/v1/approvals", json={**decision, "approved": "maybe"},
                      headers=auth(RIVERSIDE)).status_code == 422


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"Authorization": "Bearer ak_guessed"}, 401), ({"X-API-Key": KEYS[LAKESIDE]}, 202),
    ({"Authorization": f"Basic {KEYS[LAKESIDE]}"}, 401),
])
def test_every_request_needs_a_valid_key(start_gateway: Any, headers: dict[str, str], status: int) -> None:
    url, _ = start_gateway()
    assert httpx.post(f"{url}/v1/conversations", json=CHAT, headers=headers).status_code == status


def test_bad_bodies_are_refused_with_the_field_and_nothing_is_published(start_gateway: Any) -> None:
    url, settings = start_gateway()
    cases = [
        ({"session_id": "s-1", "user_id": "u"}, ["body", "text"]),  # missing
        ({**CHAT, "dealer_id": LAKESIDE}, ["body", "dealer_id"]),  # publishing as another dealer
        ({**CHAT, "text": 42}, ["body", "text"]),
    ]
    for body, loc in cases:
        answer = httpx.post(f"{url}/v1/conversations", json=body, headers=auth(RIVERSIDE))
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == loc
    malformed = httpx.post(f"{url}/v1/conversations", content=b'{"text": "unterminated',
                           headers={**auth(RIVERSIDE), "Content-Type": "application/json"})
    assert malformed.status_code == 422
    task = {"task_id": "t-1", "workflow_id": "wf-1", "task_type": "send_email", "max_attempts": "three"}
    assert httpx.post(f"{url}/v1/agent-tasks", json=task, headers=auth(RIVERSIDE)).status_code == 422
    huge = {**task, "max_attempts": 2**63}  # fine for pydantic, not for Avro's int: found by the fuzz below
    refused = httpx.post(f"{url}/v1/agent-tasks", json=huge, headers=auth(RIVERSIDE))
    assert refused.status_code == 422 and "does not fit its Avro schema" in refused.json()["detail"][0]["msg"]
    assert collect(settings, [settings.topics.conversations_messages, settings.topics.agents_tasks],
                   until=lambda rs: False, timeout_s=1.5) == []


def test_bodies_over_the_limits_are_refused_before_they_are_read(start_gateway: Any) -> None:
    url, _ = start_gateway(max_json_bytes=4096, max_upload_bytes=64 * 1024)
    big_chat = {**CHAT, "text": "x" * 5000}
    answer = httpx.post(f"{url}/v1/conversations", json=big_chat, headers=auth(RIVERSIDE))
    assert answer.status_code == 413 and "the limit is 4096" in answer.json()["detail"]
    upload = httpx.post(f"{url}/v1/documents", headers=auth(RIVERSIDE), data={"document_id": "RO-1"},
                        files={"file": ("ro.png", b"\x89PNG" + b"\x00" * 70_000, "image/png")})
    assert upload.status_code == 413


def test_uploads_travel_inline_or_through_the_blob_store(start_gateway: Any) -> None:
    url, settings = start_gateway()
    small, large = b"\x89PNG\r\n\x1a\n" + b"\x01" * 1000, b"%PDF-1.7\n" + bytes(range(256)) * 3000  # 768 KB
    ids = []
    for name, data, kind in (("ro.png", small, "image/png"), ("deal.pdf", large, "application/pdf")):
        answer = httpx.post(f"{url}/v1/documents", headers=auth(LAKESIDE), files={"file": (name, data, kind)},
                            data={"document_id": name, "document_type_hint": "repair_order"})
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["event_id"])
    call = httpx.post(f"{url}/v1/calls", headers=auth(LAKESIDE), data={"call_id": "c-1", "agent_channel": "1"},
                      files={"file": ("c.wav", b"RIFF" + b"\x00" * 500, "audio/wav")})
    assert call.status_code == 202
    records = collect(settings, [settings.topics.documents_received, settings.topics.calls_recorded],
                      until=lambda rs: len(rs) >= 3)
    decoded: list[Event] = [CODEC.decode(r.value) for r in records]
    events = {str(e.event_id): e for e in decoded}
    inline, stored = events[ids[0]], events[ids[1]]
    assert isinstance(inline, DocumentReceived) and inline.content == small and inline.dealer_id == LAKESIDE
    assert isinstance(stored, DocumentReceived) and stored.content is None and stored.blob_uri
    assert Path(stored.blob_uri.removeprefix("file://")).read_bytes() == large
    assert stored.size_bytes == len(large) and stored.document_type_hint is not None
    empty = httpx.post(f"{url}/v1/documents", headers=auth(LAKESIDE), data={"document_id": "x"},
                       files={"file": ("x.png", b"", "image/png")})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "file"]


def test_results_are_returned_to_their_dealer_only(start_gateway: Any) -> None:
    url, settings = start_gateway()
    accepted = httpx.post(f"{url}/v1/conversations", json=CHAT, headers=auth(RIVERSIDE)).json()["event_id"]
    pending = httpx.get(f"{url}/v1/results/{accepted}", headers=auth(RIVERSIDE))
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    analysis = RequirementAnalysis(dealer_id=RIVERSIDE, source_event_id=accepted, processor="nlp.requirements",
                                   session_id="s-1", intent=WorkflowIntent.CREATE_WORKFLOW, confidence=0.9)
    publish(settings, settings.topics.conversations_analyzed, [analysis])
    deadline = time.monotonic() + 20
    answer = httpx.get(f"{url}/v1/results/{accepted}", headers=auth(RIVERSIDE))
    while answer.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = httpx.get(f"{url}/v1/results/{accepted}", headers=auth(RIVERSIDE))
    assert answer.status_code == 200 and answer.json()["status"] == "done"
    [result] = answer.json()["results"]
    assert result["type"] == "RequirementAnalysis" and result["event_id"] == str(analysis.event_id)
    other = httpx.get(f"{url}/v1/results/{accepted}", headers=auth(LAKESIDE))
    unknown = httpx.get(f"{url}/v1/results/00000000-0000-4000-8000-000000000000", headers=auth(LAKESIDE))
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()


def test_a_dealer_over_its_rate_gets_429_with_retry_after(start_gateway: Any) -> None:
    url, _ = start_gateway(rate_per_s=1.0, burst=3)
    statuses = [httpx.post(f"{url}/v1/conversations", json=CHAT, headers=auth(RIVERSIDE)) for _ in range(5)]
    assert [s.status_code for s in statuses] == [202, 202, 202, 429, 429]
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    assert httpx.post(f"{url}/v1/conversations", json=CHAT, headers=auth(LAKESIDE)).status_code == 202  # per dealer


def test_a_stalled_client_does_not_hold_up_others(start_gateway: Any) -> None:
    url, _ = start_gateway()
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as slow:
        slow.sendall(b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"te")
        started = time.monotonic()
        answer = httpx.post(f"{url}/v1/conversations", json=CHAT, headers=auth(RIVERSIDE))
        assert answer.status_code == 202 and time.monotonic() - started < 2


def test_the_openapi_survives_a_fuzz(start_gateway: Any) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    url, _ = start_gateway(rate_per_s=10_000.0, burst=10_000)
    document = httpx.get(f"{url}/openapi.json").json()
    assert set(document["paths"]) == {"/v1/conversations", "/v1/agent-tasks", "/v1/approvals", "/v1/documents",
                                      "/v1/calls", "/v1/results/{event_id}"}
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for operation in schema.get_all_operations():
        op = operation.ok()  # type: ignore[union-attr]

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            response = case.call(base_url=url, headers=auth(RIVERSIDE))
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code} {response.text[:200]}")
            assert response.status_code in (202, 200, 401, 404, 411, 413, 422, 429), response.text

        fuzz()
    assert failures == [], json.dumps(failures, indent=1)
