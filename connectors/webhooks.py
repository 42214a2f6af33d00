"""Webhook delivery: a result POSTed to a dealer's endpoint, signed, retried with backoff, then given up on.

Every request carries the event as JSON and four headers: ``X-Auterity-Event-Id`` (receivers de-duplicate on it:
delivery is at-least-once), ``X-Auterity-Event-Type``, ``X-Auterity-Timestamp`` (Unix seconds) and
``X-Auterity-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>." + body`` under the dealer's
secret. A receiver recomputes it (``verify`` here is the reference) and refuses stale timestamps, so a
captured request cannot be replayed later. Timeouts, connection errors, 408, 425, 429 and 5xx are retried
with exponential backoff; any other status is the receiver's final answer and is not retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

SIGNATURE_HEADER = "X-Auterity-Signature"
TIMESTAMP_HEADER = "X-Auterity-Timestamp"
EVENT_ID_HEADER = "X-Auterity-Event-Id"
EVENT_TYPE_HEADER = "X-Auterity-Event-Type"
RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))


class DeliveryFailed(Exception):
    """The endpoint did not accept the event: after the last attempt, or at once for a final refusal (4xx)."""

    def __init__(self, message: str, attempts: int, status: int | None) -> None:
        super().__init__(message)
        self.attempts, self.status = attempts, status


class _Retry(Exception):
    def __init__(self, reason: str, status: int | None) -> None:
        super().__init__(reason)
        self.status = status


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Auterity-Signature`` value of a request."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signed: str, *, tolerance_s: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver checks: the signature matches, in constant time, and the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(signature(secret, timestamp, body), signed)


@dataclass
class WebhookSender:
    """POSTs signed events; one instance (and one HTTP connection pool) per worker."""

    client: httpx.AsyncClient
    attempts: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    async def deliver(self, url: str, secret: str, *, event_id: str, event_type: str, body: bytes) -> int:
        """The endpoint's 2xx status once it accepted the event; DeliveryFailed when it never did."""
        attempt = 0
        try:
            async for retry in AsyncRetrying(retry=retry_if_exception_type(_Retry),
                                             stop=stop_after_attempt(self.attempts),
                                             wait=wait_exponential(multiplier=self.initial_backoff_s,
                                                                   max=self.max_backoff_s), reraise=True):
                with retry:
                    attempt = retry.retry_state.attempt_number
                    return await self._post(url, secret, event_id, event_type, body, attempt)
        except _Retry as exc:
            raise DeliveryFailed(f"{url}: not delivered after {attempt} attempts; last: {exc}", attempt,
                                 exc.status) from exc
        raise AssertionError("unreachable: tenacity either returned or raised")  # pragma: no cover

    async def _post(self, url: str, secret: str, event_id: str, event_type: str, body: bytes, attempt: int) -> int:
        timestamp = str(int(time.time()))  # signed afresh on every attempt, so a late retry is not stale
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event_id, EVENT_TYPE_HEADER: event_type,
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:  # refused, reset, timed out: the endpoint may be back soon
            raise _Retry(f"{type(exc).__name__}: {exc}", None) from exc
        if response.is_success:
            return response.status_code
        if response.status_code in RETRYABLE_STATUS:
            raise _Retry(f"HTTP {response.status_code}", response.status_code)
        raise DeliveryFailed(f"{url} refused the event with HTTP {response.status_code} (not retried): "
                             f"{response.text[:200]}", attempt, response.status_code)
