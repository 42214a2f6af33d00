"""Company and contact enrichment: ask every configured data source at once and merge what they say.

``DataSourceManager`` queries the sources concurrently, keeps what the healthy ones answer when others fail or
hang, and merges field by field by trust weight; ``CompanyIntelligenceAgent`` serves the ``enrich_company`` and
``enrich_contact`` steps with it. The sources themselves (the dealer's CRM, commercial APIs) live in connectors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.agents.base import AgentResult, BaseAgent, PermanentTaskError, TaskError, TaskRequest
from processors.ports import EnrichmentSource, SourceError
from schemas.models import StepType

DISAGREEMENT_PENALTY = 0.9  # a field the sources disagree on is less certain even when the heavier side wins
COMPANY_TASKS = frozenset({StepType.ENRICH_COMPANY.value, "company_lookup"})
CONTACT_TASKS = frozenset({StepType.ENRICH_CONTACT.value, "contact_enrichment"})

Lookup = Callable[[EnrichmentSource], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Enrichment:
    """The merged answer of all sources: each field's chosen value and confidence, and who answered or failed."""

    fields: dict[str, Any] = field(default_factory=dict)
    field_confidence: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0
    sources_used: list[str] = field(default_factory=list)  # sources that returned data
    sources_failed: dict[str, str] = field(default_factory=dict)  # source name -> why it gave nothing

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per failed source, for AgentResult.notes ("source clearbit failed: timed out after 5.0s")."""
        return tuple(f"source {name} failed: {reason}" for name, reason in self.sources_failed.items())


@dataclass(frozen=True)
class _Answer:
    source: EnrichmentSource
    data: dict[str, Any] | None = None  # None: failed (see reason) or knew nothing
    reason: str | None = None  # set when the source failed


class DataSourceManager:
    """Queries every enrichment source concurrently, each under ``timeout_s``, and merges their answers.

    A failing or hanging source is recorded with its reason and the rest is kept; only when every source
    failed does the lookup raise TaskError (retried by the orchestrator, since sources come back).
    """

    def __init__(self, sources: Sequence[EnrichmentSource], timeout_s: float = 5.0) -> None:
        if not sources:
            raise ValueError("DataSourceManager needs at least one enrichment source")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"enrichment source names must be unique, got {names}")
        for source in sources:
            if not 0.0 <= source.weight <= 1.0:
                raise ValueError(f"source {source.name} has weight {source.weight}; weights are between 0 and 1")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.sources = tuple(sources)
        self.timeout_s = timeout_s

    async def lookup_company(self, name: str, domain: str | None = None) -> Enrichment:
        """What the sources know about a company, merged."""
        return await self._lookup(f"company {name!r}", lambda s: s.lookup_company(name, domain))

    async def lookup_contact(self, contact: Mapping[str, Any], company: str | None = None) -> Enrichment:
        """What the sources know about a person (found by the given fields, e.g. email or name), merged."""
        return await self._lookup("contact", lambda s: s.lookup_contact(dict(contact), company))

    async def _lookup(self, what: str, lookup: Lookup) -> Enrichment:
        answers = await asyncio.gather(*(self._ask(source, lookup) for source in self.sources))
        failed = {a.source.name: a.reason for a in answers if a.reason is not None}
        if len(failed) == len(answers):
            reasons = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
            raise TaskError(f"every enrichment source failed looking up {what}: {reasons}")
        return _merge(answers, self.sources)

    async def _ask(self, source: EnrichmentSource, lookup: Lookup) -> _Answer:
        """One source's answer, or why it gave none; never raises (except cancellation)."""
        try:
            data = await asyncio.wait_for(lookup(source), self.timeout_s)
        except TimeoutError:
            return _Answer(source, reason=f"timed out after {self.timeout_s}s")
        except SourceError as exc:
            return _Answer(source, reason=str(exc) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a buggy source must not sink the others' answers
            return _Answer(source, reason=f"{type(exc).__name__}: {exc}")
        if data is not None and not isinstance(data, Mapping):
            return _Answer(source, reason=f"answered a {type(data).__name__}, not a mapping of fields")
        return _Answer(source, data=dict(data) if data else None)


def _merge(answers: Sequence[_Answer], sources: Sequence[EnrichmentSource]) -> Enrichment:
    """Field by field, the value with the most total weight behind it, and how far the sources back it."""
    with_data = [a for a in answers if a.data]
    failed = {a.source.name: a.reason for a in answers if a.reason is not None}
    answered_weight = sum(a.source.weight for a in with_data)
    all_weight = sum(s.weight for s in sources)
    responded_weight = sum(a.source.weight for a in answers if a.reason is None)
    # all weights zero: count sources instead of weighing them
    coverage = (responded_weight / all_weight if all_weight else (len(answers) - len(failed)) / len(answers))

    fields: dict[str, Any] = {}
    confidence: dict[str, float] = {}
    names = dict.fromkeys(name for a in with_data for name in (a.data or {}))  # first-seen order
    for name in names:
        # groups of agreeing sources: normalised value -> [(weight, original value), ...] in source order
        groups: dict[str, list[tuple[float, Any]]] = {}
        for answer in with_data:
            value = (answer.data or {}).get(name)
            if _is_empty(value):
                continue
            groups.setdefault(_normalise(value), []).append((answer.source.weight, value))
        if not groups:
            continue
        best = max(groups.values(), key=lambda g: (sum(w for w, _ in g), len(g), max(w for w, _ in g)))
        fields[name] = max(best, key=lambda wv: wv[0])[1]  # the most trusted source's spelling
        agreeing = sum(w for w, _ in best)
        share = agreeing / answered_weight if answered_weight else len(best) / len(with_data)
        confidence[name] = round(share * (DISAGREEMENT_PENALTY if len(groups) > 1 else 1.0), 4)

    overall = sum(confidence.values()) / len(confidence) * coverage if confidence else 0.0
    return Enrichment(fields=fields, field_confidence=confidence, confidence=round(min(overall, 1.0), 4),
                      sources_used=[a.source.name for a in with_data],
                      sources_failed=failed)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and not (
        value.strip() if isinstance(value, str) else value))


