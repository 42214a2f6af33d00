"""The LLM router: validated structured answers, fallback to the local group, caching, budgets and access policy.

Nothing here reaches a hosted provider: remote groups are either litellm ``mock_response`` deployments or a
deployment pointed at a closed localhost port.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

import connectors.llm as llm
from connectors.llm import (
    PROVIDER,
    LlmClient,
    LlmError,
    LocalProvider,
    ModelAccessDenied,
    load_config,
)


class ServiceIntent(BaseModel):
    department: str
    confidence: float


TASK = "service_intent"
REMOTE_ANSWER = ServiceIntent(department="service", confidence=0.9).model_dump_json()
LOCAL_ANSWER = ServiceIntent(department="local", confidence=0.5).model_dump_json()
PAID_MODEL = "openai/gpt-4o-mini"


class CountingHandler:
    """A local handler that answers ``LOCAL_ANSWER`` and remembers the prompts it saw."""

    def __init__(self, answer: str = LOCAL_ANSWER) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answer


class FakeClock:
    """Stands in for the module's ``time`` so the cache TTL can expire without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


def mocked(answer: str, **extra: Any) -> dict[str, Any]:
    """A paid deployment answered by litellm's ``mock_response``: a paid API cannot run here."""
    return {"model": PAID_MODEL, "api_key": "sk-test", "mock_response": answer, **extra}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # released on close: nothing listens there any more


def unreachable() -> dict[str, Any]:
    return {"model": PAID_MODEL, "api_key": "sk-test", "api_base": f"http://127.0.0.1:{closed_port()}/v1",
            "timeout": 2, "num_retries": 0}


LOCAL = {"model": f"{PROVIDER}/rules"}


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Writes a router YAML with the given groups (``{group: litellm_params}``) and top-level sections."""

    def write(groups: dict[str, dict[str, Any]], **sections: Any) -> Path:
        document = {
            "model_list": [{"model_name": name, "litellm_params": params} for name, params in groups.items()],
            "router": {"num_retries": 0, "timeout": 5},
            **sections,
        }
        path = tmp_path / "models.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


def client_for(path: Path | None, handler: CountingHandler | None = None) -> LlmClient:
    return LlmClient(load_config(path), LocalProvider({TASK: handler or CountingHandler()}))


async def ask(client: LlmClient, group: str = "smart", *, dealer_id: str = "d1", user_role: str | None = None,
              user: str = "My brakes squeal when I stop; can I book a visit?") -> llm.LlmAnswer:
    return await client.structured(ServiceIntent, task=TASK, system="Classify the dealership request.", user=user,
                                   group=group, dealer_id=dealer_id, user_role=user_role)


# --- the packaged offline default ---------------------------------------------------------------------------


async def test_packaged_default_answers_through_the_local_provider() -> None:
    handler = CountingHandler()
    client = client_for(None, handler)

    answer = await ask(client, "smart")

    assert answer.value == ServiceIntent.model_validate_json(LOCAL_ANSWER)
    assert isinstance(answer.value, ServiceIntent)
    assert answer.provider == PROVIDER == "auterity-local"
    assert answer.model.startswith(f"{PROVIDER}/")
    assert answer.group == "smart"
    assert answer.cost_usd == 0.0
    assert answer.cached is False
    assert answer.notes == ()
    assert handler.prompts == ["My brakes squeal when I stop; can I book a visit?"]


async def test_async_handlers_are_awaited() -> None:
    async def handler(prompt: str) -> str:
        return ServiceIntent(department=prompt, confidence=1.0).model_dump_json()

    client = LlmClient(load_config(), LocalProvider({TASK: handler}))

    answer = await ask(client, "local", user="sales")

    assert answer.value == ServiceIntent(department="sales", confidence=1.0)


async def test_a_task_without_a_local_handler_is_an_error_naming_the_known_tasks() -> None:
    client = LlmClient(load_config(), LocalProvider({"other_task": CountingHandler()}))

    with pytest.raises(LlmError, match="other_task") as caught:
        await ask(client, "local")

    assert not isinstance(caught.value, ModelAccessDenied)


# --- hosted models (litellm mock_response) and falling back to local --------------------------------------------


async def test_paid_answer_reports_model_tokens_and_cost_from_the_bundled_cost_map(
        write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for OpenAI (a paid API cannot run here); litellm still prices the usage."""
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "local": LOCAL}))

    answer = await ask(client, "smart")

    assert answer.value == ServiceIntent.model_validate_json(REMOTE_ANSWER)
    assert (answer.group, answer.model, answer.provider) == ("smart", PAID_MODEL, "openai")
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    input_price, output_price = client.config.price_per_token("smart")
    assert input_price > 0 and output_price > 0
    assert answer.cost_usd > 0
    assert answer.cost_usd == pytest.approx(answer.input_tokens * input_price + answer.output_tokens * output_price)
    assert client.spent_today("d1") == pytest.approx(answer.cost_usd)
    assert answer.notes == ()


