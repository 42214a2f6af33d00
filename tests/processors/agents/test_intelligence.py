"""Company and contact enrichment: how answers from several sources merge, and what failing sources do.

These are unit tests of the merge and of the agent, with in-process fake sources; the HTTP and SQLite sources
(``connectors.enrichment``) are tested against real servers in tests/connectors.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from processors.agents.base import AgentStatus, PermanentTaskError, TaskError, TaskRequest
from processors.agents.intelligence import DISAGREEMENT_PENALTY, CompanyIntelligenceAgent, DataSourceManager
from processors.ports import SourceError


@dataclass
class FakeSource:
    """An EnrichmentSource that answers from dicts, or fails, or hangs, and records what it was asked."""

    name: str
    weight: float
    company: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    error: Exception | None = None
    delay_s: float = 0.0
    asked: list[tuple[Any, ...]] = field(default_factory=list)

    async def lookup_company(self, name: str, domain: str | None = None) -> dict[str, Any] | None:
        self.asked.append((name, domain))
        return await self._answer(self.company)

    async def lookup_contact(self, contact: dict[str, Any], company: str | None = None) -> dict[str, Any] | None:
        self.asked.append((contact, company))
        return await self._answer(self.contact)

    async def _answer(self, data: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return data


def request(task_type: str = "enrich_company", **inputs: Any) -> TaskRequest:
    return TaskRequest(task_id="lookup", task_type=task_type, workflow_id="wf-1", dealer_id="dealer-7",
                       inputs=inputs)


def agent(*sources: FakeSource, timeout_s: float = 5.0) -> CompanyIntelligenceAgent:
    return CompanyIntelligenceAgent(DataSourceManager(sources, timeout_s=timeout_s))


ACME = {"name": "Acme Plumbing LLC", "industry": "Plumbing", "employees": 120, "domain": "acmeplumbing.com"}


async def test_sources_that_agree_give_full_confidence_and_the_most_trusted_spelling() -> None:
    crm = FakeSource("crm", 0.9, company=ACME)
    clearbit = FakeSource("clearbit", 0.7, company={"name": " acme plumbing llc ", "industry": "PLUMBING",
                                                    "employees": 120})
    result = await agent(crm, clearbit).run(request(company_name="Acme Plumbing", domain="acmeplumbing.com"))

    assert result.output["company"] == ACME  # case and spaces ignored when comparing; the heavier spelling kept
    assert result.output["sources"] == ["crm", "clearbit"]
    assert crm.asked == clearbit.asked == [("Acme Plumbing", "acmeplumbing.com")]
    # a field both vouch for is certain; one only the CRM knows is backed by 0.9 of the 1.6 that answered
    fields = (await DataSourceManager([crm, clearbit]).lookup_company("Acme Plumbing")).field_confidence
    assert fields["industry"] == fields["employees"] == 1.0
    assert fields["domain"] == pytest.approx(0.9 / 1.6, abs=1e-4)
    assert result.confidence == result.output["confidence"] == pytest.approx((3 + 0.9 / 1.6) / 4, abs=1e-4)
    assert result.notes == ()


async def test_agreement_raises_confidence_over_disagreement() -> None:
    agreeing = await agent(FakeSource("crm", 0.9, company={"industry": "Plumbing"}),
                           FakeSource("clearbit", 0.7, company={"industry": "plumbing"})).run(
        request(company_name="Acme"))
    disagreeing = await agent(FakeSource("crm", 0.9, company={"industry": "Plumbing"}),
                              FakeSource("clearbit", 0.7, company={"industry": "HVAC"})).run(
        request(company_name="Acme"))
    assert agreeing.confidence == 1.0
    assert disagreeing.output["company"]["industry"] == "Plumbing"
    assert disagreeing.confidence == pytest.approx(0.9 / 1.6 * DISAGREEMENT_PENALTY, abs=1e-4)


async def test_disagreement_goes_to_the_value_with_most_total_weight() -> None:
    crm = FakeSource("crm", 0.9, company={"employees": 120, "industry": "Plumbing"})
    light_a = FakeSource("data-axle", 0.4, company={"employees": 80, "industry": "HVAC"})
    light_b = FakeSource("zoominfo", 0.4, company={"employees": 80, "industry": "Heating"})
    enrichment = await DataSourceManager([crm, light_a, light_b]).lookup_company("Acme")
    # employees: 80 has 0.8 behind it, 120 has 0.9; industry: three different answers, the CRM's is heaviest
    assert enrichment.fields == {"employees": 120, "industry": "Plumbing"}
    assert enrichment.field_confidence["employees"] == pytest.approx(0.9 / 1.7 * DISAGREEMENT_PENALTY, abs=1e-4)

    light_b.company = {"employees": 80}
    light_a.weight = light_b.weight = 0.5  # now 1.0 agrees on 80 against the CRM's 0.9
    enrichment = await DataSourceManager([crm, light_a, light_b]).lookup_company("Acme")
    assert enrichment.fields["employees"] == 80
    assert enrichment.field_confidence["employees"] == pytest.approx(1.0 / 1.9 * DISAGREEMENT_PENALTY, abs=1e-4)


async def test_a_failing_and_a_hanging_source_leave_the_third_ones_data_with_notes() -> None:
    down = FakeSource("clearbit", 0.8, company=ACME, error=SourceError("HTTP 503 from api.clearbit.com"))
    hanging = FakeSource("zoominfo", 0.6, company=ACME, delay_s=10)
    crm = FakeSource("crm", 0.6, company={"name": "Acme Plumbing LLC", "industry": "Plumbing"})
    started = time.perf_counter()
    result = await agent(down, hanging, crm, timeout_s=0.2).run(request(company_name="Acme Plumbing"))

    assert time.perf_counter() - started < 2  # the hanging source was given up on, not waited for
    assert result.output["company"] == {"name": "Acme Plumbing LLC", "industry": "Plumbing"}
    assert result.output["sources"] == ["crm"]
    assert result.notes == ("source clearbit failed: HTTP 503 from api.clearbit.com",
                            "source zoominfo failed: timed out after 0.2s")
    assert result.confidence == pytest.approx(0.6 / 2.0, abs=1e-4)  # only 0.6 of the 2.0 weight answered


async def test_a_buggy_source_is_recorded_like_a_failing_one() -> None:
    buggy = FakeSource("legacy-dms", 0.5, error=KeyError("account"))
    crm = FakeSource("crm", 0.5, company={"industry": "Plumbing"})
    enrichment = await DataSourceManager([buggy, crm]).lookup_company("Acme")
    assert enrichment.sources_failed == {"legacy-dms": "KeyError: 'account'"}
    assert enrichment.fields == {"industry": "Plumbing"} and enrichment.confidence == 0.5


async def test_when_every_source_fails_the_task_is_retried_with_each_reason() -> None:
    sources = (FakeSource("clearbit", 0.8, error=SourceError("HTTP 401: API key refused")),
               FakeSource("crm", 0.6, delay_s=10))
    worker = agent(*sources, timeout_s=0.2)
    with pytest.raises(TaskError, match=re.escape(
            "clearbit: HTTP 401: API key refused; crm: timed out after 0.2s")) as failure:
        await worker.run(request(company_name="Acme"))
    assert not isinstance(failure.value, PermanentTaskError)  # sources come back: the orchestrator retries
    assert worker.status is AgentStatus.ERROR and worker.performance.failed == 1


async def test_nothing_found_anywhere_is_an_empty_result_not_an_error() -> None:
    result = await agent(FakeSource("crm", 0.9), FakeSource("clearbit", 0.7, company={})).run(
        request(company_name="Nobody Motors"))
    assert result.output == {"company": {}, "confidence": 0.0, "sources": [], "sources_failed": {}}
    assert result.confidence == 0.0


@pytest.mark.parametrize(("task_type", "inputs", "missing"), [
    ("enrich_company", {}, "company_name"),
    ("company_lookup", {"company_name": ""}, "company_name"),
    ("enrich_contact", {"company": "Acme"}, "contact"),
])
async def test_missing_input_is_a_permanent_error(task_type: str, inputs: dict[str, Any], missing: str) -> None:
    source = FakeSource("crm", 0.9, company=ACME)
    with pytest.raises(PermanentTaskError, match=f"needs input '{missing}'"):
        await agent(source).run(request(task_type, **inputs))
    assert source.asked == []


@pytest.mark.parametrize(("contact", "given"), [
    (json.dumps({"email": "maria@acmeplumbing.com", "name": "Maria Lopez"}),
     {"email": "maria@acmeplumbing.com", "name": "Maria Lopez"}),
    ("  maria@acmeplumbing.com ", {"email": "maria@acmeplumbing.com"}),
    ("Maria Lopez", {"name": "Maria Lopez"}),
    ({"email": "maria@acmeplumbing.com"}, {"email": "maria@acmeplumbing.com"}),
])
async def test_a_contact_is_given_as_json_an_email_a_name_or_an_object(contact: Any, given: dict[str, Any]) -> None:
    crm = FakeSource("crm", 0.9, contact={"name": "Maria Lopez", "title": "Fleet Manager", "phone": "+19375550142"})
    apollo = FakeSource("apollo", 0.6, contact={"title": "fleet manager", "email": "maria@acmeplumbing.com"})
    result = await agent(crm, apollo).run(request("enrich_contact", contact=contact,
                                                  company={"name": "Acme Plumbing LLC", "industry": "Plumbing"}))
    assert crm.asked == [(given, "Acme Plumbing LLC")]  # an enriched company object is looked up by its name
    assert result.output["contact"] == {"name": "Maria Lopez", "title": "Fleet Manager", "phone": "+19375550142",
                                        "email": "maria@acmeplumbing.com"}
    assert result.output["sources"] == ["crm", "apollo"] and 0 < result.output["confidence"] < 1


@pytest.mark.parametrize("contact", ['{"email": ', {}, 42])
async def test_a_contact_that_cannot_be_read_is_a_permanent_error(contact: Any) -> None:
    with pytest.raises(PermanentTaskError, match="input 'contact'"):
        await agent(FakeSource("crm", 0.9)).run(request("contact_enrichment", contact=contact))


def test_the_agent_serves_the_enrichment_step_types() -> None:
    worker = agent(FakeSource("crm", 0.9))
    assert worker.can_handle("enrich_company") and worker.can_handle("enrich_contact")
    assert worker.can_handle("contact_enrichment") and not worker.can_handle("generate_email_sequence")
    assert worker.agent_id == "company-intelligence" and worker.learns


def test_a_manager_refuses_configurations_it_cannot_merge() -> None:
    with pytest.raises(ValueError, match="at least one"):
        DataSourceManager([])
    with pytest.raises(ValueError, match="unique"):
        DataSourceManager([FakeSource("crm", 0.5), FakeSource("crm", 0.7)])
    with pytest.raises(ValueError, match="between 0 and 1"):
        DataSourceManager([FakeSource("crm", 1.5)])
