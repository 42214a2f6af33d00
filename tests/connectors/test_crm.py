"""The SQLite CRM: the shipped sample, lookups for enrichment, idempotent writes, appointment booking in business
hours, and concurrent writers."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.crm import SqliteCrm, create_sample_crm, open_crm
from processors.agents.base import PermanentTaskError
from processors.ports import Crm, EnrichmentSource
from schemas.vin import vin_check_digit

WEDNESDAY_9AM = datetime(2025, 3, 5, 9, 0)  # dealer-local; "next Tuesday" is 2025-03-11


@pytest.fixture
def crm(tmp_path: Path) -> SqliteCrm:
    return SqliteCrm(tmp_path / "crm.db", clock=lambda: WEDNESDAY_9AM)


@pytest.fixture
def sample(tmp_path: Path) -> SqliteCrm:
    return open_crm(tmp_path / "sample.db")


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_it_is_the_crm_and_an_enrichment_source(crm: SqliteCrm) -> None:
    as_crm: Crm = crm
    as_source: EnrichmentSource = crm
    assert as_source.name == "crm" and as_source.weight == 0.9 and as_crm is crm


async def test_the_sample_is_realistic_and_deterministic(sample: SqliteCrm, tmp_path: Path) -> None:
    counts = {table: await sample.count(table) for table in
              ("companies", "contacts", "customers", "vehicles", "leads", "tasks", "appointments")}
    assert 38 <= counts["companies"] <= 45 and 110 <= counts["contacts"] <= 130 and counts["customers"] == 200
    assert counts["vehicles"] >= 200 and all(counts[t] > 0 for t in ("leads", "tasks", "appointments"))
    vins = [str(vin) for (vin,) in rows(sample.path, "SELECT vin FROM vehicles")]
    assert len(set(vins)) == len(vins) and all(len(vin) == 17 and vin[8] == vin_check_digit(vin) for vin in vins)
    assert rows(sample.path, "PRAGMA journal_mode") == [("wal",)]

    again = create_sample_crm(tmp_path / "again.db", today=date.today())
    assert rows(again.path, "SELECT name, domain FROM companies ORDER BY id") == \
        rows(sample.path, "SELECT name, domain FROM companies ORDER BY id")
    create_sample_crm(again.path)  # a second run adds nothing
    assert await again.count("contacts") == counts["contacts"]


def test_vin_check_digit_matches_known_vins() -> None:
    assert vin_check_digit("1HGCM82633A004352") == "3"
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"


async def test_companies_are_found_by_name_ignoring_case_or_by_domain(sample: SqliteCrm) -> None:
    harbor = await sample.lookup_company("HARBOR FLEET SERVICES")
    assert harbor is not None
    assert {k: harbor[k] for k in ("name", "domain", "industry", "employees", "city", "state")} == {
        "name": "Harbor Fleet Services", "domain": "harborfleet.com", "industry": "fleet management",
        "employees": 240, "city": "Tacoma", "state": "WA"}
    assert await sample.lookup_company("Harbor Fleet Services, Inc.") == harbor
    assert await sample.lookup_company("", domain="https://www.HarborFleet.com/contact") == harbor
    assert await sample.lookup_company("Nobody Motors LLC", domain="nobody.example") is None


async def test_contacts_are_found_by_email_phone_or_name(sample: SqliteCrm) -> None:
    dana = await sample.lookup_contact({"email": "Dana.Whitfield@HarborFleet.com"})
    assert dana is not None and dana["name"] == "Dana Whitfield" and dana["title"] == "Fleet Director"
    assert dana["company"] == "Harbor Fleet Services" and dana["email"] == "dana.whitfield@harborfleet.com"
    digits = str(dana["phone"])[-10:]
    formatted = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    assert await sample.lookup_contact({"phone": formatted}) == dana
    assert await sample.lookup_contact({"name": "dana whitfield"}, company="harborfleet.com") == dana
    assert await sample.lookup_contact({"first_name": "Dana", "last_name": "Whitfield"}) == dana
    assert await sample.lookup_contact({"name": "Dana Whitfield"}, company="Evergreen Car Rental") is None
    assert await sample.lookup_contact({"email": "nobody@example.invalid"}) is None


async def test_lookups_can_be_limited_to_one_dealer(tmp_path: Path) -> None:
    create_sample_crm(tmp_path / "two.db", "riverside-ford")
    other = SqliteCrm(tmp_path / "two.db", lookup_dealer_id="another-dealer")
    assert await other.lookup_company("Harbor Fleet Services") is None
    mine = SqliteCrm(tmp_path / "two.db", lookup_dealer_id="riverside-ford")
    assert await mine.lookup_company("Harbor Fleet Services") is not None


async def test_upsert_inserts_then_updates_the_matching_record(crm: SqliteCrm) -> None:
    first = await crm.upsert_record(key="wf/run/1", dealer_id="d1", object_type="repair_order",
                                    record={"ro_number": "RO-1001", "total": "412.50"}, match_on="ro_number")
    second = await crm.upsert_record(key="wf/run/2", dealer_id="d1", object_type="repair_order",
                                     record={"ro_number": "ro-1001 ", "status": "closed"}, match_on="ro_number")
    assert second == first and await crm.count("records") == 1
    assert await crm.get_record(first) == {"record_id": first, "object_type": "repair_order", "values": {
        "ro_number": "ro-1001 ", "total": "412.50", "status": "closed"}}
    other_type = await crm.upsert_record(key="wf/run/3", dealer_id="d1", object_type="vendor_invoice",
                                         record={"ro_number": "RO-1001"}, match_on="ro_number")
    other_dealer = await crm.upsert_record(key="wf/run/4", dealer_id="d2", object_type="repair_order",
                                           record={"ro_number": "RO-1001"}, match_on="ro_number")
    assert len({first, other_type, other_dealer}) == 3
    with pytest.raises(PermanentTaskError, match="matches on 'vin'"):
        await crm.upsert_record(key="wf/run/5", dealer_id="d1", object_type="vehicle", record={"flag": "recall"},
                                match_on="vin")


async def test_a_repeated_key_returns_the_first_answer_and_changes_nothing(crm: SqliteCrm) -> None:
    record_id = await crm.upsert_record(key="wf/run/crm", dealer_id="d1", object_type="lead",
                                        record={"lead_id": "L-1", "source": "website"})
    task_id = await crm.create_task(key="wf/run/task", dealer_id="d1", title="Call the lead", assignee_role=None,
                                    priority=None, due_at=None, about="L-1", context=None)
    booked = await crm.book_appointment(key="wf/run/appt", dealer_id="d1", customer="C-1", vehicle=None,
                                        appointment_type="test_drive", preferred=None, duration_minutes=30)
    before = {table: await crm.count(table) for table in ("records", "tasks", "appointments", "idempotency")}
    assert await crm.upsert_record(key="wf/run/crm", dealer_id="d1", object_type="lead",
                                   record={"lead_id": "L-1", "source": "CHANGED"}) == record_id
    assert await crm.create_task(key="wf/run/task", dealer_id="d1", title="Another title", assignee_role=None,
                                 priority="high", due_at=None, about=None, context=None) == task_id
    assert await crm.book_appointment(key="wf/run/appt", dealer_id="d1", customer="C-1", vehicle=None,
                                      appointment_type="test_drive", preferred="Friday 3pm",
                                      duration_minutes=30) == booked
    assert {table: await crm.count(table) for table in before} == before
    assert (await crm.get_record(record_id) or {})["values"]["source"] == "website"
    with pytest.raises(PermanentTaskError, match="already used for create_task"):
        await crm.upsert_record(key="wf/run/task", dealer_id="d1", object_type="lead", record={"x": 1})


async def test_create_task_stores_an_open_task(crm: SqliteCrm) -> None:
    task_id = await crm.create_task(key="k-task", dealer_id="d1", title="Call new web lead within 15 minutes",
                                    assignee_role="salesperson", priority="High", due_at="in 15 minutes",
                                    about="L-7", context="Asked about a 2025 RAV4")
    assert rows(crm.path, f"SELECT title, assignee_role, priority, due_at, about, status FROM tasks "
                          f"WHERE id = '{task_id}'") == [("Call new web lead within 15 minutes", "salesperson",
                                                          "high", "2025-03-05T09:15:00+00:00", "L-7", "open")]
    with pytest.raises(PermanentTaskError, match="needs a title"):
        await crm.create_task(key="k-empty", dealer_id="d1", title=" ", assignee_role=None, priority=None,
                              due_at=None, about=None, context=None)


async def test_appointments_are_booked_at_the_preferred_time_or_the_next_free_slot(crm: SqliteCrm) -> None:
    async def book(key: str, preferred: str | None, minutes: int = 30) -> tuple[str, str]:
        return await crm.book_appointment(key=key, dealer_id="d1", customer="Dana Whitfield",
                                          vehicle="1HGCM82633A004352", appointment_type="oil_change",
                                          preferred=preferred, duration_minutes=minutes)

    first_id, first = await book("a1", "next Tuesday 10am")
    assert first == "2025-03-11T10:00:00+00:00"
    second_id, second = await book("a2", "next Tuesday 10am")
    assert second == "2025-03-11T10:30:00+00:00" and second_id != first_id
    assert (await book("a3", "next Tuesday 9:45am", minutes=60))[1] == "2025-03-11T11:00:00+00:00"
    assert (await book("a4", None))[1] == "2025-03-05T09:00:00+00:00"  # the next free slot: now
    assert (await book("a5", "2025-03-08T17:45:00"))[1] == "2025-03-10T08:00:00+00:00"  # Sat after close, Sun shut
    assert (await book("a6", "next Tuesday"))[1] == "2025-03-11T08:00:00+00:00"  # a day alone: from opening
    assert (await book("a7", "ASAP"))[1] == "2025-03-05T09:30:00+00:00"
    booked = await crm.appointments("d1")
    assert [a["starts_at"] for a in booked][:2] == ["2025-03-05T09:00:00+00:00", "2025-03-05T09:30:00+00:00"]
    assert await crm.count("appointments") == 7


async def test_times_are_in_the_dealers_time_zone(tmp_path: Path) -> None:
    crm = SqliteCrm(tmp_path / "pacific.db", timezone="America/Los_Angeles", clock=lambda: WEDNESDAY_9AM)
    _, start = await crm.book_appointment(key="tz", dealer_id="d1", customer="C-1", vehicle=None,
                                          appointment_type=None, preferred="next Tuesday 10am", duration_minutes=30)
    assert start == "2025-03-11T10:00:00-07:00"  # PDT: the clocks went forward on 9 March
    with pytest.raises(ValueError, match="not an IANA zone"):
        SqliteCrm(tmp_path / "x.db", timezone="Pacific Time")


async def test_an_unreadable_preferred_time_is_a_permanent_error(crm: SqliteCrm) -> None:
    with pytest.raises(PermanentTaskError, match="'when the moon is blue'"):
        await crm.book_appointment(key="bad", dealer_id="d1", customer="C-1", vehicle=None, appointment_type=None,
                                   preferred="when the moon is blue", duration_minutes=30)
    with pytest.raises(PermanentTaskError, match="does not fit business hours"):
        await crm.book_appointment(key="long", dealer_id="d1", customer="C-1", vehicle=None, appointment_type=None,
                                   preferred=None, duration_minutes=12 * 60)
    assert await crm.count("appointments") == 0 and await crm.count("idempotency") == 0


async def test_concurrent_writes_all_land(crm: SqliteCrm) -> None:
    ids = await asyncio.gather(*(crm.upsert_record(key=f"c-{n}", dealer_id="d1", object_type="customer_activity",
                                                   record={"n": n}) for n in range(20)))
    assert len(set(ids)) == 20 and await crm.count("records") == 20
    merged = await asyncio.gather(*(crm.upsert_record(key=f"m-{n}", dealer_id="d1", object_type="vehicle",
                                                      record={"vin": "1HGCM82633A004352", f"flag_{n}": True},
                                                      match_on="vin") for n in range(20)))
    assert len(set(merged)) == 1 and await crm.count("records") == 21
    assert len((await crm.get_record(merged[0]) or {})["values"]) == 1 + 20  # the vin and 20 flags
    slots = await asyncio.gather(*(crm.book_appointment(key=f"b-{n}", dealer_id="d1", customer=f"C-{n}",
                                                        vehicle=None, appointment_type=None,
                                                        preferred="next Tuesday 10am", duration_minutes=30)
                                   for n in range(6)))
    assert sorted(start for _, start in slots) == [f"2025-03-11T{h}:{m}:00+00:00" for h in ("10", "11", "12")
                                                   for m in ("00", "30")]