async def test_a_configured_price_overrides_the_cost_map(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for a hosted model; the deployment's own prices are what the dealer pays."""
    client = client_for(write_config({
        "smart": mocked(REMOTE_ANSWER, input_cost_per_token=0.001, output_cost_per_token=0.002), "local": LOCAL}))

    answer = await ask(client, "smart")

    assert client.config.price_per_token("smart") == (0.001, 0.002)
    assert answer.cost_usd == pytest.approx(answer.input_tokens * 0.001 + answer.output_tokens * 0.002)


async def test_fenced_json_from_a_hosted_model_is_accepted(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for a hosted model that wraps its JSON in a Markdown fence."""
    client = client_for(write_config({"smart": mocked(f"```json\n{REMOTE_ANSWER}\n```"), "local": LOCAL}))

    answer = await ask(client, "smart")

    assert answer.group == "smart"
    assert answer.value == ServiceIntent.model_validate_json(REMOTE_ANSWER)


@pytest.mark.parametrize("bad_answer", ["not json", json.dumps({"department": "service"})],
                         ids=["not-json", "missing-field"])
async def test_invalid_answers_are_retried_then_local_answers(write_config: Callable[..., Path],
                                                              bad_answer: str) -> None:
    """``mock_response`` stands in for a hosted model that keeps answering something the schema rejects."""
    handler = CountingHandler()
    client = client_for(write_config({"smart": mocked(bad_answer), "local": LOCAL}, structured_attempts=3),
                        handler)

    answer = await ask(client, "smart")

    assert answer.group == "local"
    assert answer.provider == PROVIDER
    assert answer.value == ServiceIntent.model_validate_json(LOCAL_ANSWER)
    assert answer.attempts == 3 + 1
    assert len(answer.notes) == 3
    assert all(note.startswith("smart: invalid answer") for note in answer.notes)
    assert len(handler.prompts) == 1
    assert answer.cost_usd == 0.0
    assert client.spent_today("d1") > 0  # the provider bills rejected answers: they count against the budget


async def test_an_unreachable_provider_falls_back_to_local(write_config: Callable[..., Path]) -> None:
    client = client_for(write_config({"smart": unreachable(), "local": LOCAL}))

    answer = await ask(client, "smart")

    assert answer.group == "local"
    assert answer.provider == PROVIDER
    assert answer.cost_usd == 0.0
    assert len(answer.notes) == 1
    assert answer.notes[0].startswith("smart: ")
    assert "Connection" in answer.notes[0]


async def test_fallbacks_are_tried_in_order_and_the_answer_names_the_group_that_gave_it(
        write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for the hosted ``fast`` group after ``smart`` cannot be reached."""
    client = client_for(write_config(
        {"smart": unreachable(), "fast": mocked(REMOTE_ANSWER), "local": LOCAL},
        router={"num_retries": 0, "timeout": 5, "fallbacks": [{"smart": ["fast", "local"]}]}))

    answer = await ask(client, "smart")

    assert answer.group == "fast"
    assert answer.model == PAID_MODEL
    assert len(answer.notes) == 1 and answer.notes[0].startswith("smart: ")


async def test_a_fallback_the_dealer_may_not_use_is_skipped(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for the hosted ``fast`` group, which this dealer's policy forbids."""
    client = client_for(write_config(
        {"smart": unreachable(), "fast": mocked(REMOTE_ANSWER), "local": LOCAL},
        router={"num_retries": 0, "timeout": 5, "fallbacks": [{"smart": ["fast", "local"]}]},
        access={"dealers": {"d2": {"*": ["smart", "local"]}}}))

    answer = await ask(client, "smart", dealer_id="d2")

    assert answer.group == "local"
    assert answer.provider == PROVIDER
    assert any(note.startswith("fast: not allowed for dealer d2") for note in answer.notes)
    assert client.spent_today("d2") == 0.0


# --- response cache ----------------------------------------------------------------------------------------------


async def test_an_identical_request_is_answered_from_the_cache() -> None:
    handler = CountingHandler()
    client = client_for(None, handler)

    first = await ask(client, "local")
    second = await ask(client, "local")

    assert len(handler.prompts) == 1
    assert first.cached is False
    assert second.cached is True
    assert second.cost_usd == 0.0
    assert second.value == first.value


async def test_a_cached_paid_answer_costs_nothing_the_second_time(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for a hosted model."""
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "local": LOCAL}))

    first = await ask(client, "smart")
    second = await ask(client, "smart")

    assert first.cost_usd > 0
    assert (second.cached, second.cost_usd, second.group, second.model) == (True, 0.0, "smart", PAID_MODEL)
    assert client.spent_today("d1") == pytest.approx(first.cost_usd)


async def test_a_different_request_is_not_served_from_the_cache() -> None:
    handler = CountingHandler()
    client = client_for(None, handler)

    await ask(client, "local", user="oil change please")
    other_prompt = await ask(client, "local", user="tyre rotation please")
    other_group = await ask(client, "fast", user="oil change please")

    assert handler.prompts == ["oil change please", "tyre rotation please", "oil change please"]
    assert other_prompt.cached is False
    assert other_group.cached is False


async def test_cached_answers_expire_after_the_ttl(write_config: Callable[..., Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(llm, "time", clock)
    handler = CountingHandler()
    client = client_for(write_config({"local": LOCAL}, cache={"ttl_s": 60}), handler)

    await ask(client, "local")
    clock.now += 59
    within_ttl = await ask(client, "local")
    clock.now += 2
    after_ttl = await ask(client, "local")

    assert within_ttl.cached is True
    assert after_ttl.cached is False
    assert len(handler.prompts) == 2


async def test_the_least_recently_used_answer_is_evicted(write_config: Callable[..., Path]) -> None:
    handler = CountingHandler()
    client = client_for(write_config({"local": LOCAL}, cache={"max_entries": 2}), handler)

    for prompt in ["a", "b", "a", "c", "a", "b"]:
        await ask(client, "local", user=prompt)

    assert handler.prompts == ["a", "b", "c", "b"]


# --- per-dealer daily budgets ------------------------------------------------------------------------------------


async def test_a_dealer_over_budget_goes_to_local_while_others_keep_the_paid_model(
        write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for a hosted model (a paid API cannot run here); its cost is real."""
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "local": LOCAL},
                                     budgets={"default_daily_usd": 0.000001}))

    first = await ask(client, "smart", dealer_id="d1", user="first request")
    over_budget = await ask(client, "smart", dealer_id="d1", user="second request")
    other_dealer = await ask(client, "smart", dealer_id="d2", user="second request")

    assert first.group == "smart" and first.cost_usd > 0
    assert client.spent_today("d1") == pytest.approx(first.cost_usd)
    assert over_budget.group == "local"
    assert over_budget.cost_usd == 0.0
    assert len(over_budget.notes) == 1 and "BudgetExceeded" in over_budget.notes[0]
    assert "dealer d1" in over_budget.notes[0]
    assert client.spent_today("d1") == pytest.approx(first.cost_usd)
    assert other_dealer.group == "smart"
    assert other_dealer.model == PAID_MODEL


async def test_rejected_paid_answers_spend_the_budget_too(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for a hosted model that answers JSON the schema rejects (billed all the same)."""
    client = client_for(write_config({"smart": mocked("not json"), "local": LOCAL},
                                     budgets={"default_daily_usd": 0.000001}))

    first = await ask(client, "smart", user="first request")
    second = await ask(client, "smart", user="second request")

    assert first.group == "local" and first.notes[0].startswith("smart: invalid answer")
    assert client.spent_today("d1") > client.daily_budget("d1")
    assert second.group == "local"
    assert len(second.notes) == 1 and "BudgetExceeded" in second.notes[0]


async def test_a_dealer_specific_budget_overrides_the_default(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for a hosted model."""
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "local": LOCAL},
                                     budgets={"default_daily_usd": 100.0, "dealers": {"d3": 0.0}}))

    answer = await ask(client, "smart", dealer_id="d3")

    assert client.daily_budget("d3") == 0.0 and client.daily_budget("d1") == 100.0
    assert answer.group == "local"
    assert "BudgetExceeded" in answer.notes[0]


