"""LLM access through litellm only: a Router from a YAML model list, structured outputs validated against
pydantic models, response caching, per-dealer daily budgets and a model-access policy per dealer and role.

Every request, to the offline local provider or to a hosted model, goes through the same ``Router``. Callers
redact PII first (``processors.privacy``); this module never sees the raw values and never logs prompts.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the bundled cost map: no network at import
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.router import Router

from connectors.llm.local import PROVIDER, LocalHandler, LocalProvider

log = logging.getLogger(__name__)
DEFAULT_CONFIG = Path(__file__).with_name("models.yaml")
__all__ = ["PROVIDER", "BudgetExceeded", "LlmAnswer", "LlmClient", "LlmConfig", "LlmError", "LocalHandler",
           "LocalProvider", "ModelAccessDenied", "load_config"]


class LlmError(Exception):
    """No model group could give a valid answer; the message says what each one did."""


class ModelAccessDenied(LlmError):
    """The dealer's policy allows none of the model groups this request could use."""


class BudgetExceeded(LlmError):
    """The dealer's daily budget for paid models is spent (the request goes to the local group instead)."""


class CacheConfig(BaseModel):
    ttl_s: float = 3600.0
    max_entries: int = 10_000


class BudgetConfig(BaseModel):
    default_daily_usd: float = 10.0
    dealers: dict[str, float] = {}


class AccessConfig(BaseModel):
    default: list[str] = ["smart", "fast", "local"]
    dealers: dict[str, dict[str, list[str]]] = {}

    def allowed(self, dealer_id: str, role: str | None) -> list[str]:
        by_role = self.dealers.get(dealer_id)
        if by_role is None:
            return self.default
        return by_role.get(role or "*", by_role.get("*", []))


class LlmConfig(BaseModel):
    """The YAML file: litellm's ``model_list`` and Router options, plus our policies (see models.yaml)."""

    model_list: list[dict[str, Any]] = Field(min_length=1)
    router: dict[str, Any] = {}
    structured_attempts: int = Field(2, ge=1)
    local_group: str = "local"
    cache: CacheConfig = CacheConfig()
    budgets: BudgetConfig = BudgetConfig()
    access: AccessConfig = AccessConfig()

    def groups(self) -> list[str]:
        return list(dict.fromkeys(str(m["model_name"]) for m in self.model_list))

    def fallbacks(self, group: str) -> list[str]:
        for entry in self.router.get("fallbacks", []):
            if group in entry:
                return list(entry[group])
        return []

    def chain(self, group: str) -> list[str]:
        """The groups tried for a request to ``group``, in order; the local group always ends it."""
        return list(dict.fromkeys([group, *self.fallbacks(group), self.local_group]))

    def deployments(self, group: str) -> list[dict[str, Any]]:
        return [m["litellm_params"] for m in self.model_list if m["model_name"] == group]

    def is_paid(self, group: str) -> bool:
        return any(not str(d.get("model", "")).startswith(PROVIDER + "/") for d in self.deployments(group))

    def price_per_token(self, group: str) -> tuple[float, float]:
        """(input, output) USD per token of the group's first deployment, from the config or litellm's map."""
        for params in self.deployments(group):
            model = str(params.get("model", ""))
            if model.startswith(PROVIDER + "/"):
                return 0.0, 0.0
            if "input_cost_per_token" in params:
                return float(params["input_cost_per_token"]), float(params.get("output_cost_per_token", 0.0))
            info = litellm.model_cost.get(model) or litellm.model_cost.get(model.split("/", 1)[-1]) or {}
            return float(info.get("input_cost_per_token", 0.0)), float(info.get("output_cost_per_token", 0.0))
        return 0.0, 0.0


def load_config(path: str | Path | None = None) -> LlmConfig:
    """Read a router YAML file (the packaged offline default when ``path`` is None)."""
    source = Path(path) if path else DEFAULT_CONFIG
    try:
        data = yaml.safe_load(source.read_text())
        config = LlmConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"LLM router config {source}: {exc}") from exc
    if config.local_group not in config.groups():
        raise ValueError(f"LLM router config {source}: local_group {config.local_group!r} is not a model_name")
    return config


