"""Commercial enrichment over HTTP against a real local provider that checks the API key and can be told to
answer found, unknown, failing, flaky or hanging."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from connectors.enrichment import EnrichmentSourceConfig, HttpEnrichmentSource, build_sources
from processors.ports import EnrichmentSource, SourceError
from tests.http_server import Reply, json_reply, serving

API_KEY = "sk-live-9f8e7d6c5b4a-harbor"
HARBOR = {"name": "Harbor Fleet Services", "domain": "harborfleet.com", "industry": "fleet management",
          "employees": 240, "city": "Tacoma", "state": "WA"}
DANA = {"name": "Dana Whitfield", "title": "Fleet Director", "email": "dana.whitfield@harborfleet.com"}


@dataclass
class Provider:
    """What the provider answers: ``found``, ``wrapped`` ({"data": ...}), ``unknown`` (404), ``error`` (500),
    ``flaky`` (500 once, then found) or ``hang`` (no answer until the test ends)."""

    mode: str = "found"
    key_header: str = "Authorization"
    key_value: str = f"Bearer {API_KEY}"
    url: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, query: dict[str, str], headers: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((path, query))
            count = len(self.requests)
        if headers.get(self.key_header) != self.key_value:
            return 401, {"error": "invalid api key"}
        if self.mode == "hang":
            self.release.wait(10)
            return 200, {}
        if self.mode == "unknown":
            return 404, {"error": "not found"}
        if self.mode == "error" or (self.mode == "flaky" and count == 1):
            return 500, {"error": "internal"}
        found = HARBOR if path == "/v1/companies" else DANA
        return 200, {"data": found, "meta": {"credits_left": 99}} if self.mode == "wrapped" else found


@pytest.fixture
def provider() -> Iterator[Provider]:
    provider = Provider()

    def respond(method: str, path: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(path)
        return json_reply(*provider.answer(parts.path, dict(parse_qsl(parts.query)), headers))

    with serving(respond) as url:
        provider.url = url
        try:
            yield provider
        finally:
            provider.release.set()  # a handler still hanging returns


def source_for(provider: Provider, *, api_key: str = API_KEY, timeout_s: float = 2.0) -> HttpEnrichmentSource:
    return HttpEnrichmentSource(name="acme-data", base_url=provider.url, api_key=api_key, timeout_s=timeout_s,
                                initial_backoff_s=0.01)


async def test_a_known_company_and_contact_are_returned_as_fields(provider: Provider) -> None:
    source: EnrichmentSource = source_for(provider)
    assert source.name == "acme-data" and source.weight == 0.6
    assert await source.lookup_company("Harbor Fleet Services", "harborfleet.com") == HARBOR
    assert await source.lookup_contact({"first_name": "Dana", "last_name": "Whitfield",
                                        "email": "dana.whitfield@harborfleet.com"}, company="Harbor Fleet") == DANA
    assert provider.requests == [
        ("/v1/companies", {"name": "Harbor Fleet Services", "domain": "harborfleet.com"}),
        ("/v1/contacts", {"email": "dana.whitfield@harborfleet.com", "name": "Dana Whitfield",
                          "company": "Harbor Fleet"})]


async def test_a_data_envelope_is_flattened(provider: Provider) -> None:
    provider.mode = "wrapped"
    assert await source_for(provider).lookup_company("Harbor Fleet Services") == HARBOR


async def test_unknown_is_none_not_an_error(provider: Provider) -> None:
    provider.mode = "unknown"
    assert await source_for(provider).lookup_company("Nobody Motors") is None
    assert len(provider.requests) == 1


async def test_a_refused_key_is_a_source_error_without_retry(provider: Provider) -> None:
    with pytest.raises(SourceError, match="source acme-data refused the API key"):
        await source_for(provider, api_key="sk-wrong").lookup_company("Harbor Fleet Services")
    assert len(provider.requests) == 1


async def test_a_flaky_provider_succeeds_on_the_retry(provider: Provider) -> None:
    provider.mode = "flaky"
    assert await source_for(provider).lookup_company("Harbor Fleet Services") == HARBOR
    assert len(provider.requests) == 2


async def test_a_failing_provider_is_a_source_error_after_two_attempts(provider: Provider) -> None:
    provider.mode = "error"
    with pytest.raises(SourceError, match="did not answer after 2 attempts: HTTP 500"):
        await source_for(provider).lookup_company("Harbor Fleet Services")
    assert len(provider.requests) == 2


async def test_a_hanging_provider_times_out(provider: Provider) -> None:
    provider.mode = "hang"
    started = time.perf_counter()
    with pytest.raises(SourceError, match=r"after 2 attempts: timed out after 0.5 s"):
        await source_for(provider, timeout_s=0.5).lookup_company("Harbor Fleet Services")
    assert time.perf_counter() - started < 3


async def test_an_unreachable_provider_is_a_source_error(provider: Provider) -> None:
    source = HttpEnrichmentSource(name="acme-data", base_url="http://127.0.0.1:9", api_key=API_KEY,
                                  initial_backoff_s=0.01)
    with pytest.raises(SourceError, match="ConnectError"):
        await source.lookup_contact({"email": "dana.whitfield@harborfleet.com"})


async def test_the_key_never_reaches_logs_or_errors(provider: Provider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    messages = []
    for mode, key in (("found", API_KEY), ("error", API_KEY), ("found", "sk-wrong-key"), ("hang", API_KEY)):
        provider.mode = mode
        source = source_for(provider, api_key=key, timeout_s=0.3)
        messages.append(repr(source))
        try:
            await source.lookup_company("Harbor Fleet Services")
        except SourceError as exc:
            messages.append(f"{exc!r} {exc.__cause__!r}")
    assert caplog.records, "expected the connector and httpx to log something"
    assert API_KEY not in caplog.text and "sk-wrong-key" not in caplog.text
    assert not any(API_KEY in message or "sk-wrong-key" in message for message in messages)


async def test_build_sources_reads_each_key_from_the_named_variable(provider: Provider) -> None:
    provider.key_header, provider.key_value = "X-Api-Key", API_KEY
    config = EnrichmentSourceConfig(name="acme-data", base_url=provider.url, api_key_env="ACME_DATA_API_KEY",
                                    api_key_header="X-Api-Key", weight=0.7, timeout_s=1)
    [source] = build_sources([config], {"ACME_DATA_API_KEY": API_KEY})
    assert source.name == "acme-data" and source.weight == 0.7
    assert await source.lookup_company("Harbor Fleet Services") == HARBOR
    with pytest.raises(ValueError, match="environment variable ACME_DATA_API_KEY, which is not set"):
        build_sources([config], {})
    with pytest.raises(ValidationError, match="must start with http"):
        EnrichmentSourceConfig(name="x", base_url="ftp://example.com", api_key_env="X")
    with pytest.raises(ValidationError):
        EnrichmentSourceConfig(name="x", base_url="https://example.com", api_key_env="X", weight=1.5)
