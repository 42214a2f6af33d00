"""Email, texts and http_request calls against real local servers: an aiosmtpd SMTP server that can refuse or
defer recipients and check a login, and an HTTP server playing the SMS gateway and the called endpoint."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from connectors.messaging import HttpSmsSender, HttpStepCaller, SmtpMailer, message_id_header, normalize_phone
from processors.agents.base import PermanentTaskError, TaskError
from processors.ports import HttpCaller, Mailer, SmsSender
from tests.http_server import Reply, serving

SMS_KEY = "sms-key-7d1c"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------------ SMTP

@dataclass
class Mailbox:
    """An aiosmtpd handler: refuses (550) or defers (451) some recipients, keeps what it accepted."""

    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.defer:
            return "451 4.2.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def check_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bdc", b"s3cret")
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=check_login,
                            auth_require_tls=False)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    smtp[0].received.clear()
    return smtp[0]


def mailer(port: int, **overrides: Any) -> SmtpMailer:
    settings: dict[str, Any] = {"host": "127.0.0.1", "port": port, "sender": "Riverside Ford <service@riverside.test>",
                                "tls": "none", "timeout_s": 5.0, **overrides}
    return SmtpMailer(**settings)


async def test_the_email_arrives_with_its_headers_and_body(smtp: tuple[Mailbox, int], mailbox: Mailbox) -> None:
    smtp_mailer = mailer(smtp[1])
    sender: Mailer = smtp_mailer
    sent = await sender.send_email(to="dana.whitfield@harborfleet.com", subject="Your fleet quote\n is ready",
                                   body="Hi Dana,\n\nThe quote for 12 Transit vans is attached.\n",
                                   message_id="9f2c4e1a@auterity")
    assert sent == "<9f2c4e1a@auterity>"
    [(recipients, message)] = mailbox.received
    assert recipients == ["dana.whitfield@harborfleet.com"]
    assert message["To"] == "dana.whitfield@harborfleet.com" and message["From"] == smtp_mailer.sender
    assert message["Subject"] == "Your fleet quote is ready" and message["Message-ID"] == "<9f2c4e1a@auterity>"
    assert message["Date"] and message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "Hi Dana,\n\nThe quote for 12 Transit vans is attached.\n"


async def test_a_login_is_used_and_a_wrong_one_is_permanent(smtp: tuple[Mailbox, int], mailbox: Mailbox) -> None:
    await mailer(smtp[1], username="bdc", password="s3cret").send_email(
        to="Dana Whitfield <dana.whitfield@harborfleet.com>", subject="Hello", body="Hi", message_id="<a1@auterity>")
    assert mailbox.received[0][0] == ["dana.whitfield@harborfleet.com"]
    with pytest.raises(PermanentTaskError, match="check the SMTP username and password"):
        await mailer(smtp[1], username="bdc", password="wrong").send_email(
            to="dana.whitfield@harborfleet.com", subject="Hello", body="Hi", message_id="a2")


async def test_a_refused_recipient_is_permanent_and_a_deferred_one_is_retryable(
        smtp: tuple[Mailbox, int], mailbox: Mailbox) -> None:
    mailbox.refuse.add("gone@harborfleet.com")
    mailbox.defer.add("busy@harborfleet.com")
    with pytest.raises(PermanentTaskError, match=r"refused recipient gone@harborfleet.com: 550"):
        await mailer(smtp[1]).send_email(to="gone@harborfleet.com", subject="s", body="b", message_id="m1")
    with pytest.raises(TaskError, match=r"deferred recipient busy@harborfleet.com: 451") as deferred:
        await mailer(smtp[1]).send_email(to="busy@harborfleet.com", subject="s", body="b", message_id="m2")
    assert not isinstance(deferred.value, PermanentTaskError) and mailbox.received == []


async def test_a_bad_address_or_message_id_is_permanent(smtp: tuple[Mailbox, int], mailbox: Mailbox) -> None:
    for bad in ("dana at harborfleet", "", "dana@harborfleet.com\nBcc: all@harborfleet.com"):
        with pytest.raises(PermanentTaskError):
            await mailer(smtp[1]).send_email(to=bad, subject="s", body="b", message_id="m3")
    with pytest.raises(PermanentTaskError, match="cannot be a Message-ID"):
        await mailer(smtp[1]).send_email(to="dana@harborfleet.com", subject="s", body="b", message_id="two words")
    assert mailbox.received == []
    assert message_id_header("abc") == "<abc@auterity>" == message_id_header(" <abc@auterity> ")


async def test_a_server_that_is_down_is_retryable() -> None:
    with pytest.raises(TaskError, match=r"unavailable|unreachable") as failure:
        await mailer(free_port()).send_email(to="dana@harborfleet.com", subject="s", body="b", message_id="m4")
    assert not isinstance(failure.value, PermanentTaskError)


async def test_starttls_against_a_server_without_it_is_a_settings_error(smtp: tuple[Mailbox, int]) -> None:
    with pytest.raises(PermanentTaskError, match=r"STARTTLS extension not supported.*check the SMTP TLS mode"):
        await mailer(smtp[1], tls="starttls").send_email(to="dana@harborfleet.com", subject="s", body="b",
                                                          message_id="m5")


def test_mailer_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="tls mode"):
        SmtpMailer(host="smtp.example.com", sender="a@example.com", tls="tls")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an email address"):
        SmtpMailer(host="smtp.example.com", sender="service desk")
    assert "s3cret" not in repr(SmtpMailer(host="smtp.example.com", sender="a@example.com", password="s3cret"))


# ------------------------------------------------------------------------------------------------ HTTP

@dataclass
class Endpoint:
    """A local HTTP server; ``reply(method, path, headers, body)`` decides each answer."""

    reply: Callable[[str, str, Any, bytes], Reply] = lambda method, path, headers, body: (200, {}, b"ok")
    url: str = ""
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        self.requests.append((method, path, dict(headers.items()), body))
        return self.reply(method, path, headers, body)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    endpoint = Endpoint()
    with serving(endpoint.handle) as url:
        endpoint.url = url
        yield endpoint


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def gateway(status: int, answer: Any) -> Callable[[str, str, Any, bytes], Reply]:
    def reply(method: str, path: str, headers: Any, body: bytes) -> Reply:
        if headers.get("Authorization") != f"Bearer {SMS_KEY}":
            return 401, {}, b'{"error": "bad key"}'
        return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()
    return reply


def sms(endpoint: Endpoint, client: httpx.AsyncClient, key: str = SMS_KEY) -> HttpSmsSender:
    return HttpSmsSender(url=f"{endpoint.url}/v1/messages", api_key=key, timeout_s=2.0, client=client)


async def test_a_text_is_posted_with_key_and_idempotency_key(endpoint: Endpoint, client: httpx.AsyncClient) -> None:
    endpoint.reply = gateway(201, {"sid": "SM7f3e", "status": "queued"})
    sender: SmsSender = sms(endpoint, client)
    assert await sender.send_sms(to="(253) 555-0142", body="Your Tacoma is ready for pickup.",
                                 message_id="wf/run/text") == "SM7f3e"
    [(method, path, headers, body)] = endpoint.requests
    assert (method, path, headers["Authorization"]) == ("POST", "/v1/messages", f"Bearer {SMS_KEY}")
    assert json.loads(body) == {"to": "+12535550142", "body": "Your Tacoma is ready for pickup.",
                                "idempotency_key": "wf/run/text"}
    endpoint.reply = gateway(200, ["not an object"])
    assert await sender.send_sms(to="+12535550142", body="Hi", message_id="mid-2") == "mid-2"


async def test_gateway_refusals_are_permanent_and_outages_retryable(endpoint: Endpoint,
                                                                    client: httpx.AsyncClient) -> None:
    endpoint.reply = gateway(400, {"error": "unsubscribed number"})
    with pytest.raises(PermanentTaskError, match=r"HTTP 400.*unsubscribed"):
        await sms(endpoint, client).send_sms(to="+12535550142", body="Hi", message_id="m1")
    with pytest.raises(PermanentTaskError, match="HTTP 401"):
        await sms(endpoint, client, key="wrong").send_sms(to="+12535550142", body="Hi", message_id="m2")
    for status in (503, 429):
        endpoint.reply = gateway(status, {"error": "later"})
        with pytest.raises(TaskError, match=f"HTTP {status}") as failure:
            await sms(endpoint, client).send_sms(to="+12535550142", body="Hi", message_id="m3")
        assert not isinstance(failure.value, PermanentTaskError)
    unreachable = HttpSmsSender(url=f"http://127.0.0.1:{free_port()}/v1", api_key=SMS_KEY, client=client)
    with pytest.raises(TaskError, match="unreachable"):
        await unreachable.send_sms(to="+12535550142", body="Hi", message_id="m4")


async def test_a_bad_number_or_empty_text_is_permanent_and_never_sent(endpoint: Endpoint,
                                                                       client: httpx.AsyncClient) -> None:
    for bad in ("555-0142", "call me", "+0123456789", ""):
        with pytest.raises(PermanentTaskError, match="not a phone number"):
            await sms(endpoint, client).send_sms(to=bad, body="Hi", message_id="m5")
    with pytest.raises(PermanentTaskError, match="empty"):
        await sms(endpoint, client).send_sms(to="+12535550142", body="  ", message_id="m6")
    assert endpoint.requests == []
    assert normalize_phone("+44 20 7946 0958") == "+442079460958" == normalize_phone("0044 20 7946 0958")
    assert normalize_phone("1-253-555-0142") == "+12535550142"


async def test_an_allowed_host_is_called_and_answers_come_back(endpoint: Endpoint,
                                                               client: httpx.AsyncClient) -> None:
    endpoint.reply = lambda method, path, headers, body: (200, {"Content-Type": "application/json"},
                                                          json.dumps({"echo": json.loads(body or b"null")}).encode())
    caller: HttpCaller = HttpStepCaller(allowed_hosts=frozenset({"127.0.0.1"}), timeout_s=2.0, client=client)
    status, text = await caller.call(method="post", url=f"{endpoint.url}/hooks/dms", payload={"ro": "RO-1"},
                                     headers={"X-Dealer": "riverside"})
    assert status == 200 and json.loads(text) == {"echo": {"ro": "RO-1"}}
    assert endpoint.requests[0][2]["X-Dealer"] == "riverside"
    endpoint.reply = lambda method, path, headers, body: (404, {}, b"no such RO")
    assert await caller.call(method="GET", url=f"{endpoint.url}/ro", payload={"n": 7}) == (404, "no such RO")
    assert endpoint.requests[-1][1] == "/ro?n=7"
    endpoint.reply = lambda method, path, headers, body: (302, {"Location": "http://example.com/"}, b"")
    assert (await caller.call(method="GET", url=endpoint.url))[0] == 302  # not followed off the allowed hosts


async def test_other_hosts_and_schemes_are_refused(client: httpx.AsyncClient) -> None:
    caller = HttpStepCaller(allowed_hosts=frozenset({"127.0.0.1", "*.dealer.example"}), client=client)
    with pytest.raises(PermanentTaskError, match=r"host example.com is not in AUTERITY_ALLOWED_HOSTS"):
        await caller.call(method="GET", url="https://example.com/steal")
    with pytest.raises(PermanentTaskError, match="only http:// and https://"):
        await caller.call(method="GET", url="file:///etc/passwd")
    with pytest.raises(PermanentTaskError, match="method 'CONNECT'"):
        await caller.call(method="CONNECT", url="http://127.0.0.1/")
    with pytest.raises(PermanentTaskError, match=r"host example\.com is not"):
        await caller.call(method="GET", url="http://127.0.0.1@example.com/")  # user info is not the host
    assert caller.check_url("https://api.dealer.example/v1") == "api.dealer.example"
    with pytest.raises(PermanentTaskError, match="not in AUTERITY_ALLOWED_HOSTS"):
        caller.check_url("https://evil-dealer.example/")
    assert HttpStepCaller(client=client).check_url("https://anything.example/") == "anything.example"


async def test_server_errors_are_retryable_and_bodies_are_capped(endpoint: Endpoint,
                                                                 client: httpx.AsyncClient) -> None:
    caller = HttpStepCaller(allowed_hosts=frozenset({"127.0.0.1"}), timeout_s=2.0, client=client)
    endpoint.reply = lambda method, path, headers, body: (500, {}, b"database down")
    with pytest.raises(TaskError, match="answered HTTP 500: database down") as failure:
        await caller.call(method="GET", url=endpoint.url)
    assert not isinstance(failure.value, PermanentTaskError)
    endpoint.reply = lambda method, path, headers, body: (200, {"Content-Type": "text/plain; charset=utf-8"},
                                                          ("a" + "é" * 100_000).encode())
    status, text = await caller.call(method="GET", url=endpoint.url)
    assert status == 200 and text == "a" + "é" * 32_767  # 64 KiB ends inside an "é": that one is dropped
    with pytest.raises(TaskError, match="unreachable"):
        await caller.call(method="GET", url=f"http://127.0.0.1:{free_port()}/")


async def test_a_slow_endpoint_times_out_as_retryable(endpoint: Endpoint, client: httpx.AsyncClient) -> None:
    def slow(method: str, path: str, headers: Any, body: bytes) -> Reply:
        time.sleep(1.0)
        return 200, {}, b"too late"

    endpoint.reply = slow
    caller = HttpStepCaller(allowed_hosts=frozenset({"127.0.0.1"}), timeout_s=0.3, client=client)
    with pytest.raises(TaskError, match=r"did not answer within 0\.3 s") as failure:
        await caller.call(method="GET", url=endpoint.url)
    assert not isinstance(failure.value, PermanentTaskError)
