"""Commercial company and contact enrichment APIs over HTTP, as ``processors.ports.EnrichmentSource``.

One ``HttpEnrichmentSource`` per configured provider: a GET with query parameters, the API key in a header, a
JSON object back. Not found is an answer (None); a refused key, or a provider still down after a retry, is a
``SourceError`` so the enrichment agent keeps the other sources' data. The key is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, Field, field_validator
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from schemas.errors import SourceError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))


class _Retry(Exception):
    """A failure another attempt may not have: a timeout, a refused connection, 429 or 5xx."""


class HttpEnrichmentSource:
    """A commercial enrichment API: ``GET {base_url}{company_path}?name=&domain=`` and
    ``GET {base_url}{contact_path}?email=&name=&company=``, answering a JSON object of fields (or
    ``{"data": {...}}``). 404 means unknown; 401/403 a refused key; timeouts, connection errors, 429 and 5xx
    are retried ``attempts`` times in all with a short backoff, then reported as a SourceError.

    ``api_key`` is the key itself: the caller reads it from the environment, so the connector never does.
    With the default ``Authorization`` header it is sent as ``Bearer <key>``; any other header gets the bare key.
    """

    def __init__(self, *, name: str, base_url: str, api_key: str, api_key_header: str = "Authorization",
                 weight: float = 0.6, timeout_s: float = 5.0, company_path: str = "/v1/companies",
                 contact_path: str = "/v1/contacts", attempts: int = 2, initial_backoff_s: float = 0.2,
                 client: httpx.AsyncClient | None = None) -> None:
        if not api_key:
            raise ValueError(f"enrichment source {name!r} has an empty API key")
        self._name, self._weight = name, weight
        self.base_url = base_url.rstrip("/")
        self.company_path, self.contact_path = company_path, contact_path
        self.timeout_s, self.attempts, self.initial_backoff_s = timeout_s, attempts, initial_backoff_s
        value = f"Bearer {api_key}" if api_key_header.lower() == "authorization" else api_key
        self._headers = {api_key_header: value, "Accept": "application/json"}
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    def __repr__(self) -> str:  # the default repr would be harmless, but say plainly what is left out
        return f"HttpEnrichmentSource(name={self._name!r}, base_url={self.base_url!r}, api_key=<hidden>)"

    @property
    def name(self) -> str:
        return self._name

    @property
    def weight(self) -> float:
        return self._weight

    async def lookup_company(self, name: str, domain: str | None = None) -> dict[str, Any] | None:
        """The provider's fields for the company, or None when it does not know it."""
        return await self._get(self.company_path, {"name": name, "domain": domain})

    async def lookup_contact(self, contact: dict[str, Any], company: str | None = None) -> dict[str, Any] | None:
        """The provider's fields for the person (by email, name and company), or None when it does not know them."""
        name = contact.get("name") or " ".join(
            str(part) for part in (contact.get("first_name"), contact.get("last_name")) if part) or None
        return await self._get(self.contact_path, {"email": contact.get("email"), "name": name,
                                                   "company": company or contact.get("company")})

    async def aclose(self) -> None:
        """Close the HTTP connection pool, when this source opened it."""
        if self._own_client:
            await self._client.aclose()

    async def _get(self, path: str, query: Mapping[str, Any]) -> dict[str, Any] | None:
        params = {key: str(value) for key, value in query.items() if value not in (None, "")}
        attempt = 0
        try:
            async for retry in AsyncRetrying(retry=retry_if_exception_type(_Retry),
                                             stop=stop_after_attempt(self.attempts),
                                             wait=wait_exponential(multiplier=self.initial_backoff_s, max=2.0),
                                             reraise=True):
                with retry:
                    attempt = retry.retry_state.attempt_number
                    return await self._attempt(path, params, attempt)
        except _Retry as exc:
            raise SourceError(f"source {self._name} did not answer after {attempt} attempts: {exc}") from exc
        raise AssertionError("unreachable: tenacity either returned or raised")  # pragma: no cover

    async def _attempt(self, path: str, params: dict[str, str], attempt: int) -> dict[str, Any] | None:
        try:
            response = await self._client.get(f"{self.base_url}{path}", params=params, headers=self._headers,
                                               timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            log.warning("enrichment source %s: %s timed out (attempt %d)", self._name, path, attempt)
            raise _Retry(f"timed out after {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            log.warning("enrichment source %s: %s unreachable (attempt %d): %s", self._name, path, attempt,
                        type(exc).__name__)
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        log.debug("enrichment source %s: %s answered HTTP %d", self._name, path, status)
        if status == 404:
            return None
        if status in (401, 403):
            raise SourceError(f"source {self._name} refused the API key (HTTP {status}): check its key setting")
        if status in RETRYABLE_STATUS:
            raise _Retry(f"HTTP {status}")
        if not response.is_success:
            raise SourceError(f"source {self._name} rejected the query with HTTP {status}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceError(f"source {self._name} answered HTTP {status} with something other than JSON") from exc
        if isinstance(body, dict) and "data" in body and (body["data"] is None or isinstance(body["data"], dict)):
            body = body["data"]  # {"data": {...}, "meta": ...}: the fields are one level down
        if body is None:
            return None
        if not isinstance(body, dict):
            raise SourceError(f"source {self._name} answered with JSON {type(body).__name__}, not an object")
        return body or None


class EnrichmentSourceConfig(BaseModel):
    """One commercial enrichment provider, as settings name it; the key itself stays in the environment."""

    name: str = Field(min_length=1, description="Shown in results and notes, e.g. 'clearbit'.")
    base_url: str = Field(description="The API's root, e.g. https://api.example.com.")
    api_key_env: str = Field(min_length=1, description="The NAME of the environment variable holding the key.")
    api_key_header: str = Field("Authorization", description="'Authorization' sends 'Bearer <key>'; any other "
                                                             "header (e.g. 'X-Api-Key') sends the bare key.")
    weight: float = Field(0.6, ge=0.0, le=1.0, description="How far its data is trusted when sources disagree.")
    timeout_s: float = Field(5.0, gt=0.0, description="Per request; a timeout is retried once.")
    company_path: str = "/v1/companies"
    contact_path: str = "/v1/contacts"

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"enrichment base_url {value!r} must start with http:// or https://")
        return value


def build_sources(configs: Iterable[EnrichmentSourceConfig], environ: Mapping[str, str], *,
                  client: httpx.AsyncClient | None = None) -> list[HttpEnrichmentSource]:
    """An HttpEnrichmentSource per config, its key read from ``environ[config.api_key_env]``."""
    sources = []
    for config in configs:
        api_key = environ.get(config.api_key_env, "")
        if not api_key:
            raise ValueError(f"enrichment source {config.name!r} reads its API key from the environment variable "
                             f"{config.api_key_env}, which is not set: set it, or remove the source")
        sources.append(HttpEnrichmentSource(
            name=config.name, base_url=config.base_url, api_key=api_key, api_key_header=config.api_key_header,
            weight=config.weight, timeout_s=config.timeout_s, company_path=config.company_path,
            contact_path=config.contact_path, client=client))
    return sources
