"""Outbound messages and calls for agent steps: email over the dealer's SMTP server, texts through an HTTP SMS
gateway, and ``http_request`` steps limited to allowed hosts.

Each maps the far side's answer onto the agents' error types: ``PermanentTaskError`` when retrying cannot help (a
refused recipient, a malformed number, a 4xx), ``TaskError`` when a later attempt may succeed (a timeout, a server
down, a 429 or 5xx). None of them retries by itself: the orchestrator does, with backoff.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from collections.abc import Set
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal

import aiosmtplib
import httpx

from schemas.errors import PermanentTaskError, TaskError

EMAIL_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                           r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
MESSAGE_ID_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
MAX_BODY_BYTES = 64 * 1024


def _address(to: str) -> str:
    """The bare address in ``to`` ("Dana <dana@x.com>" or "dana@x.com"), or PermanentTaskError."""
    if "\n" in to or "\r" in to:
        raise PermanentTaskError(f"email recipient {to!r} contains a line break")
    _, address = parseaddr(to.strip())
    if not EMAIL_ADDRESS.match(address):
        raise PermanentTaskError(f"{to!r} is not an email address")
    return address


def message_id_header(message_id: str) -> str:
    """A well-formed ``Message-ID``: ``<left@right>``; ``abc``, ``abc@auterity`` and ``<abc@auterity>`` all work."""
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    left, _, right = bare.partition("@")
    right = right or "auterity"
    if not (left and MESSAGE_ID_PART.match(left) and MESSAGE_ID_PART.match(right)):
        raise PermanentTaskError(f"message id {message_id!r} cannot be a Message-ID header: use letters, digits "
                                 "and . - _ with one @")
    return f"<{left}@{right}>"


def _smtp_failure(exc: aiosmtplib.SMTPException, host: str, to: str) -> TaskError:
    """5xx is the server's final answer; 4xx and anything on the wire may pass on another attempt."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in exc.recipients]
        detail = "; ".join(f"{refusal.code} {refusal.message}" for refusal in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            return PermanentTaskError(f"SMTP server {host} refused recipient {to}: {detail}")
        return TaskError(f"SMTP server {host} deferred recipient {to}: {detail}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return PermanentTaskError(f"SMTP server {host} refused the login ({exc.code} {exc.message}): check the "
                                  "SMTP username and password")
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(exc, aiosmtplib.SMTPConnectError):
        kind = PermanentTaskError if exc.code >= 500 else TaskError
        return kind(f"SMTP server {host} answered {exc.code} {exc.message} sending to {to}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or type(exc) is aiosmtplib.SMTPException:
        # aiosmtplib's bare SMTPException: the server lacks what the settings ask (STARTTLS, AUTH, a mechanism)
        return PermanentTaskError(f"SMTP server {host} cannot be used as configured: {exc} (check the SMTP TLS "
                                  "mode and login settings)")
    return TaskError(f"SMTP server {host} unavailable: {type(exc).__name__}: {exc}")


@dataclass
class SmtpMailer:
    """Sends plain-text email through the dealer's SMTP server (``processors.ports.Mailer``).

    ``tls``: ``"starttls"`` upgrades a plain connection (usually port 587), ``"ssl"`` is TLS from the first byte
    (usually 465), ``"none"`` sends in the clear (a local relay only). Credentials are optional.
    """

    host: str
    port: int = 587
    _: KW_ONLY
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    timeout_s: float = 30.0
    validate_certs: bool = True

    def __post_init__(self) -> None:
        if self.tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"SMTP tls mode {self.tls!r}: expected 'none', 'starttls' or 'ssl'")
        _, address = parseaddr(self.sender)
        if not EMAIL_ADDRESS.match(address):
            raise ValueError(f"SMTP sender {self.sender!r} is not an email address")

    def build(self, *, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
        """The message ``send_email`` sends: From, To, Subject, Date, Message-ID and a plain-text body."""
        address = _address(to)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to.strip() if "<" in to else address
        message["Subject"] = " ".join(subject.split())  # no header folding tricks: one line
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id_header(message_id)
        message.set_content(body)
        return message

    async def send_email(self, *, to: str, subject: str, body: str, message_id: str) -> str:
        """Send one email; the Message-ID it went out with (derived from the task, so a resend is recognisable)."""
        message = self.build(to=to, subject=subject, body=body, message_id=message_id)
        address = _address(to)
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, username=self.username,
                                  password=self.password, use_tls=self.tls == "ssl",
                                  start_tls=self.tls == "starttls",
                                  timeout=self.timeout_s, validate_certs=self.validate_certs)
        except aiosmtplib.SMTPException as exc:
            raise _smtp_failure(exc, self.host, address) from exc
        except OSError as exc:  # refused before the SMTP conversation began
            raise TaskError(f"SMTP server {self.host}:{self.port} unreachable: {exc}") from exc
        return str(message["Message-ID"])


def normalize_phone(number: str, default_country_code: str | None = "1") -> str:
    """``+<country><number>`` (E.164) from a number with spaces, dashes, dots or brackets; a ten-digit number
    without a country code gets ``default_country_code``. PermanentTaskError when it cannot be a phone number."""
    raw = number.strip()
    digits = re.sub(r"[\s().-]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+") and default_country_code and len(digits) == 10:
        digits = f"+{default_country_code}{digits}"
    elif not digits.startswith("+") and default_country_code and len(digits) == 10 + len(default_country_code) \
            and digits.startswith(default_country_code):
        digits = f"+{digits}"
    if not E164.match(digits):
        raise PermanentTaskError(f"{number!r} is not a phone number a text can go to: use +<country><number>, "
                                 "e.g. +12535550142")
    return digits


@dataclass
class HttpSmsSender:
    """Texts through the dealer's SMS gateway (``processors.ports.SmsSender``): ``POST url`` with JSON
    ``{"to", "body", "idempotency_key"}`` and the API key in a header (``Authorization: Bearer <key>`` by
    default; any other header name gets the bare key; None sends none). The gateway de-duplicates on
    ``idempotency_key``."""

    url: str
    api_key: str | None = field(default=None, repr=False)
    _: KW_ONLY
    api_key_header: str = "Authorization"
    timeout_s: float = 10.0
    default_country_code: str | None = "1"
    client: httpx.AsyncClient = field(default_factory=httpx.AsyncClient, repr=False)

    async def send_sms(self, *, to: str, body: str, message_id: str) -> str:
        """Send one text; the gateway's message id (``id``, ``sid`` or ``message_id``), else ``message_id``."""
        number = normalize_phone(to, self.default_country_code)
        if not body.strip():
            raise PermanentTaskError(f"the text message to {number} is empty")
        headers = {}
        if self.api_key:
            bearer = self.api_key_header.lower() == "authorization"
            headers[self.api_key_header] = f"Bearer {self.api_key}" if bearer else self.api_key
        try:
            response = await self.client.post(self.url, json={"to": number, "body": body,
                                                              "idempotency_key": message_id},
                                              headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise TaskError(f"SMS gateway {self.url} timed out after {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise TaskError(f"SMS gateway {self.url} unreachable: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if response.is_success:
            try:
                answer = response.json()
            except ValueError:
                return message_id
            if isinstance(answer, dict):
                for name in ("id", "sid", "message_id"):
                    if answer.get(name):
                        return str(answer[name])
            return message_id
        detail = f"SMS gateway {self.url} answered HTTP {status} for {number}: {response.text[:200]}"
        if 400 <= status < 500 and status not in (408, 429):
            raise PermanentTaskError(detail)
        raise TaskError(detail)

    async def aclose(self) -> None:
        await self.client.aclose()


def _decode(data: bytes, encoding: str) -> str:
    """Text of a body that may have been cut inside a character: the cut character is dropped, not mangled."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return str(decoder.decode(data, final=False))


def _host_allowed(host: str, port: int | None, allowed: Set[str]) -> bool:
    """``host``, ``host:port``, or a parent domain written ``.example.com`` / ``*.example.com``."""
    if not allowed:
        return True
    if host in allowed or (port is not None and f"{host}:{port}" in allowed):
        return True
    return any(entry.startswith(("*.", ".")) and host.endswith("." + entry.lstrip("*.")) for entry in allowed)


@dataclass
class HttpStepCaller:
    """Makes ``http_request`` steps' calls (``processors.ports.HttpCaller``) to allowed hosts only.

    ``allowed_hosts`` (``host``, ``host:port`` or ``*.domain``) empty means any host. Redirects are not followed
    (a redirect could leave the allowed hosts): a 3xx comes back as the answer. ``timeout_s`` bounds the whole
    call; bodies are cut at ``max_body_bytes``. 429 and 5xx raise TaskError so the orchestrator retries; other
    statuses are returned for the workflow to judge.
    """

    allowed_hosts: Set[str] = frozenset()
    _: KW_ONLY
    timeout_s: float = 15.0
    max_body_bytes: int = MAX_BODY_BYTES
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(follow_redirects=False),
                                      repr=False)

    def __post_init__(self) -> None:
        self.allowed_hosts = frozenset(host.strip().lower() for host in self.allowed_hosts if host.strip())

    def check_url(self, url: str) -> str:
        """The URL's host, when the URL may be called; else PermanentTaskError saying why."""
        try:  # httpx's own parser: the host checked is the host connected to
            parsed = httpx.URL(url.strip())
        except httpx.InvalidURL as exc:
            raise PermanentTaskError(f"http_request URL {url!r} is not a valid URL: {exc}") from exc
        if parsed.scheme not in ("http", "https"):
            raise PermanentTaskError(f"http_request URL {url!r}: only http:// and https:// can be called")
        host = parsed.host.lower()
        if not host:
            raise PermanentTaskError(f"http_request URL {url!r} has no host")
        if not _host_allowed(host, parsed.port, self.allowed_hosts):
            raise PermanentTaskError(f"host {host} is not in AUTERITY_ALLOWED_HOSTS")
        return host

    async def call(self, *, method: str, url: str, payload: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, str]:
        """(status, body as text, at most ``max_body_bytes``); raises on a refused URL, a failed connection,
        429 or 5xx."""
        verb = method.strip().upper()
        if verb not in HTTP_METHODS:
            raise PermanentTaskError(f"http_request method {method!r}: use one of {', '.join(sorted(HTTP_METHODS))}")
        host = self.check_url(url)
        content: dict[str, Any] = {}
        if isinstance(payload, str | bytes):
            content["content"] = payload
        elif payload is not None and verb in ("GET", "HEAD", "DELETE") and isinstance(payload, dict):
            content["params"] = {key: str(value) for key, value in payload.items()}
        elif payload is not None:
            content["json"] = payload
        try:
            async with asyncio.timeout(self.timeout_s), \
                    self.client.stream(verb, url.strip(), headers=headers, timeout=self.timeout_s,
                                       **content) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= self.max_body_bytes:
                        break
                status, encoding = response.status_code, response.encoding or "utf-8"
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise TaskError(f"{host} did not answer within {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise TaskError(f"{host} unreachable: {type(exc).__name__}: {exc}") from exc
        text = _decode(bytes(body[: self.max_body_bytes]), encoding)
        if status == 429 or status >= 500:
            raise TaskError(f"{host} answered HTTP {status}: {text[:200]}")
        return status, text

    async def aclose(self) -> None:
        await self.client.aclose()
