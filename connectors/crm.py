"""The dealer's CRM as a SQLite database: records, tasks and appointments that agents write, companies and
contacts that enrichment reads, and a realistic sample so a fresh install and the tests have something to find.

Every write carries the task's idempotency key and is recorded in the same transaction as its answer, so a task
redone after a crash gets the first answer back and changes nothing. Blocking sqlite3 calls run in a thread
(``asyncio.to_thread``), one connection per call, in WAL mode so readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateparser.date import DateDataParser

from schemas.errors import PermanentTaskError, TaskError
from schemas.vin import VIN_ALPHABET, vin_check_digit

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, name TEXT NOT NULL, domain TEXT, industry TEXT,
    employees INTEGER, city TEXT, state TEXT, phone TEXT, website TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS companies_by_domain ON companies (dealer_id, lower(domain));
CREATE TABLE IF NOT EXISTS contacts (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL, title TEXT,
    email TEXT, phone TEXT, company_id TEXT REFERENCES companies (id), created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_by_email ON contacts (dealer_id, lower(email));
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT,
    phone TEXT, city TEXT, state TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS customers_by_email ON customers (dealer_id, lower(email));
CREATE TABLE IF NOT EXISTS vehicles (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, vin TEXT NOT NULL, year INTEGER, make TEXT, model TEXT,
    customer_id TEXT REFERENCES customers (id), created_at TEXT NOT NULL, UNIQUE (dealer_id, vin));
CREATE TABLE IF NOT EXISTS leads (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, customer_name TEXT NOT NULL, email TEXT, phone TEXT,
    vehicle_of_interest TEXT, source TEXT, status TEXT NOT NULL DEFAULT 'new', created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, object_type TEXT NOT NULL, match_field TEXT, match_value TEXT,
    data TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_type ON records (dealer_id, object_type);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, title TEXT NOT NULL, assignee_role TEXT,
    priority TEXT NOT NULL DEFAULT 'normal', due_at TEXT, about TEXT, context TEXT,
    status TEXT NOT NULL DEFAULT 'open', created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT PRIMARY KEY, dealer_id TEXT NOT NULL, customer TEXT NOT NULL, vehicle TEXT, appointment_type TEXT,
    starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'booked',
    created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS appointments_by_time ON appointments (dealer_id, starts_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, operation TEXT NOT NULL, dealer_id TEXT NOT NULL, answer TEXT NOT NULL,
    created_at TEXT NOT NULL);
"""

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMPANY_SUFFIXES = frozenset({"inc", "llc", "co", "corp", "corporation", "company", "ltd", "lp", "llp", "the"})
# Words a customer uses for "whenever you can fit me in": the next free slot, as if no time were given.
NEXT_FREE_WORDS = frozenset({"asap", "as soon as possible", "first available", "next available", "earliest",
                             "anytime", "any time", "soonest", "whenever"})


# ---------------------------------------------------------------------------------------------- helpers

def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _phone_key(value: str | None) -> str:
    """The last ten digits: ``+1 (253) 555-0142`` and ``253.555.0142`` are the same US number."""
    return _digits(value)[-10:]


def _name_key(value: str | None) -> str:
    """A company name without case, punctuation or legal suffix: ``Harbor Fleet Services, Inc.`` ->
    ``harbor fleet services``."""
    words = re.sub(r"[^a-z0-9 ]", " ", (value or "").lower().replace("&", " and ")).split()
    return " ".join(word for word in words if word not in COMPANY_SUFFIXES)


def _domain_key(value: str | None) -> str:
    """A bare domain from a domain, URL or email: ``https://www.HarborFleet.com/about`` -> ``harborfleet.com``."""
    text = (value or "").strip().lower()
    text = text.rsplit("@", 1)[-1]
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.")


