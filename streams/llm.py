"""The worker's one LLM client (the router of AUTERITY_LLM__CONFIG, with the local provider's handlers that
pipelines register) and each dealer's PII policy, applied before anything reaches it."""

from __future__ import annotations

from connectors.llm import LlmClient, LocalHandler, LocalProvider, load_config
from processors.privacy import PiiType, PrivacyPolicy
from streams.settings import Settings

_CLIENTS: dict[str | None, LlmClient] = {}


def llm_client(settings: Settings, **local_handlers: LocalHandler) -> LlmClient:
    """The client for the configured router (built once per process); ``local_handlers`` join its local model."""
    client = _CLIENTS.get(settings.llm.config)
    if client is None:
        client = _CLIENTS[settings.llm.config] = LlmClient(load_config(settings.llm.config), LocalProvider())
    for task, handler in local_handlers.items():
        client.local.register(task, handler)
    return client


def privacy_policy(settings: Settings, dealer_id: str) -> PrivacyPolicy:
    """The dealer's PII policy: the types listed for it in AUTERITY_PII_POLICY, or all of them."""
    types = settings.pii_policy.get(dealer_id)
    return PrivacyPolicy() if types is None else PrivacyPolicy(redact=frozenset(PiiType(t) for t in types))
