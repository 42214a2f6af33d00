"""Email sequences: per-segment templates, personal fields, count and spacing, and what the LLM may change.

``FakeLlm`` stands for a paid LLM behind the router: it records what it was sent and answers what the test
tells it to, so the tests can check that its answer is used only when valid and that it never sees raw PII.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from pydantic import BaseModel

from processors.agents.base import PermanentTaskError, Recollection, TaskRequest
from processors.agents.campaign import TONES, EmailCampaignAgent, EmailSequence, local_email_sequence
from processors.privacy import redact

SEGMENTS = [segment for segment in TONES if segment != "general"]
MARIA = {"segment": "new_lead", "first_name": "Maria", "vehicle": "2024 Honda CR-V", "salesperson": "Dave Kim",
         "dealership": "Sunrise Honda"}


def request(audience: Any = None, context: Any = None, **config: str) -> TaskRequest:
    inputs = {k: v for k, v in {"audience": audience, "context": context}.items() if v is not None}
    return TaskRequest(task_id="draft", task_type="generate_email_sequence", workflow_id="wf-1",
                       dealer_id="dealer-7", config={"goal": "book a test drive", **config}, inputs=inputs)


@dataclass(frozen=True)
class FakeAnswer:
    value: BaseModel
    group: str = "smart"
    model: str = "gpt-4o-mini"
    provider: str = "openai"
    input_tokens: int = 900
    output_tokens: int = 400
    cost_usd: float = 0.0021
    cached: bool = False
    notes: tuple[str, ...] = ()


@dataclass
class FakeLlm:
    """A paid LLM: answers with ``answer(user)`` (or raises ``error``) and keeps every call's arguments."""

    answer: Callable[[str], BaseModel] | None = None
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def structured(self, response_model: type[BaseModel], *, task: str, system: str, user: str,
                         group: str, dealer_id: str, user_role: str | None = None) -> FakeAnswer:
        self.calls.append({"response_model": response_model, "task": task, "system": system, "user": user,
                           "group": group, "dealer_id": dealer_id})
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return FakeAnswer(self.answer(user))


def sequence(*emails: tuple[str, str]) -> Callable[[str], BaseModel]:
    return lambda user: EmailSequence.model_validate({"emails": [{"subject": s, "body": b} for s, b in emails]})


async def test_each_segment_has_its_own_subjects_and_call_to_action() -> None:
    results = {segment: await EmailCampaignAgent().run(request({**MARIA, "segment": segment}))
               for segment in SEGMENTS}
    subjects = {segment: [e["subject"] for e in r.output["emails"]] for segment, r in results.items()}
    calls_to_action = {segment: r.output["emails"][0]["body"].split("\n\n")[-2] for segment, r in results.items()}
    assert len({tuple(s) for s in subjects.values()}) == len(SEGMENTS)
    assert len(set(calls_to_action.values())) == len(SEGMENTS)
    assert all("book a test drive" in cta for cta in calls_to_action.values())
    for segment, result in results.items():
        assert result.output["segment"] == segment
        assert result.parameters == {"segment": segment, "template_set": segment}
        assert len(set(subjects[segment])) == 3  # intro, follow-up and last chance differ
    assert "service" in subjects["service_due"][0].lower()
    assert subjects["test_drive_follow_up"][0] == "How did you like the 2024 Honda CR-V, Maria?"


async def test_personal_fields_appear_in_the_emails() -> None:
    audience = {"segment": "New Lead", "name": "Maria Lopez", "vehicle": {"year": 2024, "make": "Honda",
                                                                          "model": "CR-V"},
                "salesperson": "Dave Kim", "dealership": "Sunrise Honda"}
    result = await EmailCampaignAgent().run(request(audience))
    emails = result.output["emails"]
    assert emails[0]["subject"] == "Maria, thanks for your interest in the 2024 Honda CR-V"
    assert emails[0]["body"].startswith("Hi Maria,\n\n")
    assert emails[0]["body"].endswith("\n\nDave Kim\nSunrise Honda")
    assert result.output["segment"] == "new_lead"
    assert result.output["personalised_fields"] == ["first_name", "vehicle", "salesperson", "dealership"]
    assert "Lopez" not in json.dumps(emails)  # a first-name basis, as a salesperson writes


