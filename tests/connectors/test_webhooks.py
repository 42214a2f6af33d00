"""Webhook delivery against a real local HTTP endpoint: signatures a receiver can verify, retries with backoff
on transient failures, no retry on a final refusal, and a clear failure after the last attempt."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.webhooks import DeliveryFailed, WebhookSender, signature, verify
from tests.webhook_receiver import Receiver, receiving

SECRET = "whsec-riverside-ford"
BODY = b'{"document_id": "RO-1", "document_type": "repair_order"}'


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield WebhookSender(client, attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05)


def test_the_signature_covers_timestamp_and_body_and_expires() -> None:
    now = time.time()
    stamp = str(int(now))
    signed = signature(SECRET, stamp, BODY)
    assert signed.startswith("sha256=") and verify(SECRET, stamp, BODY, signed, now=now)
    assert not verify(SECRET, stamp, BODY + b" ", signed, now=now)  # body changed
    assert not verify(SECRET, str(int(now) + 1), BODY, signed, now=now)  # timestamp changed
    assert not verify("another dealer's secret", stamp, BODY, signed, now=now)
    assert not verify(SECRET, stamp, BODY, signed, now=now + 301)  # a replay ten minutes later
    assert not verify(SECRET, "yesterday", BODY, signed, now=now)


async def test_transient_failures_are_retried_until_accepted(sender: WebhookSender) -> None:
    with receiving(Receiver(SECRET, fail=lambda _, attempt: {1: 503, 2: 429}.get(attempt))) as receiver:
        status = await sender.deliver(receiver.url, SECRET, event_id="e-1", event_type="DocumentAnalysis", body=BODY)
    assert status == 200 and receiver.attempts == {"e-1": 3} and receiver.bad_signatures == 0
    assert receiver.accepted["e-1"]["document_id"] == "RO-1" and receiver.types["e-1"] == "DocumentAnalysis"


async def test_a_final_refusal_is_not_retried(sender: WebhookSender) -> None:
    with (receiving(Receiver(SECRET, fail=lambda _, attempt: 422)) as receiver,
          pytest.raises(DeliveryFailed, match="refused the event with HTTP 422") as failure):
        await sender.deliver(receiver.url, SECRET, event_id="e-2", event_type="CallAnalysis", body=BODY)
    assert failure.value.attempts == 1 and failure.value.status == 422 and receiver.attempts == {"e-2": 1}


async def test_an_endpoint_that_keeps_failing_gives_up_after_the_last_attempt(sender: WebhookSender) -> None:
    with (receiving(Receiver(SECRET, fail=lambda _, attempt: 500)) as receiver,
          pytest.raises(DeliveryFailed, match="not delivered after 4 attempts; last: HTTP 500") as failure):
        await sender.deliver(receiver.url, SECRET, event_id="e-3", event_type="CallAnalysis", body=BODY)
    assert failure.value.attempts == 4 and receiver.attempts == {"e-3": 4}


async def test_an_unreachable_endpoint_is_retried_then_given_up(sender: WebhookSender) -> None:
    with receiving(Receiver(SECRET)) as receiver:
        url = receiver.url  # the server is gone after the block: connections are refused
    with pytest.raises(DeliveryFailed, match="not delivered after 4 attempts; last: ConnectError"):
        await sender.deliver(url, SECRET, event_id="e-4", event_type="CallAnalysis", body=BODY)


async def test_a_receiver_with_the_wrong_secret_refuses_every_request(sender: WebhookSender) -> None:
    with (receiving(Receiver("the secret the dealer configured")) as receiver,
          pytest.raises(DeliveryFailed, match="HTTP 401")):
        await sender.deliver(receiver.url, SECRET, event_id="e-5", event_type="CallAnalysis", body=BODY)
    assert receiver.bad_signatures == 1 and not receiver.accepted