def _normalise(value: Any) -> str:
    """Values agree when equal ignoring case and surrounding space (strings) or as canonical JSON (others)."""
    if isinstance(value, str):
        return "s:" + value.strip().casefold()
    return "j:" + json.dumps(value, sort_keys=True, default=str)


class CompanyIntelligenceAgent(BaseAgent):
    """Serves ``enrich_company`` / ``company_lookup`` and ``enrich_contact`` / ``contact_enrichment`` tasks."""

    learns = True

    def __init__(self, sources: DataSourceManager, agent_id: str = "company-intelligence") -> None:
        super().__init__(agent_id, ("company_lookup", "contact_enrichment"))
        self.sources = sources

    async def execute(self, request: TaskRequest) -> AgentResult:
        if request.task_type in COMPANY_TASKS:
            return await self._company(request)
        if request.task_type in CONTACT_TASKS:
            return await self._contact(request)
        raise PermanentTaskError(f"agent {self.agent_id} cannot run {request.task_type} tasks "
                                 f"(it serves {', '.join(sorted(COMPANY_TASKS | CONTACT_TASKS))})")

    async def _company(self, request: TaskRequest) -> AgentResult:
        name = _company_name(request.require("company_name"))
        if name is None:
            raise PermanentTaskError(f"{request.task_type} task {request.task_id!r}: input 'company_name' must be "
                                     "a company name or an object with a 'name'")
        domain = request.inputs.get("domain")
        domain_text = str(domain).strip() if domain else ""
        enrichment = await self.sources.lookup_company(name, domain_text or None)
        company = dict(enrichment.fields)
        if company:
            company.setdefault("name", name)
        return self._result("company", company, enrichment)

    async def _contact(self, request: TaskRequest) -> AgentResult:
        contact = _contact_input(request.require("contact"), request)
        enrichment = await self.sources.lookup_contact(contact, _company_name(request.inputs.get("company")))
        merged = dict(enrichment.fields)
        if merged:
            merged.update({k: v for k, v in contact.items() if not _is_empty(v)})  # what the dealer gave stands
        return self._result("contact", merged, enrichment)

    @staticmethod
    def _result(key: str, value: dict[str, Any], enrichment: Enrichment) -> AgentResult:
        return AgentResult(output={key: value, "confidence": enrichment.confidence,
                                   "sources": list(enrichment.sources_used),
                                   "sources_failed": dict(enrichment.sources_failed)},
                           confidence=enrichment.confidence, notes=enrichment.notes,
                           parameters={"sources_used": list(enrichment.sources_used)})


def _company_name(value: Any) -> str | None:
    """A company given as a name, or as an enrichment result (an object with a ``name``)."""
    if isinstance(value, Mapping):
        value = value.get("name")
    return (value.strip() or None) if isinstance(value, str) else None


def _contact_input(value: Any, request: TaskRequest) -> dict[str, Any]:
    """The contact to complete: an object, its JSON, or a bare email address or name."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise PermanentTaskError(f"{request.task_type} task {request.task_id!r}: input 'contact' looks like "
                                         f"JSON but does not parse: {exc}") from exc
        else:
            return {"email": text} if "@" in text else {"name": text}
    if not isinstance(value, Mapping) or not any(not _is_empty(v) for v in value.values()):
        raise PermanentTaskError(f"{request.task_type} task {request.task_id!r}: input 'contact' must be an email, "
                                 "a name, or an object with at least one field (email, name, phone)")
    return {str(k): v for k, v in value.items()}