async def test_a_bare_segment_name_or_an_unknown_segment_still_makes_a_sequence() -> None:
    bare = await EmailCampaignAgent().run(request("service_due"))
    assert bare.output["emails"][0]["subject"] == "Your vehicle is due for service"
    assert bare.output["emails"][0]["body"].startswith("Hi there,")
    assert bare.output["personalised_fields"] == []

    unknown = await EmailCampaignAgent().run(request(json.dumps({"segment": "vip_owner", "first_name": "Ana"})))
    assert unknown.output["segment"] == "vip_owner"
    assert unknown.parameters == {"segment": "vip_owner", "template_set": "general"}
    assert unknown.output["emails"][0]["body"].startswith("Hi Ana,")

    # Long-term memory: similar sequences for this kind of audience worked best with the lapsed-customer set.
    memory = (Recollection("email-campaign", "generate_email_sequence", True, 40.0, 0.91,
                           {"segment": "vip_owner", "template_set": "lapsed_customer"}),
              Recollection("email-campaign", "generate_email_sequence", False, 40.0, 0.97,
                           {"segment": "vip_owner", "template_set": "fleet_prospect"}))
    remembered = await EmailCampaignAgent().run(replace(request(json.dumps({"segment": "vip_owner"})),
                                                        memory=memory))
    assert remembered.parameters["template_set"] == "lapsed_customer"  # the one that worked, not the nearest


async def test_an_enriched_contact_as_context_fills_fields_the_audience_lacks() -> None:
    context = {"name": "Maria Lopez", "title": "Fleet Manager", "company": {"name": "Acme Plumbing LLC"}}
    result = await EmailCampaignAgent().run(request("fleet_prospect", context))
    first = result.output["emails"][0]
    assert first["subject"] == "Fleet vehicles for Acme Plumbing LLC" and first["body"].startswith("Hello Maria,")


async def test_count_and_spacing_are_respected() -> None:
    five = (await EmailCampaignAgent().run(request(MARIA, emails="5", spacing_days="0,2,5"))).output["emails"]
    assert [e["position"] for e in five] == [1, 2, 3, 4, 5]
    assert [e["send_after_days"] for e in five] == [0, 2, 5, 8, 11]  # the last gap goes on
    assert five[-1]["subject"] == "Should I keep the 2024 Honda CR-V on my list?"
    one = (await EmailCampaignAgent().run(request(MARIA, emails="1"))).output["emails"]
    assert [(e["position"], e["send_after_days"]) for e in one] == [(1, 0)]
    default = (await EmailCampaignAgent().run(request(MARIA))).output["emails"]
    assert [e["send_after_days"] for e in default] == [0, 3, 7]
    weekly = (await EmailCampaignAgent().run(request(MARIA, emails="4", spacing_days="7"))).output["emails"]
    assert [e["send_after_days"] for e in weekly] == [0, 7, 14, 21]


@pytest.mark.parametrize(("config", "inputs", "message"), [
    ({"goal": ""}, {"audience": "new_lead"}, "needs config 'goal'"),
    ({}, {}, "needs input 'audience'"),
    ({"emails": "9"}, {"audience": "new_lead"}, "'emails' must be a whole number from 1 to 7"),
    ({"emails": "0"}, {"audience": "new_lead"}, "'emails' must be a whole number from 1 to 7"),
    ({"spacing_days": "0,7,3"}, {"audience": "new_lead"}, "must not go back in time"),
    ({"spacing_days": "soon"}, {"audience": "new_lead"}, "comma-separated whole days"),
    ({}, {"audience": 42}, "input 'audience' must be a segment name"),
])
async def test_bad_input_or_config_is_a_permanent_error(config: dict[str, str], inputs: dict[str, Any],
                                                        message: str) -> None:
    req = TaskRequest(task_id="draft", task_type="generate_email_sequence", workflow_id="wf-1",
                      dealer_id="dealer-7", config={"goal": "book a test drive", **config}, inputs=inputs)
    llm = FakeLlm(sequence())
    with pytest.raises(PermanentTaskError, match=message):
        await EmailCampaignAgent(llm).run(req)
    assert llm.calls == []