async def test_the_local_group_ignores_budgets(write_config: Callable[..., Path]) -> None:
    client = client_for(write_config({"local": LOCAL}, budgets={"default_daily_usd": 0.0}))

    answer = await ask(client, "local")

    assert answer.group == "local" and answer.notes == ()


# --- model-access policy -----------------------------------------------------------------------------------------


async def test_a_dealer_limited_to_local_gets_local_with_a_note(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for the hosted ``smart`` group this dealer may not use."""
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "local": LOCAL},
                                     access={"dealers": {"d2": {"*": ["local"]}}}))

    limited = await ask(client, "smart", dealer_id="d2")
    unrestricted = await ask(client, "smart", dealer_id="d1")

    assert limited.group == "local"
    assert limited.notes == ("smart: not allowed for dealer d2 role *",)
    assert client.spent_today("d2") == 0.0
    assert unrestricted.group == "smart"


async def test_role_rules_override_the_dealer_wide_rule(write_config: Callable[..., Path]) -> None:
    """``mock_response`` stands in for the hosted ``smart`` group."""
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "local": LOCAL},
                                     access={"dealers": {"d2": {"*": ["local"], "manager": ["smart", "local"]}}}))

    manager = await ask(client, "smart", dealer_id="d2", user_role="manager")
    advisor = await ask(client, "smart", dealer_id="d2", user_role="advisor")

    assert manager.group == "smart"
    assert advisor.group == "local"
    assert advisor.notes == ("smart: not allowed for dealer d2 role advisor",)


async def test_no_allowed_group_in_the_chain_raises_model_access_denied(write_config: Callable[..., Path]) -> None:
    handler = CountingHandler()
    client = client_for(write_config({"smart": mocked(REMOTE_ANSWER), "fast": mocked(REMOTE_ANSWER),
                                      "local": LOCAL},
                                     access={"dealers": {"d2": {"manager": ["smart", "local"]}}}), handler)

    with pytest.raises(ModelAccessDenied, match=r"dealer d2 \(role advisor\) may use none of \[\'smart\', \'local\'\]"):
        await ask(client, "smart", dealer_id="d2", user_role="advisor")
    with pytest.raises(ModelAccessDenied, match=r"dealer d2 \(role \*\) may use none of \[\'fast\', \'local\'\]"):
        await ask(client, "fast", dealer_id="d2")
    assert handler.prompts == []
    assert client.spent_today("d2") == 0.0


# --- configuration -----------------------------------------------------------------------------------------------


def test_the_packaged_default_is_offline() -> None:
    config = load_config()

    assert config.local_group in config.groups()
    assert not any(config.is_paid(group) for group in config.groups())
    assert config.chain("smart") == ["smart", "fast", "local"]


def test_malformed_yaml_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model_list: [\n  - {model_name: smart\n")

    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_config(path)


@pytest.mark.parametrize("document", [
    {"model_list": []},
    {"model_list": [{"model_name": "local", "litellm_params": LOCAL}], "structured_attempts": 0},
    ["not", "a", "mapping"],
], ids=["no-models", "zero-attempts", "not-a-mapping"])
def test_an_invalid_config_is_a_value_error_naming_the_file(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(yaml.safe_dump(document))

    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_config(path)


def test_a_local_group_that_is_not_a_model_name_is_a_value_error(write_config: Callable[..., Path]) -> None:
    path = write_config({"smart": LOCAL}, local_group="offline")

    with pytest.raises(ValueError, match=re.escape(f"{path}: local_group 'offline' is not a model_name")):
        load_config(path)


def test_a_missing_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_config(path)


def test_price_per_token_of_local_and_remote_groups(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config({
        "smart": mocked(REMOTE_ANSWER),
        "fast": mocked(REMOTE_ANSWER, input_cost_per_token=0.0000002, output_cost_per_token=0.0000008),
        "local": LOCAL,
    }))
    # Imported here, after connectors.llm chose the bundled cost map: imported first, litellm would fetch it.
    import litellm

    bundled = litellm.model_cost["gpt-4o-mini"]

    assert config.price_per_token("local") == (0.0, 0.0)
    assert config.price_per_token("smart") == (bundled["input_cost_per_token"], bundled["output_cost_per_token"])
    assert config.price_per_token("smart")[0] > 0
    assert config.price_per_token("fast") == (0.0000002, 0.0000008)
    assert config.price_per_token("no-such-group") == (0.0, 0.0)
    assert config.is_paid("smart") and not config.is_paid("local")
