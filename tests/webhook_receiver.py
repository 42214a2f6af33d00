"""A dealer's webhook endpoint for tests: a real local HTTP server that checks every signature and can be told
to fail (some attempts, or always), recording what it accepted."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from connectors.webhooks import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.http_server import serving


@dataclass
class Receiver:
    """``fail(event_id, attempt)`` returns the status to answer with (or None to accept)."""

    secret: str
    fail: Callable[[str, int], int | None] = lambda event_id, attempt: None
    url: str = ""
    attempts: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> body
    types: dict[str, str] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: Any, body: bytes) -> int:
        event_id = headers.get(EVENT_ID_HEADER, "")
        with self.lock:
            if not verify(self.secret, headers.get(TIMESTAMP_HEADER, ""), body, headers.get(SIGNATURE_HEADER, "")):
                self.bad_signatures += 1
                return 401
            attempt = self.attempts[event_id] = self.attempts.get(event_id, 0) + 1
            status = self.fail(event_id, attempt)
            if status is not None:
                return status
            self.accepted[event_id] = json.loads(body)
            self.types[event_id] = headers.get(EVENT_TYPE_HEADER, "")
            return 200


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on a free local port for the duration of the block."""
    with serving(lambda method, path, headers, body: (receiver.handle(headers, body), {}, b"")) as url:
        receiver.url = f"{url}/hooks"
        yield receiver
