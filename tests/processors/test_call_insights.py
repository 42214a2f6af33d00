"""The LLM's part of call analysis (AUTERITY_LLM__CALLS_GROUP): redact, ask through the Router, restore, merge.

Real recordings and the real tiny.en model; the router is the real litellm Router. The hosted model is
litellm's ``mock_response`` (a paid API cannot run here); the offline path is the local provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.llm import LlmClient, LocalProvider, load_config
from processors.calls import CallAnalyzer
from processors.calls.insights import CallInsights, LlmCallAnalyzer, extractive_insights, merge_actions
from processors.privacy import redact
from schemas.models import ActionItem, AIAuditEvent, CallAnalysis
from tests.calls_corpus import BuiltCall
from tests.processors.test_calls_asr import recorded


async def test_the_router_gets_the_redacted_transcript_and_its_items_are_merged(
        call_analyzer: CallAnalyzer, call_corpus: dict[str, BuiltCall]) -> None:
    requests: list[dict[str, Any]] = []

    def model(request: str) -> str:
        requests.append(json.loads(request))
        return CallInsights(summary="The customer's lease ends soon; [PERSON_NAME_1] will send options.",
                            action_items=[{"task": "Reserve a loaner for the turn-in inspection", "assignee": "bdc-7",
                                           "deadline": "2026-11-27T17:00:00Z", "priority": "high"}]).model_dump_json()

    llm = LlmClient(load_config(), LocalProvider({"call_insights": model}))
    analyzer = LlmCallAnalyzer(call_analyzer, llm, group="smart")
    built = call_corpus["lease-end"]
    outcome = await analyzer.process(recorded(built.path.read_bytes(), built.call.name, built.call.agent_channel))
    result = outcome.results[0]
    assert isinstance(result, CallAnalysis) and result.error is None
    assert requests[0]["transcript"] == redact(result.transcript).text  # nothing but the redacted text left
    assert requests[0]["agent_id"] == "bdc-7"
    assert result.summary and result.summary.startswith("The customer's lease ends soon")
    assert any(item.task == "Reserve a loaner for the turn-in inspection" and item.priority == "high"
               for item in result.action_items)
    audit = outcome.extra[-1]
    assert isinstance(audit, AIAuditEvent) and audit.operation_type == "call_insights"
    assert audit.provider == "auterity-local"


async def test_a_hosted_model_is_charged_and_audited(call_analyzer: CallAnalyzer, call_corpus: dict[str, BuiltCall],
                                                     tmp_path: Path) -> None:
    answer = CallInsights(summary="Billing dispute about a duplicate charge.", action_items=[
        {"task": "Refund the duplicate charge", "assignee": "bdc-7", "priority": "urgent"}]).model_dump_json()
    config = tmp_path / "router.yaml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "model_list": [{"model_name": "smart", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-test",
                                                                  "mock_response": answer}},
                       {"model_name": "local", "litellm_params": {"model": "auterity-local/rules"}}]}))
    llm = LlmClient(load_config(config), LocalProvider({"call_insights": extractive_insights}))
    built = call_corpus["billing-dispute"]
    outcome = await LlmCallAnalyzer(call_analyzer, llm, group="smart").process(
        recorded(built.path.read_bytes(), built.call.name, built.call.agent_channel))
    result = outcome.results[0]
    assert isinstance(result, CallAnalysis)
    assert result.summary == "Billing dispute about a duplicate charge."
    assert "Refund the duplicate charge" in {i.task for i in result.action_items}
    assert outcome.usage.cost_usd > 0 and outcome.usage.input_tokens > 0
    assert "gpt-4o-mini" in outcome.usage.model


async def test_a_failed_transcription_never_reaches_the_model(call_analyzer: CallAnalyzer) -> None:
    def model(request: str) -> str:
        raise AssertionError("the model must not be asked about a call that could not be transcribed")

    analyzer = LlmCallAnalyzer(call_analyzer, LlmClient(load_config(), LocalProvider({"call_insights": model})),
                               group="smart")
    outcome = await analyzer.process(recorded(b"\x00\x01garbage" * 100, "corrupt"))
    assert outcome.error_class and outcome.results[0].error


def test_items_both_found_are_kept_once() -> None:
    cue = [ActionItem(task="Email you the lease quote by Friday", assignee="bdc-7")]
    llm = [{"task": "Email the lease quote", "assignee": "bdc-7"}, {"task": "Check the towing package"}]
    merged = merge_actions(cue, CallInsights(summary="s", action_items=llm).action_items)
    assert [m.task for m in merged] == ["Email you the lease quote by Friday", "Check the towing package"]