def _text_key(value: Any) -> str:
    return str(value).strip().lower()


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _utc_text(moment: datetime) -> str:
    """Stored times are UTC ISO strings of one format, so SQL compares them as text in time order."""
    return _iso(moment.astimezone(UTC))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` takes the write lock up front, so a check-then-write cannot interleave with another
    process's; the transaction commits on success and rolls back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# ------------------------------------------------------------------------------------------------- the CRM

class SqliteCrm:
    """The dealer's CRM (``processors.ports.Crm``) and an enrichment source (``processors.ports.EnrichmentSource``).

    ``timezone`` is the dealership's (business hours and relative times like "next Tuesday 10am" are in it);
    ``clock`` returns now (naive means dealer-local), settable for tests. ``lookup_dealer_id`` limits lookups to
    one dealer's data, since the enrichment protocol carries no tenant; None searches every dealer's.
    Appointments are booked Mon-Sat ``open_hour``-``close_hour`` in ``slot_minutes`` slots, one at a time.
    The constructor creates the file and its tables when missing (blocking, once).
    """

    def __init__(self, path: str | Path, *, timezone: str = "UTC", clock: Callable[[], datetime] | None = None,
                 lookup_dealer_id: str | None = None, weight: float = 0.9, open_hour: int = 8,
                 close_hour: int = 18, slot_minutes: int = 30, open_weekdays: frozenset[int] = frozenset(range(6)),
                 booking_horizon_days: int = 90) -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"CRM time zone {timezone!r} is not an IANA zone name (e.g. America/Los_Angeles)") \
                from exc
        if not 0 <= open_hour < close_hour <= 24 or slot_minutes <= 0:
            raise ValueError(f"CRM business hours {open_hour}-{close_hour} in {slot_minutes}-minute slots are "
                             "not usable: need 0 <= open < close <= 24 and a positive slot length")
        self.path = Path(path)
        self.timezone = timezone
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lookup_dealer_id = lookup_dealer_id
        self._weight = weight
        self.open_hour, self.close_hour, self.slot_minutes = open_hour, close_hour, slot_minutes
        self.open_weekdays = open_weekdays
        self.booking_horizon_days = booking_horizon_days
        self._write_lock = threading.Lock()  # one writer per process; BEGIN IMMEDIATE orders the processes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    # -------------------------------------------------------------------------------- EnrichmentSource

    @property
    def name(self) -> str:
        return "crm"

    @property
    def weight(self) -> float:
        return self._weight

    async def lookup_company(self, name: str, domain: str | None = None) -> dict[str, Any] | None:
        """The company with this domain, else with this name (ignoring case, punctuation, Inc/LLC); None if
        the CRM does not know it."""
        return await asyncio.to_thread(self._read, lambda conn: self._find_company(conn, name, domain))

    async def lookup_contact(self, contact: dict[str, Any], company: str | None = None) -> dict[str, Any] | None:
        """A contact (or retail customer) by email, else phone, else full name (within ``company`` when given);
        None when nothing matches or a bare name matches several people."""
        return await asyncio.to_thread(self._read, lambda conn: self._find_contact(conn, contact, company))

    # ---------------------------------------------------------------------------------------------- Crm

    async def upsert_record(self, *, key: str, dealer_id: str, object_type: str, record: dict[str, Any],
                            match_on: str | None = None) -> str:
        """Update the ``object_type`` record whose ``match_on`` field equals ``record[match_on]`` (merging the
        values), or insert one; the record's id."""
        if not object_type.strip():
            raise PermanentTaskError("crm_update needs an object type (config 'object')")
        if not record:
            raise PermanentTaskError(f"crm_update of {object_type!r} has no values to write")
        match_value: str | None = None
        if match_on is not None:
            if not FIELD_NAME.match(match_on):
                raise PermanentTaskError(f"crm_update match_on {match_on!r} is not a field name (letters, digits, _)")
            if record.get(match_on) in (None, ""):
                raise PermanentTaskError(f"crm_update of {object_type!r} matches on {match_on!r}, but the record "
                                         f"has no {match_on!r} value (fields: {', '.join(sorted(record))})")
            match_value = _text_key(record[match_on])
        data = json.dumps(record, default=str, sort_keys=True)

        def write(conn: sqlite3.Connection) -> str:
            now = _utc_text(self._now())
            if match_on is not None:
                row = conn.execute(
                    "SELECT id, data FROM records WHERE dealer_id = ? AND object_type = ? "
                    "AND lower(trim(CAST(json_extract(data, ?) AS TEXT))) = ? ORDER BY created_at LIMIT 1",
                    (dealer_id, object_type, f'$."{match_on}"', match_value)).fetchone()
                if row is not None:
                    merged = {**json.loads(row["data"]), **json.loads(data)}
                    conn.execute("UPDATE records SET data = ?, updated_at = ?, match_field = ?, match_value = ? "
                                 "WHERE id = ?", (json.dumps(merged, sort_keys=True), now, match_on, match_value,
                                                  row["id"]))
                    return str(row["id"])
            record_id = _new_id("rec")
            conn.execute("INSERT INTO records (id, dealer_id, object_type, match_field, match_value, data, "
                         "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (record_id, dealer_id, object_type, match_on, match_value, data, now, now))
            return record_id

        return str(await asyncio.to_thread(self._once, key, dealer_id, "upsert_record", write))

    async def create_task(self, *, key: str, dealer_id: str, title: str, assignee_role: str | None,
                          priority: str | None, due_at: str | None, about: str | None,
                          context: str | None) -> str:
        """A new open task; ``due_at`` may be ISO or plain words ("tomorrow 9am"). The task's id."""
        if not title.strip():
            raise PermanentTaskError("create_task needs a title")
        due = None if due_at in (None, "") else _iso(
            await asyncio.to_thread(self._parse_time, str(due_at), what="task due time"))

        def write(conn: sqlite3.Connection) -> str:
            task_id = _new_id("task")
            conn.execute("INSERT INTO tasks (id, dealer_id, title, assignee_role, priority, due_at, about, context, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (task_id, dealer_id, title.strip(), assignee_role, (priority or "normal").strip().lower(),
                          due, about, context, _utc_text(self._now())))
            return task_id

        return str(await asyncio.to_thread(self._once, key, dealer_id, "create_task", write))

    async def book_appointment(self, *, key: str, dealer_id: str, customer: str, vehicle: str | None,
                               appointment_type: str | None, preferred: str | None,
                               duration_minutes: int) -> tuple[str, str]:
        """Book the first free slot at or after ``preferred`` (free text, ISO, or None for the next free slot)
        within business hours; (appointment id, ISO start in the dealer's time zone)."""
        if not str(customer).strip():
            raise PermanentTaskError("schedule_appointment needs a customer")
        day_minutes = (self.close_hour - self.open_hour) * 60
        if not 0 < duration_minutes <= day_minutes:
            raise PermanentTaskError(f"an appointment of {duration_minutes} minutes does not fit business hours "
                                     f"({self.open_hour}:00-{self.close_hour}:00)")
        earliest = await asyncio.to_thread(self._earliest_start, preferred)  # dateparser is CPU work

        def write(conn: sqlite3.Connection) -> list[str]:
            start = self._free_slot(conn, dealer_id, earliest, timedelta(minutes=duration_minutes))
            appointment_id = _new_id("appt")
            conn.execute("INSERT INTO appointments (id, dealer_id, customer, vehicle, appointment_type, starts_at, "
                         "ends_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (appointment_id, dealer_id, str(customer).strip(), vehicle, appointment_type,
                          _utc_text(start), _utc_text(start + timedelta(minutes=duration_minutes)),
                          _utc_text(self._now())))
            return [appointment_id, _iso(start)]

        appointment_id, starts_at = await asyncio.to_thread(self._once, key, dealer_id, "book_appointment", write)
        return str(appointment_id), str(starts_at)

    # -------------------------------------------------------------------------------------------- reads

    async def count(self, table: str, dealer_id: str | None = None) -> int:
        """Rows in one of the CRM's tables (for dashboards and tests), optionally for one dealer."""
        if table not in {"companies", "contacts", "customers", "vehicles", "leads", "records", "tasks",
                         "appointments", "idempotency"}:
            raise ValueError(f"the CRM has no table {table!r}")
        where, params = ("WHERE dealer_id = ?", (dealer_id,)) if dealer_id else ("", ())
        return int(await asyncio.to_thread(
            self._read, lambda conn: conn.execute(f"SELECT count(*) FROM {table} {where}", params).fetchone()[0]))

    async def get_record(self, record_id: str) -> dict[str, Any] | None:
        """A generic record as ``{"record_id", "object_type", "values"}``; None when there is no such record."""
        def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                return None
            return {"record_id": row["id"], "object_type": row["object_type"], "values": json.loads(row["data"])}

        return await asyncio.to_thread(self._read, read)

    async def appointments(self, dealer_id: str) -> list[dict[str, Any]]:
        """A dealer's booked appointments in time order, times in the dealer's time zone."""
        def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM appointments WHERE dealer_id = ? AND status = 'booked' "
                                "ORDER BY starts_at", (dealer_id,)).fetchall()
            return [{**dict(row), "starts_at": self._local_iso(row["starts_at"]),
                     "ends_at": self._local_iso(row["ends_at"])} for row in rows]

        return await asyncio.to_thread(self._read, read)

    # ---------------------------------------------------------------------------------------- internals

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=15.0, isolation_level=None)  # transactions are explicit
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.create_function("phone_key", 1, _phone_key, deterministic=True)
        conn.create_function("name_key", 1, _name_key, deterministic=True)
        conn.create_function("domain_key", 1, _domain_key, deterministic=True)
        return conn

    def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        with closing(self._connect()) as conn:
            return query(conn)

    def _once(self, key: str, dealer_id: str, operation: str, write: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``write`` unless ``key`` has run before, in one transaction with the record of its answer."""
        if not key:
            raise PermanentTaskError(f"CRM {operation} needs the task's idempotency key")
        with self._write_lock, closing(self._connect()) as conn, _transaction(conn):
            row = conn.execute("SELECT operation, answer FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row["operation"] != operation:
                    raise PermanentTaskError(f"idempotency key {key!r} was already used for {row['operation']}, "
                                             f"not {operation}: two steps share a task id")
                return json.loads(row["answer"])
            answer = write(conn)
            conn.execute("INSERT INTO idempotency (key, operation, dealer_id, answer, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (key, operation, dealer_id, json.dumps(answer),
                                                    _utc_text(self._now())))
            return answer

    def _now(self) -> datetime:
        """Now, aware, in the dealer's time zone (a naive clock is taken as dealer-local)."""
        now = self.clock()
        return now.replace(tzinfo=self.zone) if now.tzinfo is None else now.astimezone(self.zone)

    def _local_iso(self, stored: str) -> str:
        return _iso(datetime.fromisoformat(stored).astimezone(self.zone))

    def _parse(self, text: str) -> tuple[datetime, str] | None:
        """Free text or ISO -> (aware dealer-local time, dateparser's period: "time" when a time of day was
        given, "day"/"week"/... when only a date), or None when dateparser cannot read it."""
        base = self._now().replace(tzinfo=None)
        parser = DateDataParser(languages=["en"], settings={
            "PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_TIME_AS_PERIOD": True,
            "TIMEZONE": self.timezone, "TO_TIMEZONE": self.timezone, "RETURN_AS_TIMEZONE_AWARE": False})
        parsed = parser.get_date_data(text)
        if parsed.date_obj is None:
            return None
        return parsed.date_obj.replace(tzinfo=self.zone), str(parsed.period)

    def _parse_time(self, text: str, *, what: str) -> datetime:
        parsed = self._parse(text)
        if parsed is None:
            raise PermanentTaskError(f"cannot read the {what} {text!r}: give a date and time such as "
                                     "'next Tuesday 10am' or an ISO time like 2025-03-11T10:00:00")
        return parsed[0]

    def _earliest_start(self, preferred: str | None) -> datetime:
        """The earliest acceptable start: the preferred time (a day alone means from opening), never the past."""
        now = self._now()
        text = (preferred or "").strip()
        if not text or text.lower().rstrip(".!") in NEXT_FREE_WORDS:
            return now
        parsed = self._parse(text)
        if parsed is None:
            raise PermanentTaskError(f"cannot read the preferred appointment time {text!r}: give a day and time "
                                     "such as 'next Tuesday 10am', an ISO time, or nothing for the next free slot")
        moment, period = parsed
        if period != "time":  # "next Tuesday", "Friday": the first free slot that day
            moment = datetime.combine(moment.date(), time(self.open_hour), tzinfo=self.zone)
        return max(moment, now)

    def _free_slot(self, conn: sqlite3.Connection, dealer_id: str, earliest: datetime,
                   duration: timedelta) -> datetime:
        """The first slot start >= ``earliest`` inside business hours that overlaps no booked appointment."""
        slot = timedelta(minutes=self.slot_minutes)
        day = earliest.date()
        local = earliest.replace(tzinfo=None)
        for _ in range(self.booking_horizon_days + 1):
            opens = datetime.combine(day, time(self.open_hour))
            closes = datetime.combine(day, time()) + timedelta(hours=self.close_hour)
            if day.weekday() in self.open_weekdays:
                start = max(opens, local)
                offset = (start - opens) % slot
                if offset:
                    start += slot - offset
                while start + duration <= closes:
                    aware = start.replace(tzinfo=self.zone)
                    clash = conn.execute(
                        "SELECT max(ends_at) FROM appointments WHERE dealer_id = ? AND status = 'booked' "
                        "AND starts_at < ? AND ends_at > ?",
                        (dealer_id, _utc_text(aware + duration), _utc_text(aware))).fetchone()[0]
                    if clash is None:
                        return aware
                    start += slot
            day += timedelta(days=1)
            local = datetime.combine(day, time())
        raise TaskError(f"no free {int(duration.total_seconds() // 60)}-minute appointment slot for dealer "
                        f"{dealer_id!r} in the {self.booking_horizon_days} days from {_iso(earliest)}")

    def _dealer_clause(self) -> tuple[str, tuple[str, ...]]:
        if self.lookup_dealer_id is None:
            return "", ()
        return " AND c.dealer_id = ?", (self.lookup_dealer_id,)

    def _find_company(self, conn: sqlite3.Connection, name: str, domain: str | None) -> dict[str, Any] | None:
        where, params = self._dealer_clause()
        row = None
        if domain and _domain_key(domain):
            row = conn.execute(f"SELECT * FROM companies c WHERE domain_key(c.domain) = ?{where} "
                               "ORDER BY c.created_at LIMIT 1", (_domain_key(domain), *params)).fetchone()
        if row is None and name and _name_key(name):
            row = conn.execute(f"SELECT * FROM companies c WHERE name_key(c.name) = ?{where} "
                               "ORDER BY c.created_at LIMIT 1", (_name_key(name), *params)).fetchone()
        return None if row is None else _company_fields(row)

    def _find_contact(self, conn: sqlite3.Connection, contact: dict[str, Any],
                      company: str | None) -> dict[str, Any] | None:
        email = str(contact.get("email") or "").strip().lower()
        phone = _phone_key(str(contact.get("phone") or ""))
        first, last = _split_name(contact)
        company = company or contact.get("company") or None
        where, params = self._dealer_clause()
        contacts = ("SELECT c.*, co.name AS company_name, co.domain AS company_domain FROM contacts c "
                    "LEFT JOIN companies co ON co.id = c.company_id WHERE ")
        customers = "SELECT c.* FROM customers c WHERE "
        probes: list[tuple[str, tuple[Any, ...]]] = []
        if email:
            probes += [(contacts + f"lower(c.email) = ?{where}", (email, *params)),
                       (customers + f"lower(c.email) = ?{where}", (email, *params))]
        if len(phone) == 10:
            probes += [(contacts + f"phone_key(c.phone) = ?{where}", (phone, *params)),
                       (customers + f"phone_key(c.phone) = ?{where}", (phone, *params))]
        if first and last:
            by_name = "lower(c.first_name) = ? AND lower(c.last_name) = ?"
            if company:
                probes.append((contacts + f"{by_name} AND (name_key(co.name) = ? OR domain_key(co.domain) = ?)"
                               f"{where}", (first, last, _name_key(str(company)), _domain_key(str(company)),
                                            *params)))
            else:
                probes += [(contacts + by_name + where, (first, last, *params)),
                           (customers + by_name + where, (first, last, *params))]
        for query, values in probes:
            rows = conn.execute(query + " LIMIT 2", values).fetchall()
            if len(rows) == 1:
                return _contact_fields(rows[0])
            if len(rows) > 1 and not email and not phone:
                return None  # two people share the name: guessing would enrich the wrong one
        return None


def _split_name(contact: dict[str, Any]) -> tuple[str, str]:
    first = str(contact.get("first_name") or "").strip()
    last = str(contact.get("last_name") or "").strip()
    if not (first and last):
        parts = str(contact.get("name") or contact.get("full_name") or "").split()
        if len(parts) >= 2:
            first, last = parts[0], parts[-1]
    return first.lower(), last.lower()


def _company_fields(row: sqlite3.Row) -> dict[str, Any]:
    fields = {key: row[key] for key in ("name", "domain", "industry", "employees", "city", "state", "phone",
                                        "website")}
    return {"crm_id": row["id"], **{key: value for key, value in fields.items() if value is not None}}


def _contact_fields(row: sqlite3.Row) -> dict[str, Any]:
    keys = row.keys()
    fields: dict[str, Any] = {
        "crm_id": row["id"], "first_name": row["first_name"], "last_name": row["last_name"],
        "name": f"{row['first_name']} {row['last_name']}", "email": row["email"], "phone": row["phone"],
        "title": row["title"] if "title" in keys else None,
        "company": row["company_name"] if "company_name" in keys else None,
        "company_domain": row["company_domain"] if "company_domain" in keys else None,
        "city": row["city"] if "city" in keys else None, "state": row["state"] if "state" in keys else None,
        "kind": "contact" if "title" in keys else "customer",
    }
    return {key: value for key, value in fields.items() if value is not None}


# --------------------------------------------------------------------------------------------------- VINs

VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 = A ... 2030 = Y, then 2031 = 1


def _sample_vin(rng: random.Random, wmi: str, year: int) -> str:
    vds = "".join(rng.choice(VIN_ALPHABET) for _ in range(5))
    plant = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
    serial = f"{rng.randint(0, 999_999):06d}"
    draft = f"{wmi}{vds}0{VIN_YEAR_CODES[(year - 2010) % 30]}{plant}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


# ------------------------------------------------------------------------------------------ sample data

# (name, domain, industry, employees, city, state, area code)
SAMPLE_COMPANIES: tuple[tuple[str, str, str, int, str, str, str], ...] = (
    ("Harbor Fleet Services", "harborfleet.com", "fleet management", 240, "Tacoma", "WA", "253"),
    ("Cascade Collision Center", "cascadecollision.com", "auto body repair", 38, "Bellevue", "WA", "425"),
    ("Evergreen Car Rental", "evergreencarrental.com", "car rental", 310, "Seattle", "WA", "206"),
    ("Tideflats Towing & Recovery", "tideflatstowing.com", "towing", 35, "Tacoma", "WA", "253"),
    ("Narrows Auto Glass", "narrowsautoglass.com", "auto glass repair", 22, "Gig Harbor", "WA", "253"),
    ("Rainier Logistics Group", "rainierlogistics.com", "delivery and logistics", 520, "Kent", "WA", "253"),
    ("Summit Plumbing & Heating", "summitplumbingheat.com", "plumbing services", 64, "Spokane", "WA", "509"),
    ("Pioneer Landscape Co.", "pioneerlandscapeco.com", "landscaping", 45, "Portland", "OR", "503"),
    ("Willamette Valley Electric", "wvelectric.net", "electrical contracting", 88, "Salem", "OR", "503"),
    ("Bay Area Shuttle Partners", "bayshuttlepartners.com", "passenger transport", 150, "Oakland", "CA", "510"),
    ("Golden State Rent-A-Car", "goldenstaterac.com", "car rental", 420, "Sacramento", "CA", "916"),
    ("Mesa Verde Property Management", "mesaverdepm.com", "property management", 72, "Phoenix", "AZ", "602"),
    ("Sonoran Auto Body", "sonoranautobody.com", "auto body repair", 26, "Tucson", "AZ", "520"),
    ("Front Range Utility Services", "frontrangeutility.com", "utilities", 610, "Denver", "CO", "303"),
    ("Rocky Mountain Medical Transport", "rmmedtransport.com", "medical transport", 130, "Colorado Springs", "CO",
     "719"),
    ("Lone Star Fleet Leasing", "lonestarfleetleasing.com", "fleet management", 185, "Dallas", "TX", "214"),
    ("Gulf Coast Pest Control", "gulfcoastpest.com", "pest control", 95, "Houston", "TX", "713"),
    ("Hill Country Builders", "hillcountrybuilders.com", "construction", 140, "Austin", "TX", "512"),
    ("Alamo City Collision", "alamocitycollision.com", "auto body repair", 33, "San Antonio", "TX", "210"),
    ("Prairie Wind Telecom", "prairiewindtel.com", "telecommunications", 275, "Oklahoma City", "OK", "405"),
    ("Heartland Home Health", "heartlandhomehealth.org", "home health care", 210, "Omaha", "NE", "402"),
    ("Twin Cities Courier", "tccourier.com", "delivery and logistics", 115, "Minneapolis", "MN", "612"),
    ("Great Lakes Rental Cars", "greatlakesrentals.com", "car rental", 260, "Chicago", "IL", "312"),
    ("Lakeshore HVAC Services", "lakeshorehvac.com", "HVAC services", 58, "Milwaukee", "WI", "414"),
    ("Motor City Paint & Body", "motorcitypaintbody.com", "auto body repair", 41, "Detroit", "MI", "313"),
    ("Buckeye Facility Services", "buckeyefacility.com", "facilities maintenance", 330, "Columbus", "OH", "614"),
    ("Bluegrass Veterinary Group", "bluegrassvets.com", "veterinary services", 67, "Lexington", "KY", "859"),
    ("Music City Mobile Detailing", "musiccitydetail.com", "mobile detailing", 18, "Nashville", "TN", "615"),
    ("Peachtree Fleet Solutions", "peachtreefleet.com", "fleet management", 205, "Atlanta", "GA", "404"),
    ("Sunshine State Car Rental", "sunshinestaterentals.com", "car rental", 380, "Orlando", "FL", "407"),
    ("Palmetto Roofing Co.", "palmettoroofingco.com", "roofing", 52, "Charleston", "SC", "843"),
    ("Tar Heel Security Patrol", "tarheelsecurity.com", "security services", 145, "Raleigh", "NC", "919"),
    ("Chesapeake Marine Supply", "chesapeakemarine.com", "wholesale distribution", 76, "Baltimore", "MD", "410"),
    ("Keystone Collision Repair", "keystonecollision.com", "auto body repair", 29, "Pittsburgh", "PA", "412"),
    ("Liberty Plumbing Supply", "libertyplumbingsupply.com", "wholesale distribution", 110, "Philadelphia", "PA",
     "215"),
    ("Garden State Shuttle", "gardenstateshuttle.com", "passenger transport", 90, "Newark", "NJ", "973"),
    ("Empire Linen Services", "empirelinen.com", "commercial laundry", 160, "Albany", "NY", "518"),
    ("Green Mountain Propane", "greenmtnpropane.com", "fuel distribution", 84, "Burlington", "VT", "802"),
    ("Bay State Fleet Management", "baystatefleet.com", "fleet management", 175, "Worcester", "MA", "508"),
    ("Silver State Limousine", "silverstatelimo.com", "passenger transport", 48, "Las Vegas", "NV", "702"),
    ("Wasatch Fiber Installers", "wasatchfiber.com", "telecommunications", 120, "Salt Lake City", "UT", "801"),
    ("Magnolia Home Care", "magnoliahomecare.com", "home health care", 135, "Jackson", "MS", "601"),
)
BUYER_TITLES = {
    "fleet management": "Fleet Manager", "car rental": "Fleet Acquisition Manager", "auto body repair": "Owner",
    "auto glass repair": "Owner", "towing": "Owner", "delivery and logistics": "Director of Fleet Operations",
    "passenger transport": "Fleet Supervisor", "utilities": "Fleet Services Manager",
    "medical transport": "Operations Director",
}
STAFF_TITLES = ("Operations Manager", "Purchasing Manager", "Office Manager", "Controller", "General Manager",
                "Procurement Specialist", "Service Coordinator", "Vice President of Operations",
                "Facilities Director", "Accounts Payable Specialist", "Shop Manager", "Dispatcher")
FIRST_NAMES = ("James", "Maria", "Robert", "Jennifer", "Michael", "Linda", "David", "Patricia", "William",
               "Elizabeth", "Carlos", "Susan", "Daniel", "Jessica", "Matthew", "Sarah", "Anthony", "Karen",
               "Joshua", "Nancy", "Kevin", "Lisa", "Brian", "Angela", "Jose", "Ashley", "Thomas", "Kimberly",
               "Christopher", "Michelle", "Andrew", "Emily", "Luis", "Amanda", "Ryan", "Melissa", "Jason",
               "Stephanie", "Eric", "Rebecca", "Tyler", "Laura", "Aaron", "Nicole", "Marcus", "Priya", "Wei",
               "Mei", "Hiroshi", "Aisha", "Omar", "Fatima", "Minh", "Linh", "Samuel", "Grace", "Ethan",
               "Olivia", "Noah", "Sofia", "Isaac", "Hannah", "Gabriel", "Chloe", "Diego", "Valentina")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
              "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
              "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
              "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
              "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
              "Carter", "Roberts", "Patel", "Kim", "Chen", "Okafor", "Yamamoto", "Singh", "Novak", "Larsen",
              "Olsen", "Fitzgerald", "Sullivan", "O'Brien", "Kowalski", "Morales", "Reyes", "Bishop")
CUSTOMER_CITIES = (("Tacoma", "253"), ("Lakewood", "253"), ("Puyallup", "253"), ("Olympia", "360"),
                   ("Lacey", "360"), ("Bremerton", "360"), ("Renton", "425"), ("Bellevue", "425"),
                   ("Everett", "425"), ("Seattle", "206"), ("Burien", "206"), ("Shoreline", "206"))
# (make, model, world manufacturer identifier)
SAMPLE_MODELS = (("Ford", "F-150", "1FT"), ("Ford", "Transit 250", "1FT"), ("Ford", "Escape", "1FM"),
                 ("Ford", "Explorer", "1FM"), ("Chevrolet", "Silverado 1500", "1GC"), ("Chevrolet", "Equinox", "2GN"),
                 ("Chevrolet", "Malibu", "1G1"), ("Toyota", "Camry", "4T1"), ("Toyota", "RAV4", "2T3"),
                 ("Toyota", "Tacoma", "3TM"), ("Toyota", "Highlander", "5TD"), ("Honda", "Civic", "2HG"),
                 ("Honda", "CR-V", "5J6"), ("Honda", "Accord", "1HG"), ("Honda", "Odyssey", "5FN"),
                 ("Nissan", "Altima", "1N4"), ("Nissan", "Rogue", "5N1"), ("Ram", "1500", "1C6"),
                 ("Jeep", "Grand Cherokee", "1C4"), ("Subaru", "Outback", "4S4"), ("Subaru", "Forester", "JF2"),
                 ("Hyundai", "Tucson", "5NM"), ("Kia", "Telluride", "5XY"), ("GMC", "Sierra 1500", "3GT"),
                 ("Tesla", "Model Y", "7SA"), ("Mazda", "CX-5", "JM3"))
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved: a demo can never email a real person
LEAD_SOURCES = ("website", "autotrader", "cars.com", "facebook", "phone", "walk-in")
APPOINTMENT_TYPES = (("oil_change", 30), ("brake_inspection", 60), ("tire_rotation", 30), ("test_drive", 30),
                     ("trade_appraisal", 30), ("vehicle_delivery", 90), ("recall_repair", 120))


def _sample_id(dealer_id: str, kind: str, n: int) -> str:
    """Deterministic ids, distinct per dealer, so two dealers' samples can share a database."""
    return f"{kind}_{hashlib.sha256(f'{dealer_id}/{kind}/{n}'.encode()).hexdigest()[:12]}"


def create_sample_crm(path: str | Path, dealer_id: str = "demo", *, today: date | None = None,
                      timezone: str = "UTC") -> SqliteCrm:
    """A CRM filled with a deterministic sample for ``dealer_id``: 42 business accounts (fleets, body shops,
    rental firms) with 126 contacts, 200 retail customers with their vehicles, and a few leads, open tasks and
    appointments on the business days after ``today``. Running it again adds nothing. Includes Harbor Fleet
    Services (harborfleet.com) and its Fleet Director Dana Whitfield, for demos and tests.
    """
    crm = SqliteCrm(path, timezone=timezone)
    rng = random.Random(7)
    today = today or date.today()
    created = _utc_text(datetime.combine(today - timedelta(days=30), time(9), tzinfo=crm.zone))
    phones: set[str] = set()

    def phone(area: str) -> str:
        # 555-0100..0199 is reserved for fiction, so no demo text can reach a real phone: 100 per area code
        free = [n for n in range(100, 200) if f"+1{area}5550{n}" not in phones]
        if not free:
            raise ValueError(f"the sample ran out of fictional 555-01xx numbers in area code {area}")
        number = f"+1{area}5550{rng.choice(free)}"
        phones.add(number)
        return number

    def person() -> tuple[str, str]:
        return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)

    companies: list[tuple[Any, ...]] = []
    contacts: list[tuple[Any, ...]] = []
    customers: list[tuple[Any, ...]] = []
    vehicles: list[tuple[Any, ...]] = []
    emails: set[str] = set()

    def unique_email(local: str, domain: str) -> str:
        local = re.sub(r"[^a-z0-9.]", "", local.lower())
        candidate, n = f"{local}@{domain}", 1
        while candidate in emails:
            n += 1
            candidate = f"{local}{n}@{domain}"
        emails.add(candidate)
        return candidate

    for index, (name, domain, industry, employees, city, state, area) in enumerate(SAMPLE_COMPANIES):
        company_id = _sample_id(dealer_id, "co", index)
        companies.append((company_id, dealer_id, name, domain, industry, employees, city, state, phone(area),
                          f"https://www.{domain}", created))
        for n in range(3):
            if index == 0 and n == 0:
                first, last, title = "Dana", "Whitfield", "Fleet Director"
            else:
                first, last = person()
                title = BUYER_TITLES.get(industry, "Fleet Manager") if n == 0 else rng.choice(STAFF_TITLES)
            contacts.append((_sample_id(dealer_id, "ct", index * 3 + n), dealer_id, first, last, title,
                             unique_email(f"{first}.{last}", domain), phone(area), company_id, created))

    for index in range(200):
        first, last = person()
        city, area = rng.choice(CUSTOMER_CITIES)
        local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randint(60, 99)}"))
        customer_id = _sample_id(dealer_id, "cu", index)
        customers.append((customer_id, dealer_id, first, last, unique_email(local, rng.choice(EMAIL_DOMAINS)),
                          phone(area), city, "WA", created))
        for _ in range(2 if rng.random() < 0.3 else 1):
            make, model, wmi = rng.choice(SAMPLE_MODELS)
            year = rng.randint(2013, 2025)
            vehicles.append((_sample_id(dealer_id, "veh", len(vehicles)), dealer_id, _sample_vin(rng, wmi, year),
                             year, make, model, customer_id, created))

    leads: list[tuple[Any, ...]] = []
    for index in range(8):
        first, last = person()
        make, model, _ = rng.choice(SAMPLE_MODELS)
        leads.append((_sample_id(dealer_id, "lead", index), dealer_id, f"{first} {last}",
                      unique_email(f"{first}.{last}", rng.choice(EMAIL_DOMAINS)), phone("253"),
                      f"{rng.randint(2024, 2026)} {make} {model}", rng.choice(LEAD_SOURCES),
                      rng.choice(("new", "new", "contacted")), created))

    business_days = [today + timedelta(days=n) for n in range(1, 15) if (today + timedelta(days=n)).weekday() < 6]
    task_specs = (("Call new web lead within 15 minutes", "salesperson", "high", leads[0][0]),
                  ("Call customer about declined brake work", "service_advisor", "normal", customers[3][0]),
                  ("Prepare trade-in appraisal (check history report and photos)", "used_car_manager", "normal",
                   vehicles[5][2]),
                  ("Send fleet pricing for 12 Transit vans", "fleet_manager", "high", companies[0][0]),
                  ("Lease-end call: review options with customer", "salesperson", "normal", customers[10][0]),
                  ("PDI, detail, full tank and remove stickers before delivery", "porter", "normal", vehicles[9][2]))
    tasks = [(_sample_id(dealer_id, "task", n), dealer_id, title, role, priority,
              _iso(datetime.combine(business_days[n % len(business_days)], time(10 + n), tzinfo=crm.zone)),
              about, None, created) for n, (title, role, priority, about) in enumerate(task_specs)]

    appointments: list[tuple[Any, ...]] = []
    for n in range(10):
        kind, minutes = APPOINTMENT_TYPES[n % len(APPOINTMENT_TYPES)]
        customer_row = customers[n * 7]
        vehicle = next((v[2] for v in vehicles if v[6] == customer_row[0]), None)
        starts = datetime.combine(business_days[n // 2], time(9 + (n % 2) * 4), tzinfo=crm.zone)
        appointments.append((_sample_id(dealer_id, "appt", n), dealer_id, f"{customer_row[2]} {customer_row[3]}",
                             vehicle, kind, _utc_text(starts), _utc_text(starts + timedelta(minutes=minutes)),
                             created))

    with crm._write_lock, closing(crm._connect()) as conn, _transaction(conn):
        conn.executemany("INSERT OR IGNORE INTO companies (id, dealer_id, name, domain, industry, employees, city, "
                         "state, phone, website, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", companies)
        conn.executemany("INSERT OR IGNORE INTO contacts (id, dealer_id, first_name, last_name, title, email, "
                         "phone, company_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", contacts)
        conn.executemany("INSERT OR IGNORE INTO customers (id, dealer_id, first_name, last_name, email, phone, "
                         "city, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", customers)
        conn.executemany("INSERT OR IGNORE INTO vehicles (id, dealer_id, vin, year, make, model, customer_id, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", vehicles)
        conn.executemany("INSERT OR IGNORE INTO leads (id, dealer_id, customer_name, email, phone, "
                         "vehicle_of_interest, source, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         leads)
        conn.executemany("INSERT OR IGNORE INTO tasks (id, dealer_id, title, assignee_role, priority, due_at, "
                         "about, context, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", tasks)
        conn.executemany("INSERT OR IGNORE INTO appointments (id, dealer_id, customer, vehicle, appointment_type, "
                         "starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", appointments)
    return crm


def open_crm(path: str | Path, *, dealer_id: str = "demo", timezone: str = "UTC",
             clock: Callable[[], datetime] | None = None, lookup_dealer_id: str | None = None) -> SqliteCrm:
    """The CRM at ``path``; a file that does not exist yet is created with the sample for ``dealer_id``."""
    if not Path(path).exists():
        create_sample_crm(path, dealer_id, timezone=timezone)
    return SqliteCrm(path, timezone=timezone, clock=clock, lookup_dealer_id=lookup_dealer_id)