async def test_a_valid_llm_answer_replaces_the_drafts_with_placeholders_filled_in() -> None:
    llm = FakeLlm(sequence(("{first_name}, the {vehicle} is waiting", "Hi {first_name},\n\nCome drive it.\n\nDave"),
                           ("Still curious, {first_name}?", "Hi {first_name},\n\nAny questions?"),
                           ("Last call", "Reply today to book a test drive.")))
    result = await EmailCampaignAgent(llm, group="smart").run(request(MARIA))
    emails = result.output["emails"]
    assert emails[0] == {"position": 1, "send_after_days": 0, "subject": "Maria, the 2024 Honda CR-V is waiting",
                         "body": "Hi Maria,\n\nCome drive it.\n\nDave"}
    assert [e["send_after_days"] for e in emails] == [0, 3, 7]
    assert result.cost_usd == 0.0021 and result.model == "gpt-4o-mini" and result.notes == ()
    assert result.output["personalised_fields"] == ["first_name", "vehicle"]
    call = llm.calls[0]
    assert (call["task"], call["group"], call["dealer_id"]) == ("email_sequence", "smart", "dealer-7")
    assert call["response_model"] is EmailSequence
    assert [d["subject"] for d in json.loads(call["user"])["drafts"]] == [
        "{first_name}, thanks for your interest in the {vehicle}", "Any questions about the {vehicle}?",
        "Should I keep the {vehicle} on my list?"]


async def test_the_templates_are_kept_when_the_llm_fails() -> None:
    templates = (await EmailCampaignAgent().run(request(MARIA))).output
    result = await EmailCampaignAgent(FakeLlm(error=TimeoutError("router timed out"))).run(request(MARIA))
    assert result.output == templates
    assert result.notes == ("LLM failed (TimeoutError: router timed out); the template drafts were used",)
    assert result.cost_usd == 0.0 and result.model is None


@pytest.mark.parametrize(("answer", "reason"), [
    (sequence(("One", "Only one email")), "it has 1 email where 3 were asked for"),
    (sequence(("One", "Body"), ("  ", "Body"), ("Three", "Body")), "email 2 has an empty subject or body"),
    (sequence(("One", "Call [PHONE_1]"), ("Two", "Body"), ("Three", "Body")), "placeholder \\[PHONE_1\\]"),
    (sequence(("Hi {last_name}", "Body"), ("Two", "Body"), ("Three", "Body")), "placeholder \\{last_name\\}"),
])
async def test_an_unusable_llm_answer_is_ignored_with_a_note(answer: Callable[[str], BaseModel], reason: str) -> None:
    templates = (await EmailCampaignAgent().run(request(MARIA))).output
    result = await EmailCampaignAgent(FakeLlm(answer)).run(request(MARIA))
    assert result.output == templates
    assert len(result.notes) == 1
    assert result.notes[0].startswith("LLM answer from gpt-4o-mini ignored (")
    assert pytest.approx(0.0021) == result.cost_usd  # the call was paid for even though its answer was not used
    assert re.search(reason, result.notes[0])


async def test_no_raw_personal_data_reaches_the_llm() -> None:
    audience = {**MARIA, "last_name": "Lopez", "email": "maria.lopez@example.com", "phone": "(937) 555-0142",
                "interest": "hybrid; call me on 937-555-0199 after 5pm"}
    context = "Maria Lopez (maria.lopez@example.com) test drove the 2024 Honda CR-V on Saturday."
    seen: list[str] = []

    def dealer_redaction(text: str) -> str:
        seen.append(text)
        return redact(text).text

    llm = FakeLlm(lambda user: EmailSequence.model_validate_json(local_email_sequence(user)))
    result = await EmailCampaignAgent(llm, redact=dealer_redaction).run(request(audience, context))
    user = llm.calls[0]["user"]
    assert seen and user == redact(seen[0]).text  # the hook saw the brief, the LLM what the hook returned
    for raw in ("maria.lopez@example.com", "555-0142", "555-0199", "Maria", "Lopez", "2024 Honda CR-V",
                "Dave Kim"):
        assert raw not in user
    assert "[PHONE_1]" in user and "hybrid" in user and "{first_name}" in user
    assert result.output["emails"][0]["subject"] == "Maria, thanks for your interest in the 2024 Honda CR-V"
    assert result.notes == ()


async def test_the_offline_handler_answers_with_the_drafts_so_the_result_equals_the_templates() -> None:
    templates = await EmailCampaignAgent().run(request(MARIA, emails="4"))
    llm = FakeLlm(lambda user: EmailSequence.model_validate_json(local_email_sequence(user)))
    offline = await EmailCampaignAgent(llm).run(request(MARIA, emails="4"))
    assert offline.output == templates.output and offline.notes == ()
    with pytest.raises(ValueError, match="not the brief"):
        local_email_sequence("write me a poem")


def test_the_agent_serves_email_sequence_steps() -> None:
    worker = EmailCampaignAgent()
    assert worker.can_handle("generate_email_sequence") and not worker.can_handle("enrich_company")
    assert worker.agent_id == "email-campaign" and worker.learns
