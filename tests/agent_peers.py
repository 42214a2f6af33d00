"""The outside systems a workflow run talks to, as real local servers for tests: an SMTP server (aiosmtpd) that
keeps what it accepts, and one HTTP server playing the SMS gateway, an endpoint for http_request steps and two
commercial enrichment APIs (one answering, one failing)."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.http_server import json_reply, serving

SMS_KEY, ENRICH_KEY = "sms-test-key", "enrich-test-key"
COMPANIES = {"harbor fleet services": {"name": "Harbor Fleet Services", "domain": "harborfleet.com",
                                       "employees": 240, "revenue_usd": 61_000_000, "linkedin": "harbor-fleet"}}


class Mailbox:
    """aiosmtpd handler: every accepted message, parsed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class HttpPeers:
    url: str = ""
    sms: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    enrichment_calls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        parsed = urlparse(path)
        with self.lock:
            if parsed.path == "/sms" and method == "POST":
                if headers.get("Authorization") != f"Bearer {SMS_KEY}":
                    return 401, {"error": "bad key"}
                self.sms.append(json.loads(body))
                return 200, {"sid": f"SM{len(self.sms):04d}"}
            if parsed.path == "/hook":
                try:
                    payload: Any = json.loads(body or b"null")
                except ValueError:
                    payload = body.decode()
                self.hooks.append({"method": method, "body": payload,
                                   "idempotency_key": headers.get("Idempotency-Key")})
                return 200, {"ok": True}
            source = parsed.path.split("/")[1]
            self.enrichment_calls[source] = self.enrichment_calls.get(source, 0) + 1
            if source == "down":
                return 503, {"error": "maintenance"}
            if headers.get("Authorization") != f"Bearer {ENRICH_KEY}":
                return 401, {"error": "bad key"}
            name = (parse_qs(parsed.query).get("name") or [""])[0].lower()
            return (200, COMPANIES[name]) if name in COMPANIES else (404, {})


@contextmanager
def http_peers() -> Iterator[HttpPeers]:
    peers = HttpPeers()
    with serving(lambda method, path, headers, body: json_reply(*peers.answer(method, path, headers, body))) as url:
        peers.url = url
        yield peers


def worker_env(peers: HttpPeers, smtp_port: int, crm_path: str) -> dict[str, str]:
    """A worker's settings for these peers: SMTP without TLS, the SMS gateway, two enrichment APIs."""
    sources = [{"name": "fleetdata", "base_url": f"{peers.url}/fleetdata", "api_key_env": "FLEETDATA_API_KEY"},
               {"name": "downdata", "base_url": f"{peers.url}/down", "api_key_env": "FLEETDATA_API_KEY",
                "timeout_s": 1.0}]
    return {"AUTERITY_AGENTS__SMTP_HOST": "127.0.0.1", "AUTERITY_AGENTS__SMTP_PORT": str(smtp_port),
            "AUTERITY_AGENTS__SMTP_TLS": "none", "AUTERITY_AGENTS__MAIL_FROM": "service@riverside-ford.example",
            "AUTERITY_AGENTS__SMS_URL": f"{peers.url}/sms", "AUTERITY_AGENTS__SMS_API_KEY": SMS_KEY,
            "AUTERITY_AGENTS__CRM_PATH": crm_path, "AUTERITY_AGENTS__ENRICHMENT_SOURCES": json.dumps(sources),
            "FLEETDATA_API_KEY": ENRICH_KEY, "AUTERITY_ALLOWED_HOSTS": '["127.0.0.1"]',
            "AUTERITY_AGENTS__RETRY_INITIAL_BACKOFF_S": "0.05", "AUTERITY_AGENTS__RETRY_MAX_BACKOFF_S": "0.2",
            "AUTERITY_AGENTS__MISSING_TASK_WAIT_S": "10"}