@dataclass(frozen=True)
class LlmAnswer:
    """A validated structured answer and what it cost."""

    value: BaseModel
    group: str  # the model group that answered
    model: str  # the deployment's model, e.g. openai/gpt-4o-mini or auterity-local/rules
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    attempts: int = 1
    notes: tuple[str, ...] = ()  # why earlier groups did not answer (budget, access, invalid output, errors)


@dataclass
class _Spend:
    day: str = ""
    by_dealer: dict[str, float] = field(default_factory=dict)


class LlmClient:
    """Structured requests through the Router, with the policies of the config around each call."""

    def __init__(self, config: LlmConfig, local: LocalProvider | None = None) -> None:
        self.config = config
        self.local = local or LocalProvider()
        # Fallbacks are walked by ``structured`` (config.chain), never by the Router: a Router fallback would
        # answer from a group the dealer's access policy or budget forbids, under the name of the group asked.
        router_options = {k: v for k, v in config.router.items() if k in ("num_retries", "timeout")}
        self.router = Router(model_list=config.model_list, **router_options)
        self._cache: OrderedDict[str, tuple[float, LlmAnswer]] = OrderedDict()
        self._spend = _Spend()
        self._lock = asyncio.Lock()

    def spent_today(self, dealer_id: str) -> float:
        return self._spend.by_dealer.get(dealer_id, 0.0) if self._spend.day == _today() else 0.0

    def daily_budget(self, dealer_id: str) -> float:
        return self.config.budgets.dealers.get(dealer_id, self.config.budgets.default_daily_usd)

    async def structured(self, response_model: type[BaseModel], *, task: str, system: str, user: str,
                         group: str, dealer_id: str, user_role: str | None = None) -> LlmAnswer:
        """Ask ``group`` (then its fallbacks) for an answer that validates as ``response_model``."""
        allowed = set(self.config.access.allowed(dealer_id, user_role))
        notes: list[str] = []
        response_format = {"type": "json_schema", "json_schema": {
            "name": task, "schema": _json_schema(response_model), "strict": False}}
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        active = _ACTIVE_LOCAL.set(self.local)
        try:
            return await self._structured(response_model, task, messages, response_format, group, dealer_id,
                                          user_role, allowed, notes)
        finally:
            _ACTIVE_LOCAL.reset(active)

    async def _structured(self, response_model: type[BaseModel], task: str, messages: list[dict[str, str]],
                          response_format: dict[str, Any], group: str, dealer_id: str, user_role: str | None,
                          allowed: set[str], notes: list[str]) -> LlmAnswer:
        attempts = 0
        for candidate in self.config.chain(group):
            if candidate not in allowed:
                notes.append(f"{candidate}: not allowed for dealer {dealer_id} role {user_role or '*'}")
                continue
            if self.config.is_paid(candidate) and self.spent_today(dealer_id) >= self.daily_budget(dealer_id):
                notes.append(f"{candidate}: {BudgetExceeded.__name__}: dealer {dealer_id} spent "
                             f"${self.spent_today(dealer_id):.6g} of its ${self.daily_budget(dealer_id):.6g} "
                             f"daily budget")
                continue
            key = _cache_key(candidate, messages, response_format)
            hit = self._cached(key)
            if hit is not None:
                return LlmAnswer(hit.value, hit.group, hit.model, hit.provider, hit.input_tokens, hit.output_tokens,
                                 0.0, True, 0, tuple(notes))
            for _ in range(self.config.structured_attempts):
                attempts += 1
                try:
                    response = await self.router.acompletion(model=candidate, messages=messages,
                                                             response_format=response_format,
                                                             metadata={"dealer_id": dealer_id, "task": task})
                except Exception as exc:  # noqa: BLE001 - every provider error means: try the next group
                    notes.append(f"{candidate}: {type(exc).__name__}: {str(exc)[:200]}")
                    break
                # The provider bills an answer the schema rejects too: it counts against the dealer's budget.
                await self._charge(dealer_id, _response_cost(response))
                answer = self._answer(response, response_model, candidate, attempts, notes)
                if answer is None:
                    continue
                self._store(key, answer)
                return answer
        if not allowed.intersection(self.config.chain(group)):
            raise ModelAccessDenied(f"dealer {dealer_id} (role {user_role or '*'}) may use none of "
                                    f"{self.config.chain(group)}")
        raise LlmError(f"no model group answered {task}: " + "; ".join(notes))

    def _answer(self, response: Any, response_model: type[BaseModel], group: str, attempts: int,
                notes: list[str]) -> LlmAnswer | None:
        content = response.choices[0].message.content or ""
        try:
            value = response_model.model_validate_json(_strip_fences(content))
        except ValidationError as exc:
            notes.append(f"{group}: invalid answer ({exc.error_count()} errors: {exc.errors()[0]['msg']!s})")
            return None
        hidden = getattr(response, "_hidden_params", {}) or {}
        usage = getattr(response, "usage", None)
        model = str(hidden.get("litellm_model_name") or response.model or group)
        provider = PROVIDER if model.startswith(PROVIDER) else str(
            hidden.get("custom_llm_provider") or (model.split("/", 1)[0] if "/" in model else "unknown"))
        return LlmAnswer(value, group, model, provider, int(getattr(usage, "prompt_tokens", 0) or 0),
                         int(getattr(usage, "completion_tokens", 0) or 0),
                         _response_cost(response), False, attempts, tuple(notes))

    async def _charge(self, dealer_id: str, cost_usd: float) -> None:
        async with self._lock:
            if self._spend.day != _today():
                self._spend = _Spend(_today())
            self._spend.by_dealer[dealer_id] = self._spend.by_dealer.get(dealer_id, 0.0) + cost_usd

    def _cached(self, key: str) -> LlmAnswer | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        stored_at, answer = entry
        if time.monotonic() - stored_at > self.config.cache.ttl_s:
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return answer

    def _store(self, key: str, answer: LlmAnswer) -> None:
        self._cache[key] = (time.monotonic(), answer)
        while len(self._cache) > self.config.cache.max_entries:
            self._cache.popitem(last=False)


class _Dispatch(CustomLLM):
    """The one handler litellm knows for ``auterity-local``: it forwards to the local provider of the client whose
    request is running (a context variable), so several clients in one process keep their own handlers."""

    async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
        provider = _ACTIVE_LOCAL.get()
        if provider is None:
            raise LlmError("the local provider is called through LlmClient.structured only")
        return await provider.acompletion(*args, **kwargs)


_ACTIVE_LOCAL: ContextVar[LocalProvider | None] = ContextVar("auterity_local_provider", default=None)


def _quiet_litellm() -> None:
    """litellm logs every call at INFO (with prompts at DEBUG): keep its loggers to warnings and errors."""
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _register_dispatch() -> None:
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != PROVIDER]
    litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": _Dispatch()})
    litellm.suppress_debug_info = True
    litellm.telemetry = False


_register_dispatch()
_quiet_litellm()


def _response_cost(response: Any) -> float:
    """USD litellm computed for one completion (its cost map, or the deployment's own prices)."""
    hidden = getattr(response, "_hidden_params", {}) or {}
    return float(hidden.get("response_cost") or 0.0)


@functools.cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _cache_key(group: str, messages: Sequence[Mapping[str, str]], response_format: Mapping[str, Any]) -> str:
    """The request itself (a dict compares keys in full, so two requests never share an answer by accident);
    the schema is named by the task, so its text stays out of the key."""
    return json.dumps([group, response_format["json_schema"]["name"], messages], separators=(",", ":"))


def _strip_fences(content: str) -> str:
    """Hosted models sometimes wrap JSON in a Markdown code fence."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
    return text


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")
