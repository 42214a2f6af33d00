"""A labelled set of synthetic scanned dealership documents, drawn with Pillow from system fonts.

Five document types (repair orders, invoices, driver licences, credit applications, buyer's orders) are printed
the way /tmp/docspec/SPEC.md describes: a dealership header, a title naming the type, "Label: value" rows with
varied labels and value formats, and distractor rows (subtotal, tax, expiry dates, line items...). Each document
carries its ground truth: every printed row as text (for a character error rate) and the fields an extractor must
read, already normalised. Every third document of a type is degraded like a poor scan (skew, blur, noise, JPEG,
low resolution). Nothing here is an image checked into the repository; the tests and ``bench/documents.py``
build the pages from this module, deterministically.

    python -m tests.documents_corpus OUT_DIR     # writes OUT_DIR/<doc_id>.png and OUT_DIR/truth.json
"""

from __future__ import annotations

import io
import itertools
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from schemas.vin import VIN_ALPHABET, vin_check_digit

DOCUMENT_TYPES: tuple[str, ...] = ("repair_order", "invoice", "drivers_license", "credit_application", "buyers_order")
FIELD_NAMES: tuple[str, ...] = (
    "vin", "ro_number", "invoice_number", "customer_name", "phone", "email",
    "date", "mileage", "total", "license_number", "date_of_birth",
)  # fmt: skip
PAGE_LAYOUTS: tuple[str, ...] = ("single", "two_column", "form")  # the drivers licence always uses "card"
DEGRADATIONS: tuple[str, ...] = ("skew", "blur", "lowres", "noise", "jpeg")  # also the order they are applied in
PAGE_SIZE, PAGE_DPI = (1700, 2200), 200  # US Letter at 200 dpi
CARD_SIZE, CARD_DPI = (1012, 638), 300  # ID-1 card (3.375 x 2.125 in) at 300 dpi

Fields = dict[str, str | int | None]
RGB = tuple[int, int, int]

# --------------------------------------------------------------------------------------------------- fonts

FONT_DIRS: dict[str, tuple[str, str]] = {  # stem prefix -> (directory, Debian package that ships it)
    "DejaVu": ("/usr/share/fonts/truetype/dejavu", "fonts-dejavu-core"),
    "Liberation": ("/usr/share/fonts/truetype/liberation", "fonts-liberation"),
    "Free": ("/usr/share/fonts/truetype/freefont", "fonts-freefont-ttf"),
}
FONTS: tuple[str, ...] = (  # body fonts, cycled through the corpus
    "DejaVuSans", "LiberationSerif-Regular", "FreeSans", "DejaVuSansMono",
    "LiberationSans-Regular", "FreeSerif", "DejaVuSerif", "LiberationMono-Regular",
)  # fmt: skip
BOLD: dict[str, str] = {  # body font -> the bold face used for titles, the dealer name and section heads
    "DejaVuSans": "DejaVuSans-Bold",
    "DejaVuSerif": "DejaVuSerif-Bold",
    "DejaVuSansMono": "DejaVuSansMono-Bold",
    "LiberationSans-Regular": "LiberationSans-Bold",
    "LiberationSerif-Regular": "LiberationSerif-Bold",
    "LiberationMono-Regular": "LiberationMono-Bold",
    "FreeSans": "FreeSansBold",
    "FreeSerif": "FreeSerifBold",
}


def font_path(stem: str) -> Path:
    """The .ttf file of a font stem; a clear error naming the Debian package when it is not installed."""
    for prefix, (directory, package) in FONT_DIRS.items():
        if stem.startswith(prefix):
            path = Path(directory) / f"{stem}.ttf"
            if not path.is_file():
                raise FileNotFoundError(f"font {path} is missing: install the Debian package {package}")
            return path
    raise ValueError(f"unknown font {stem!r}: expected one of the DejaVu, Liberation or FreeFont families")


@lru_cache(maxsize=256)
def _font(stem: str, size: int) -> ImageFont.FreeTypeFont:
    """A loaded font, cached: the corpus asks for the same few faces and sizes thousands of times."""
    return ImageFont.truetype(str(font_path(stem)), size)


def _bold(stem: str) -> str:
    """The bold face of a body font (titles, dealer names and section heads are bold)."""
    return BOLD.get(stem, stem)


def _fit(text: str, stem: str, size: int, width: float) -> ImageFont.FreeTypeFont:
    """The font at `size`, or smaller until `text` fits in `width` px (a fallback that keeps text inside margins)."""
    font = _font(stem, size)
    while size > 12 and font.getlength(text) > width:
        size -= 1
        font = _font(stem, size)
    return font


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap of `text` into chunks no wider than `width` px."""
    out: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > width:
            out.append(current)
            current = word
        else:
            current = candidate
    if current:
        out.append(current)
    return out


# ---------------------------------------------------------------------------------------------------- data

FIRST_NAMES: tuple[str, ...] = (
    "Maria", "James", "Linda", "Robert", "Aisha", "David", "Jennifer", "Michael", "Sofia", "William", "Priya",
    "Daniel", "Emily", "Carlos", "Grace", "Kevin", "Olivia", "Marcus", "Hannah", "Luis", "Rachel", "Thomas",
    "Nina", "Andre",
)  # fmt: skip
FEMALE_NAMES = frozenset(
    ("Maria", "Linda", "Aisha", "Jennifer", "Sofia", "Priya", "Emily", "Grace", "Olivia", "Hannah", "Rachel", "Nina")
)
LAST_NAMES: tuple[str, ...] = (
    "Gonzalez", "Smith", "Johnson", "Nguyen", "Patel", "Williams", "Brown", "Garcia", "Miller", "Davis",
    "Martinez", "Anderson", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Walker", "Robinson",
)  # fmt: skip
STREETS: tuple[str, ...] = (
    "Elm St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Lakeview Dr", "Highland Ave", "Sunset Blvd",
    "Park Pl", "Washington St", "Lincoln Ave", "Jefferson St", "Main St", "Broadway", "Willow Way", "Birch Rd",
)  # fmt: skip
CITIES: tuple[tuple[str, str, str, str], ...] = (  # city, state, ZIP, area code
    ("New York", "NY", "10027", "212"), ("Chicago", "IL", "60614", "312"),
    ("San Francisco", "CA", "94110", "415"), ("Portland", "OR", "97202", "503"),
    ("Phoenix", "AZ", "85016", "602"), ("Houston", "TX", "77005", "713"),
    ("Miami", "FL", "33133", "305"), ("Boston", "MA", "02130", "617"),
    ("Seattle", "WA", "98115", "206"), ("Atlanta", "GA", "30306", "404"),
    ("Denver", "CO", "80205", "303"), ("Dallas", "TX", "75204", "214"),
)  # fmt: skip
STATE_NAMES: dict[str, str] = {
    "NY": "New York", "IL": "Illinois", "CA": "California", "OR": "Oregon", "AZ": "Arizona", "TX": "Texas",
    "FL": "Florida", "MA": "Massachusetts", "WA": "Washington", "GA": "Georgia", "CO": "Colorado",
}  # fmt: skip
DEALERS: tuple[tuple[str, str], ...] = (  # name, address
    ("Sunset Motors", "1200 Ocean Ave, Santa Monica, CA 90401"),
    ("Lakeside Honda", "455 W North Ave, Chicago, IL 60610"),
    ("Bayview Toyota", "2101 Van Ness Ave, San Francisco, CA 94109"),
    ("Rose City Ford", "8800 SE 82nd Ave, Portland, OR 97266"),
    ("Desert Sky Chevrolet", "3301 E Camelback Rd, Phoenix, AZ 85018"),
    ("Gulf Coast Nissan", "11200 Katy Fwy, Houston, TX 77079"),
    ("Harbor Kia", "7700 Biscayne Blvd, Miami, FL 33138"),
    ("Commonwealth Subaru", "1050 Commonwealth Ave, Boston, MA 02215"),
    ("Emerald City Mazda", "4000 Aurora Ave N, Seattle, WA 98103"),
    ("Peachtree Hyundai", "2500 Peachtree Rd NE, Atlanta, GA 30305"),
)
VEHICLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (  # make, models, world manufacturer ids
    ("Honda", ("Accord", "Civic", "CR-V", "Pilot"), ("1HG", "2HK", "5FN")),
    ("Toyota", ("Camry", "Corolla", "RAV4", "Tacoma"), ("4T1", "JTD", "2T3")),
    ("Ford", ("F-150", "Escape", "Explorer", "Mustang"), ("1FT", "1FM", "1FA")),
    ("Chevrolet", ("Silverado", "Equinox", "Malibu", "Tahoe"), ("1GC", "2GN", "1G1")),
    ("Nissan", ("Altima", "Rogue", "Sentra"), ("1N4", "JN8")),
    ("Kia", ("Sorento", "Telluride", "Forte"), ("5XY", "KND", "3KP")),
    ("Subaru", ("Outback", "Forester", "Crosstrek"), ("4S4", "JF2")),
    ("Mazda", ("CX-5", "Mazda3", "CX-50"), ("JM3", "3MZ")),
    ("Hyundai", ("Tucson", "Elantra", "Santa Fe"), ("5NM", "KM8")),
)
COLORS: tuple[str, ...] = ("Silver", "Black", "White", "Blue", "Red", "Gray", "Green", "Pearl White")
MODEL_YEAR_CODES: dict[int, str] = {  # VIN position 10
    2015: "F", 2016: "G", 2017: "H", 2018: "J", 2019: "K", 2020: "L",
    2021: "M", 2022: "N", 2023: "P", 2024: "R", 2025: "S", 2026: "T",
}  # fmt: skip
SERVICE_OPS: tuple[tuple[str, int, int], ...] = (  # description, min and max price in dollars
    ("Replace front brake pads", 150, 260), ("Resurface front rotors", 120, 200),
    ("Synthetic oil and filter change", 60, 110), ("Rotate and balance tires", 40, 80),
    ("Replace cabin air filter", 45, 90), ("Replace engine air filter", 40, 75), ("Coolant flush", 120, 180),
    ("Replace serpentine belt", 130, 220), ("Four wheel alignment", 100, 160),
    ("Test and replace battery", 180, 280), ("Replace wiper blades", 35, 60),
    ("Transmission fluid service", 180, 290), ("Diagnose check engine light", 140, 190),
    ("Replace spark plugs", 220, 380),
)  # fmt: skip
PARTS: tuple[tuple[str, int, int], ...] = (
    ("Oil filter (2)", 18, 30), ("Brake pad set, front", 60, 140), ("Wiper blade 22 in (2)", 30, 50),
    ("Cabin air filter", 20, 45), ("Serpentine belt", 35, 70), ("Spark plug (4)", 40, 90),
    ("Headlight bulb H11", 15, 40), ("All weather floor mats", 90, 180), ("Battery group 48 AGM", 160, 260),
    ("Brake fluid DOT 3", 10, 20), ("Coolant 1 gal", 18, 32), ("Tire pressure sensor", 45, 85),
)  # fmt: skip
REPAIR_NOTES: tuple[tuple[str, str], ...] = (  # concern, technician notes
    ("squealing noise from the front brakes when stopping",
     "front pads measured 2 mm, rotors within spec after resurfacing. Road tested, no noise."),
    ("check engine light on, rough idle when cold",
     "code P0302 cylinder 2 misfire, plugs worn. Replaced plugs, cleared codes, verified repair."),
    ("vehicle pulls to the right at highway speed",
     "toe out of spec on the right front. Aligned to factory spec, steering wheel centered."),
    ("due for scheduled maintenance",
     "performed oil service and multi-point inspection. Rear tires at 5/32, recommend replacing soon."),
    ("battery warning light came on twice this week",
     "battery failed load test, charging system OK. Installed new battery and reset the clock."),
    ("A/C blowing warm air on the driver side",
     "low refrigerant, no leak found with dye. Evacuated and recharged, vent temp 41 F."),
)  # fmt: skip
EMPLOYERS: tuple[tuple[str, str], ...] = (
    ("Acme Logistics", "Warehouse Supervisor"), ("Northside Medical Center", "Registered Nurse"),
    ("City of Springfield", "Civil Engineer"), ("Bright Path Schools", "Teacher"),
    ("Summit Software", "Developer"), ("Riverside Grocers", "Store Manager"), ("Delta Freight", "Driver"),
    ("Evergreen Dental", "Office Manager"),
)  # fmt: skip
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
CARDS: tuple[str, ...] = ("Visa", "Mastercard", "Amex", "Debit")
EMAIL_DOMAINS: tuple[str, ...] = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "comcast.net", "aol.com")

TITLES: dict[str, tuple[str, ...]] = {
    "repair_order": ("REPAIR ORDER", "SERVICE REPAIR ORDER", "Repair Order"),
    "invoice": ("INVOICE", "SERVICE INVOICE", "PARTS INVOICE", "Service Invoice"),
    "credit_application": ("CREDIT APPLICATION", "APPLICATION FOR CREDIT", "Credit Application"),
    "buyers_order": ("BUYER'S ORDER", "BUYERS ORDER", "VEHICLE PURCHASE AGREEMENT", "Buyer's Order"),
}
LABELS: dict[str, tuple[str, ...]] = {
    "vin": ("VIN", "VIN #", "VIN No.", "Vehicle ID"),
    "ro_number": ("RO #", "RO No.", "RO Number", "Repair Order #"),
    "invoice_number": ("Invoice #", "Invoice No.", "Invoice Number", "INV #"),
    "phone": ("Phone", "Tel", "Cell", "Mobile", "Home Phone"),
    "email": ("Email", "E-mail"),
    "mileage": ("Mileage", "Mileage In", "Odometer", "Miles"),
    "total": ("Total", "Grand Total", "Total Due", "Amount Due", "Balance Due", "Total Amount", "Total Price"),
    "license_number": ("DL #", "DLN", "License No.", "Driver License #"),
    "dob": ("DOB", "Date of Birth"),
    "tax": ("Sales Tax", "Tax", "Sales Tax ({rate})"),
}
NAME_LABELS: dict[str, tuple[str, ...]] = {
    "repair_order": ("Customer", "Customer Name", "Name"),
    "invoice": ("Customer", "Customer Name", "Name"),
    "credit_application": ("Applicant", "Applicant Name", "Name"),
    "buyers_order": ("Buyer", "Purchaser", "Customer Name"),
}
DATE_LABELS: dict[str, tuple[str, ...]] = {
    "repair_order": ("Date", "RO Date", "Date Opened"),
    "invoice": ("Date", "Invoice Date"),
    "credit_application": ("Date", "Application Date"),
    "buyers_order": ("Date", "Sale Date"),
}

# ----------------------------------------------------------------------------------------- value formats


def _vin(rng: random.Random, wmi: str, year: int) -> str:
    """A plausible VIN: manufacturer id, 5 descriptor chars, check digit, model year, plant, 6-digit serial."""
    descriptor = "".join(rng.choice(VIN_ALPHABET) for _ in range(5))
    plant = rng.choice(VIN_ALPHABET)
    serial = f"{rng.randrange(10**6):06d}"
    draft = f"{wmi}{descriptor}0{MODEL_YEAR_CODES[year]}{plant}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def _fmt_date(d: date, style: int) -> str:
    """The four printed date styles of SPEC.md: 03/14/2026, 2026-03-14, March 14, 2026, 14-Mar-2026."""
    return (
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        d.isoformat(),
        f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
        f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}",
    )[style % 4]


def _fmt_money(cents: int, style: int) -> str:
    """$1,193.46 | 1193.46 | USD 1,193.46."""
    grouped = f"{cents // 100:,}.{cents % 100:02d}"
    return (f"${grouped}", f"{cents // 100}.{cents % 100:02d}", f"USD {grouped}")[style % 3]


def _money_value(cents: int) -> str:
    """The normalised total: a plain decimal string, e.g. "1193.46"."""
    return f"{cents // 100}.{cents % 100:02d}"


def _fmt_miles(miles: int, style: int) -> str:
    """45,210 | 45210 | 45,210 mi."""
    return (f"{miles:,}", str(miles), f"{miles:,} mi")[style % 3]


def _cents(rng: random.Random, low: int, high: int) -> int:
    """A price between `low` and `high` dollars, with the cents a shop would print (.00, .50, .95, .99)."""
    return rng.randint(low, high) * 100 + rng.choice((0, 0, 50, 95, 99))


def _tax(subtotal: int, basis_points: int) -> int:
    """Sales tax in cents, so that total == subtotal + tax holds exactly on the printed page."""
    return (subtotal * basis_points + 5000) // 10000  # round half up, in integer cents


def _rate(basis_points: int) -> str:
    """A tax rate as printed in a label, e.g. "8.25%"."""
    return f"{basis_points // 100}.{basis_points % 100:02d}%"


@dataclass(frozen=True)
class _Person:
    """A customer: everything the documents print about them."""

    first: str
    last: str
    street: str
    city: str
    state: str
    zip: str
    area: str
    exchange: int
    subscriber: int
    dob: date
    email: str  # as printed (its case may vary)

    def name(self, style: int) -> str:
        return (f"{self.first} {self.last}", f"{self.first} {self.last}".upper(), f"{self.last}, {self.first}")[
            style % 3
        ]

    def phone(self, style: int) -> str:
        a, e, s = self.area, self.exchange, f"{self.subscriber:04d}"
        return (f"({a}) {e}-{s}", f"{a}-{e}-{s}", f"{a}.{e}.{s}", f"+1 {a} {e} {s}")[style % 4]

    @property
    def e164(self) -> str:
        return f"+1{self.area}{self.exchange}{self.subscriber:04d}"

    @property
    def address(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zip}"


def _person(rng: random.Random) -> _Person:
    """A random customer with a real area code and an exchange that is not 555."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, state, zip_code, area = rng.choice(CITIES)
    exchange = rng.choice([n for n in range(200, 1000) if n != 555])
    dob = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 54))
    nn = rng.randint(1, 99)
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{nn}", f"{first}_{last[0]}{nn}"))
    email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
    if rng.random() < 0.75:
        email = email.lower()
    return _Person(
        first=first, last=last, street=f"{rng.randint(10, 9899)} {rng.choice(STREETS)}", city=city, state=state,
        zip=zip_code, area=area, exchange=exchange, subscriber=rng.randrange(10000), dob=dob, email=email,
    )  # fmt: skip


def _license_number(rng: random.Random, state: str) -> str:
    """A licence number in the shape the issuing state uses (letters without O, I, Q so a human can read it)."""
    letter = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
    digits = "".join(str(rng.randrange(10)) for _ in range(12))
    if state == "IL":
        return f"{letter}{digits[:3]}-{digits[3:7]}-{digits[7:11]}"
    if state == "FL":
        return f"{letter}{digits[:3]}-{digits[3:6]}-{digits[6:8]}-{digits[8:11]}-{digits[11]}"
    if state in ("TX", "GA"):
        return digits[:8] if state == "TX" else digits[:9]
    if state == "NY":
        return digits[:9]
    if state == "WA":
        return "WDL" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(9))
    return f"{letter}{digits[:7]}" if state in ("CA", "OR", "CO") else f"{letter}{digits[:8]}"


def _doc_date(rng: random.Random) -> date:
    """A document date between January 2025 and mid 2026."""
    return date(2025, 1, 2) + timedelta(days=rng.randrange(540))


def _vehicle(rng: random.Random) -> tuple[int, str, str, str]:
    """Model year, make, model and a VIN that agrees with them."""
    make, models, wmis = rng.choice(VEHICLES)
    year = rng.randint(2015, 2026)
    return year, make, rng.choice(models), _vin(rng, rng.choice(wmis), year)


# ------------------------------------------------------------------------------------------ document rows


@dataclass(frozen=True)
class Row:
    """One printed row before layout: its kind and its cells, each a (label, value) pair (label "" for text).

    Kinds: header (dealer name, address), title, section, field (1 or 2 label/value cells; layouts decide whether
    two cells share a line), item (description, right-aligned amount), amount (a right-aligned money row),
    text (wrapped to the page width) and card (a licence row: cells printed "LABEL VALUE" side by side).
    """

    kind: str
    cells: tuple[tuple[str, str], ...]
    sep: str = ": "

    def texts(self) -> list[str]:
        return [f"{label}{self.sep}{value}" if label else value for label, value in self.cells]


def _field(*cells: tuple[str, str]) -> Row:
    """A row of one or two label/value pairs."""
    return Row("field", cells)


def _amount(label: str, value: str) -> Row:
    """A money row of the totals block (subtotal, tax, total, fees...)."""
    return Row("amount", ((label, value),))


def _text(text: str, label: str = "") -> Row:
    """A free text row, wrapped to the page width (notes, disclaimers)."""
    return Row("text", ((label, text),))


def _header(rng: random.Random) -> Row:
    """The dealership header: name on the left, address on the right."""
    name, address = rng.choice(DEALERS)
    return Row("header", (("", name), ("", address)))


def _title(rng: random.Random, doc_type: str) -> Row:
    """The title naming the document type, in one of SPEC.md's spellings."""
    return Row("title", (("", rng.choice(TITLES[doc_type])),))


def _empty_fields() -> Fields:
    """All DocumentFields keys, None: the types fill in what they carry."""
    return dict.fromkeys(FIELD_NAMES)


@dataclass(frozen=True)
class _Styles:
    """Which printed format each value uses; cycled by document index so every format appears in a corpus."""

    date: int
    name: int
    phone: int
    money: int
    miles: int

    @staticmethod
    def of(index: int) -> _Styles:
        return _Styles(date=index % 4, name=(index + 1) % 3, phone=(index * 3 + 2) % 4, money=(index + 2) % 3,
                       miles=index % 3)  # fmt: skip


def _tax_label(rng: random.Random, basis_points: int) -> str:
    """"Sales Tax", "Tax" or "Sales Tax (8.25%)"."""
    return rng.choice(LABELS["tax"]).format(rate=_rate(basis_points))


def _repair_order(rng: random.Random, index: int) -> tuple[list[Row], Fields]:
    """A repair order: RO number, customer, vehicle, VIN, mileage, operations, notes, totals."""
    st, person = _Styles.of(index), _person(rng)
    year, make, model, vin = _vehicle(rng)
    day, miles = _doc_date(rng), rng.randint(3_000, 140_000)
    ro = str(rng.randint(100_000, 999_999))
    ro = f"RO-{ro}" if rng.random() < 0.4 else ro
    has_email = index % 2 == 0
    ops = rng.sample(SERVICE_OPS, rng.randint(2, 5))
    prices = [_cents(rng, lo, hi) for _, lo, hi in ops]
    subtotal = sum(prices)
    parts = subtotal * rng.randint(22, 45) // 100
    rate = rng.choice((600, 625, 700, 725, 825, 875, 950))
    tax = _tax(subtotal, rate)
    concern, notes = rng.choice(REPAIR_NOTES)
    advisor = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)[0]}."
    m = st.money
    rows = [
        _header(rng),
        _title(rng, "repair_order"),
        _field((rng.choice(LABELS["ro_number"]), ro),
               (rng.choice(DATE_LABELS["repair_order"]), _fmt_date(day, st.date))),
        _field((rng.choice(NAME_LABELS["repair_order"]), person.name(st.name))),
        _field(("Address", person.address)),
        _field((rng.choice(LABELS["phone"]), person.phone(st.phone)), *(
            [(rng.choice(LABELS["email"]), person.email)] if has_email else [])),
        _field(("Year/Make/Model", f"{year} {make} {model}"), ("Color", rng.choice(COLORS))),
        _field((rng.choice(LABELS["vin"]), vin)),
        _field((rng.choice(LABELS["mileage"]), _fmt_miles(miles, st.miles)),
               ("Promised", _fmt_date(day + timedelta(days=rng.randint(0, 3)), st.date))),
        _field(("Advisor", advisor)),
        Row("section", (("", rng.choice(("SERVICE PERFORMED", "LABOR OPERATIONS", "WORK PERFORMED"))),)),
        *(Row("item", (("", desc), ("", _fmt_money(p, m)))) for (desc, _, _), p in zip(ops, prices, strict=True)),
        _text(concern[0].upper() + concern[1:] + ".", "Concern"),
        _text(notes, "Tech Notes"),
        _amount("Labor", _fmt_money(subtotal - parts, m)),
        _amount("Parts", _fmt_money(parts, m)),
        _amount("Subtotal", _fmt_money(subtotal, m)),
        _amount(_tax_label(rng, rate), _fmt_money(tax, m)),
        _amount(rng.choice(LABELS["total"]), _fmt_money(subtotal + tax, m)),
        _text(rng.choice(("Thank you for your business!", "All work guaranteed 12 months / 12,000 miles."))),
    ]
    fields = _empty_fields() | {
        "ro_number": ro.upper(), "vin": vin, "customer_name": f"{person.first} {person.last}",
        "phone": person.e164, "email": person.email.lower() if has_email else None, "date": day.isoformat(),
        "mileage": miles, "total": _money_value(subtotal + tax),
    }  # fmt: skip
    return rows, fields


def _invoice(rng: random.Random, index: int) -> tuple[list[Row], Fields]:
    """A service or parts invoice: number, customer, parts lines, totals; a VIN on odd indices."""
    st, person = _Styles.of(index), _person(rng)
    year, make, model, vin = _vehicle(rng)
    has_vin = index % 2 == 1
    day = _doc_date(rng)
    number = f"INV-{rng.randint(10_000, 99_999)}" if rng.random() < 0.4 else str(rng.randint(100_000, 999_999))
    title = rng.choice(TITLES["invoice"])
    service = "SERVICE" in title.upper()
    parts = rng.sample(PARTS, rng.randint(3, 6))
    prices = [_cents(rng, lo, hi) for _, lo, hi in parts]
    labor = _cents(rng, 80, 420) if service else 0
    subtotal = sum(prices) + labor
    rate = rng.choice((600, 625, 700, 725, 825, 875, 950))
    tax = _tax(subtotal, rate)
    m = st.money
    rows = [
        _header(rng),
        Row("title", (("", title),)),
        _field((rng.choice(LABELS["invoice_number"]), number),
               (rng.choice(DATE_LABELS["invoice"]), _fmt_date(day, st.date))),
        _field((rng.choice(NAME_LABELS["invoice"]), person.name(st.name))),
        _field(("Address", person.address)),
        _field((rng.choice(LABELS["phone"]), person.phone(st.phone)), (rng.choice(LABELS["email"]), person.email)),
    ]
    if has_vin:
        rows += [_field(("Vehicle", f"{year} {make} {model}")), _field((rng.choice(LABELS["vin"]), vin))]
    rows += [
        _field(("Terms", rng.choice(("Due on receipt", "Net 30", "Paid in full")))),
        Row("section", (("", "PARTS AND MATERIALS" if service else "PARTS"),)),
        *(Row("item", (("", desc), ("", _fmt_money(p, m)))) for (desc, _, _), p in zip(parts, prices, strict=True)),
    ]
    if service:
        rows += [_amount("Parts", _fmt_money(sum(prices), m)), _amount("Labor", _fmt_money(labor, m))]
    rows += [
        _amount("Subtotal", _fmt_money(subtotal, m)),
        _amount(_tax_label(rng, rate), _fmt_money(tax, m)),
        _amount(rng.choice(LABELS["total"]), _fmt_money(subtotal + tax, m)),
        _field(("Payment Method", f"{rng.choice(CARDS)} ending {rng.randint(1000, 9999)}")),
        _text(rng.choice(("Thank you for your business!", "Parts returns accepted within 30 days with receipt."))),
    ]
    fields = _empty_fields() | {
        "invoice_number": number.upper(), "customer_name": f"{person.first} {person.last}", "phone": person.e164,
        "email": person.email.lower(), "date": day.isoformat(), "total": _money_value(subtotal + tax),
        "vin": vin if has_vin else None,
    }  # fmt: skip
    return rows, fields


def _credit_application(rng: random.Random, index: int) -> tuple[list[Row], Fields]:
    """A credit application: applicant, DOB, masked SSN, address, employment, income; a licence on even indices."""
    st, person = _Styles.of(index), _person(rng)
    day = _doc_date(rng)
    dob_style = (st.date + 1) % 4
    employer, occupation = rng.choice(EMPLOYERS)
    has_license = index % 2 == 0
    licence = _license_number(rng, person.state)
    year, make, model, _ = _vehicle(rng)
    m = st.money
    rows = [
        _header(rng),
        _title(rng, "credit_application"),
        _field((rng.choice(DATE_LABELS["credit_application"]), _fmt_date(day, st.date)),
               ("Application Type", rng.choice(("Individual", "Joint")))),
        Row("section", (("", "PERSONAL INFORMATION"),)),
        _field((rng.choice(NAME_LABELS["credit_application"]), person.name(st.name))),
        _field((rng.choice(LABELS["dob"]), _fmt_date(person.dob, dob_style)),
               ("SSN", f"XXX-XX-{rng.randint(1000, 9999)}")),
        _field((rng.choice(LABELS["phone"]), person.phone(st.phone)), (rng.choice(LABELS["email"]), person.email)),
        _field(("Address", person.street)),
        _field(("City/State/ZIP", f"{person.city}, {person.state} {person.zip}")),
        _field(("Time at Address", f"{rng.randint(1, 15)} yrs {rng.randint(0, 11)} mos"),
               ("Housing", rng.choice(("Rent", "Own", "Mortgage")))),
        _field(("Monthly Payment", _fmt_money(_cents(rng, 900, 2800), m))),
    ]
    if has_license:
        rows.append(_field((rng.choice(LABELS["license_number"]), licence), ("Issuing State", person.state)))
    rows += [
        Row("section", (("", "EMPLOYMENT"),)),
        _field(("Employer", employer)),
        _field(("Occupation", occupation), ("Years Employed", str(rng.randint(1, 22)))),
        _field(("Gross Monthly Income", _fmt_money(rng.randint(28, 140) * 10_000, m))),
        Row("section", (("", "VEHICLE"),)),
        _field(("Vehicle of Interest", f"{year} {make} {model}")),
        _field(("Down Payment", _fmt_money(rng.randint(5, 80) * 10_000, m))),
        _text("I certify that the information in this application is true and complete, and I authorize the "
              "dealer and its lenders to obtain my credit report."),
    ]  # fmt: skip
    fields = _empty_fields() | {
        "customer_name": f"{person.first} {person.last}", "phone": person.e164, "email": person.email.lower(),
        "date": day.isoformat(), "date_of_birth": person.dob.isoformat(),
        "license_number": licence.upper() if has_license else None,
    }  # fmt: skip
    return rows, fields


def _buyers_order(rng: random.Random, index: int) -> tuple[list[Row], Fields]:
    """A buyer's order: buyer, vehicle, VIN, odometer, trade-in, price lines, total, down payment."""
    st, person = _Styles.of(index), _person(rng)
    year, make, model, vin = _vehicle(rng)
    new = year >= 2025 and rng.random() < 0.7
    miles = rng.randint(5, 60) if new else rng.randint(8_000, 95_000)
    day = _doc_date(rng)
    has_email = index % 2 == 1
    price = rng.randint(180, 560) * 10_000 + rng.choice((0, 99_500, 50_000))
    trade = rng.randint(20, 150) * 10_000
    doc_fee = rng.choice((8_500, 14_999, 19_900, 49_900))
    title_fee = _cents(rng, 90, 420)
    subtotal = price - trade + doc_fee + title_fee
    rate = rng.choice((600, 625, 700, 725, 825, 875, 950))
    tax = _tax(subtotal, rate)
    _, t_make, t_model, _ = _vehicle(rng)
    m = st.money
    rows = [
        _header(rng),
        _title(rng, "buyers_order"),
        _field((rng.choice(DATE_LABELS["buyers_order"]), _fmt_date(day, st.date)),
               ("Stock #", f"{make[0]}{rng.randint(1000, 9999)}")),
        _field((rng.choice(NAME_LABELS["buyers_order"]), person.name(st.name))),
        _field(("Address", person.address)),
        _field((rng.choice(LABELS["phone"]), person.phone(st.phone)), *(
            [(rng.choice(LABELS["email"]), person.email)] if has_email else [])),
        Row("section", (("", "VEHICLE"),)),
        _field(("Year", str(year)), ("Make", make)),
        _field(("Model", model), ("Color", rng.choice(COLORS))),
        _field((rng.choice(LABELS["vin"]), vin)),
        _field((rng.choice(LABELS["mileage"]), _fmt_miles(miles, st.miles)), ("Condition", "New" if new else "Used")),
        Row("section", (("", "TRADE-IN"),)),
        _field(("Trade-In Vehicle", f"{rng.randint(2008, 2020)} {t_make} {t_model}")),
        Row("section", (("", "PRICE"),)),
        _amount("Vehicle Price", _fmt_money(price, m)),
        _amount("Trade-In Allowance", _fmt_money(trade, m)),
        _amount("Doc Fee", _fmt_money(doc_fee, m)),
        _amount("Title and Registration", _fmt_money(title_fee, m)),
        _amount("Subtotal", _fmt_money(subtotal, m)),
        _amount(_tax_label(rng, rate), _fmt_money(tax, m)),
        _amount(rng.choice(LABELS["total"]), _fmt_money(subtotal + tax, m)),
        _amount("Down Payment", _fmt_money(rng.randint(10, 80) * 10_000, m)),
        _text("This order is not binding until accepted by an authorized representative of the dealer."),
    ]  # fmt: skip
    fields = _empty_fields() | {
        "vin": vin, "customer_name": f"{person.first} {person.last}", "phone": person.e164,
        "email": person.email.lower() if has_email else None, "date": day.isoformat(), "mileage": miles,
        "total": _money_value(subtotal + tax),
    }  # fmt: skip
    return rows, fields


def _drivers_license(rng: random.Random, index: int) -> tuple[list[Row], Fields]:
    """A driver licence card, AAMVA style: DL, EXP, LN/FN, address, DOB, physical description, ISS."""
    person = _person(rng)
    licence = _license_number(rng, person.state)
    issued = _doc_date(rng) - timedelta(days=rng.randint(0, 1400))
    expiry_year = issued.year + rng.choice((5, 6, 8))
    try:  # licences expire on the holder's birthday
        expires = date(expiry_year, person.dob.month, person.dob.day)
    except ValueError:  # born on February 29
        expires = date(expiry_year, 3, 1)
    title = rng.choice(("{state} DRIVER LICENSE", "{state} DRIVER'S LICENSE", "{state} USA DRIVER LICENSE"))

    def us(d: date) -> str:
        return _fmt_date(d, 0)

    feet, inches = rng.randint(4, 6), rng.randint(0, 11)
    rows = [
        Row("title", (("", title.format(state=STATE_NAMES[person.state].upper())),)),
        Row("card", ((rng.choice(("DL", "DLN")), licence),), " "),
        Row("card", (("EXP", us(expires)),), " "),
        Row("card", (("LN", person.last.upper()),), " "),
        Row("card", (("FN", person.first.upper()),), " "),
        Row("card", (("", person.street.upper()),), " "),
        Row("card", (("", f"{person.city.upper()}, {person.state} {person.zip}"),), " "),
        Row("card", (("DOB", us(person.dob)),), " "),
        Row("card", (("SEX", "F" if person.first in FEMALE_NAMES else "M"), ("HGT", f"{feet}-{inches:02d}"),
                     ("EYES", rng.choice(("BRN", "BLU", "GRN", "HAZ")))), " "),
        Row("card", (("WGT", f"{rng.randint(110, 240)} lb"), ("HAIR", rng.choice(("BLK", "BRO", "BLN", "GRY")))), " "),
        Row("card", (("ISS", us(issued)), ("CLASS", "C")), " "),
    ]  # fmt: skip
    fields = _empty_fields() | {
        "license_number": licence.upper(), "customer_name": f"{person.first} {person.last}",
        "date": issued.isoformat(), "date_of_birth": person.dob.isoformat(),
    }  # fmt: skip
    return rows, fields


BUILDERS: dict[str, Callable[[random.Random, int], tuple[list[Row], Fields]]] = {
    "repair_order": _repair_order,
    "invoice": _invoice,
    "drivers_license": _drivers_license,
    "credit_application": _credit_application,
    "buyers_order": _buyers_order,
}

# -------------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Piece:
    """A run of text drawn at x on its line's baseline; anchor ls = x is the left edge, rs = right, ms = centre."""

    text: str
    x: float
    font: ImageFont.FreeTypeFont
    anchor: str = "ls"
    fill: RGB | None = None

    def span(self) -> tuple[float, float]:
        width = self.font.getlength(self.text)
        start = {"ls": self.x, "rs": self.x - width, "ms": self.x - width / 2}[self.anchor]
        return start, start + width


@dataclass
class _Line:
    """One printed row after layout: its pieces left to right, and the form box around it (if any)."""

    pieces: list[_Piece]
    box: tuple[float, float] | None = None
    dividers: tuple[float, ...] = ()
    shade: bool = False
    before: float = 0.0  # extra space above the row, in body line heights
    rule_below: bool = False

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.pieces)

    @property
    def ascent(self) -> int:
        return max(p.font.getmetrics()[0] for p in self.pieces)

    @property
    def height(self) -> int:
        return self.ascent + max(p.font.getmetrics()[1] for p in self.pieces)


@dataclass(frozen=True)
class _Frame:
    """Where text may go on the page, and the page's look."""

    left: int
    right: int
    top: int
    bottom: int
    paper: RGB
    ink: RGB
    spacing: float  # preferred row pitch, in line heights
    aligned: bool  # single layout: values in a column after the labels
    centred_title: bool


def _frame(rng: random.Random, layout: str, size: tuple[int, int] = PAGE_SIZE) -> _Frame:
    """Random margins, paper tint, ink and spacing for one page."""
    base = rng.randint(245, 255)
    paper = (base, max(0, base - rng.randint(0, 3)), max(0, base - rng.randint(0, 9)))
    ink_level = rng.randint(10, 45)
    return _Frame(
        left=rng.randint(150, 185), right=size[0] - rng.randint(150, 185), top=rng.randint(120, 160),
        bottom=size[1] - rng.randint(120, 150), paper=paper, ink=(ink_level, ink_level, ink_level + 5),
        spacing=rng.uniform(1.75, 2.1), aligned=layout == "single" and rng.random() < 0.5,
        centred_title=rng.random() < 0.7,
    )  # fmt: skip


def _place(rows: Sequence[Row], stem: str, size: int, layout: str, fr: _Frame) -> list[_Line]:
    """Turn rows into positioned lines for one of the page layouts (single, two_column, form)."""
    form = layout == "form"
    pad = 18 if form else 0
    left, right = float(fr.left), float(fr.right)
    width = right - left
    mid = left + width / 2
    body, bold_stem = _font(stem, size), _bold(stem)
    bold = _font(bold_stem, size)
    gutter = pad if form else 30.0
    cell_room = width / 2 - pad - gutter

    amounts = [r.cells[0] for r in rows if r.kind == "amount"]
    amount_x = right - pad
    if amounts:
        label_w = max(body.getlength(label + ":") for label, _ in amounts)
        value_w = max(body.getlength(value) for _, value in amounts)
        amount_x = max(left + pad, right - pad - value_w - label_w - 60)
    item_amounts = [r.cells[1][1] for r in rows if r.kind == "item"]
    item_div = right - 2 * pad - max((body.getlength(a) for a in item_amounts), default=0) - 24
    tab = left
    aligned = fr.aligned
    labelled = [c for r in rows if r.kind == "field" for c in r.cells if c[0]]
    if aligned and labelled:
        tab = left + max(body.getlength(label + ":") for label, _ in labelled) + 28
        aligned = all(tab + body.getlength(value) <= right for _, value in labelled)
    box = (left, right) if form else None

    lines: list[_Line] = []
    for row in rows:
        texts = row.texts()
        if row.kind == "header":
            name, address = texts
            if bold.getlength(name) + body.getlength(address) + 60 <= width:
                lines.append(_Line([_Piece(name, left, bold), _Piece(address, right, body, "rs")], rule_below=True))
            else:
                lines.append(_Line([_Piece(name, left, _fit(name, bold_stem, size, width))]))
                lines.append(_Line([_Piece(address, left, _fit(address, stem, size, width))], rule_below=True))
        elif row.kind == "title":
            title_font = _fit(texts[0], bold_stem, round(size * 1.65), width)
            piece = _Piece(texts[0], mid, title_font, "ms") if fr.centred_title else _Piece(texts[0], left, title_font)
            lines.append(_Line([piece], before=0.3))
        elif row.kind == "section":
            lines.append(_Line([_Piece(texts[0], left + pad, _fit(texts[0], bold_stem, size, width - 2 * pad))],
                               box=box, shade=form, before=0.5))  # fmt: skip
        elif row.kind == "field" and len(texts) == 2 and layout != "single" and all(
            body.getlength(t) <= cell_room for t in texts
        ):
            pieces = [_Piece(texts[0], left + pad, body), _Piece(texts[1], mid + gutter, body)]
            lines.append(_Line(pieces, box=box, dividers=(mid,) if form else ()))
        elif row.kind == "field":
            for (label, value), text in zip(row.cells, texts, strict=True):
                if aligned and label:
                    lines.append(_Line([_Piece(f"{label}:", left, body), _Piece(value, tab, body)]))
                else:
                    lines.append(_Line([_Piece(text, left + pad, _fit(text, stem, size, width - 2 * pad))], box=box))
        elif row.kind == "item":
            desc, amount = texts
            room = (item_div - pad - left - pad) if form else width - body.getlength(amount) - 40
            pieces = [_Piece(desc, left + pad, _fit(desc, stem, size, room)), _Piece(amount, right - pad, body, "rs")]
            lines.append(_Line(pieces, box=box, dividers=(item_div,) if form else ()))
        elif row.kind == "amount":
            label, value = row.cells[0]
            pieces = [_Piece(f"{label}:", amount_x, body), _Piece(value, right - pad, body, "rs")]
            lines.append(_Line(pieces, box=(amount_x - pad, right) if form else None))
        elif row.kind == "text":
            for k, chunk in enumerate(_wrap(texts[0], body, width - 2 * pad)):
                before = 0.3 if k == 0 and not form else 0.0
                lines.append(_Line([_Piece(chunk, left + pad, body)], box=box, before=before))
        else:
            raise ValueError(f"row kind {row.kind!r} has no page layout")
    return lines


def _check_inside(lines: Sequence[_Line], left: float, right: float) -> None:
    """Fail loudly if any text would cross the margins (a bug in the layout, never in the caller's data)."""
    for line in lines:
        for piece in line.pieces:
            start, end = piece.span()
            if start < left - 1 or end > right + 1:
                raise RuntimeError(f"text outside the margins [{left}, {right}]: {piece.text!r} spans {start}..{end}")


def _draw(image: Image.Image, lines: Sequence[_Line], top: float, pitch: float, body_h: int, ink: RGB) -> None:
    """Draw positioned lines from `top` down, each in a slot of `pitch` line heights, with boxes and rules."""
    draw = ImageDraw.Draw(image)
    rule = (ink[0] + 40, ink[1] + 40, ink[2] + 40)
    y = float(top)
    for line in lines:
        y += line.before * body_h
        slot = line.height * pitch
        y0, y1 = round(y), round(y + slot)
        if line.box is not None:
            x0, x1 = round(line.box[0]), round(line.box[1])
            if line.shade:
                draw.rectangle((x0, y0, x1, y1), fill=(228, 228, 228))
            draw.rectangle((x0, y0, x1, y1), outline=rule, width=2)
            for x in line.dividers:
                draw.line((round(x), y0, round(x), y1), fill=rule, width=2)
        baseline = y + (slot - line.height) / 2 + line.ascent
        for piece in line.pieces:
            draw.text((piece.x, baseline), piece.text, font=piece.font, fill=piece.fill or ink, anchor=piece.anchor)
        if line.rule_below and line.pieces:
            start = min(p.span()[0] for p in line.pieces)
            draw.line((start, y1, max(p.span()[1] for p in line.pieces), y1), fill=rule, width=2)
        y += slot


def _render_page(
    rows: Sequence[Row], *, font: str, size: int, layout: str, rng: random.Random
) -> tuple[Image.Image, tuple[str, ...]]:
    """A Letter page at 200 dpi with the rows laid out, and the text of every printed line (the ground truth)."""
    if layout not in PAGE_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {PAGE_LAYOUTS}")
    fr = _frame(rng, layout)
    min_pitch = 1.8 if layout == "form" else 1.6  # leaves >= 0.6 line height between rows (boxes need a bit more)
    for attempt in range(size, 15, -2):
        lines = _place(rows, font, attempt, layout, fr)
        body_h = sum(_font(font, attempt).getmetrics())
        room = fr.bottom - fr.top - sum(line.before for line in lines) * body_h
        pitch = min(max(fr.spacing, min_pitch), room / sum(line.height for line in lines))
        if pitch >= min_pitch:
            break
    else:
        raise ValueError(f"{len(rows)} rows do not fit on a page")
    _check_inside(lines, fr.left, fr.right)
    image = Image.new("RGB", PAGE_SIZE, fr.paper)
    _draw(image, lines, fr.top, pitch, body_h, fr.ink)
    return image, tuple(line.text for line in lines)


def render(
    lines: Sequence[str | tuple[str, str]],
    *,
    font: str = "DejaVuSans",
    size: int = 32,
    layout: str = "single",
    seed: int = 0,
) -> Image.Image:
    """Print free text on a clean Letter page (e.g. an "other" document for a test).

    Each entry is one row: a string (wrapped if wider than the page) or a (left, right) pair with the right part
    right-aligned, like a line item.
    """
    rows = [_text(ln) if isinstance(ln, str) else Row("item", (("", ln[0]), ("", ln[1]))) for ln in lines]
    image, _ = _render_page(rows, font=font, size=size, layout=layout, rng=random.Random(seed))
    return image


CARD_PALETTES: tuple[tuple[RGB, RGB, RGB], ...] = (  # background, band, label colour
    ((232, 240, 250), (150, 185, 228), (150, 25, 30)),
    ((246, 236, 238), (226, 160, 172), (30, 50, 130)),
    ((236, 246, 236), (150, 205, 160), (150, 25, 30)),
    ((248, 243, 228), (226, 200, 130), (30, 50, 130)),
)


def _render_card(rows: Sequence[Row], *, font: str, rng: random.Random) -> tuple[Image.Image, tuple[str, ...]]:
    """A driver licence card (1012 x 638 px, 300 dpi): coloured title band, grey photo, "LABEL VALUE" rows."""
    width, height = CARD_SIZE
    background, band, label_colour = rng.choice(CARD_PALETTES)
    image = Image.new("RGB", CARD_SIZE, background)
    draw = ImageDraw.Draw(image)
    pattern = tuple(max(0, c - 10) for c in background)
    phase, period = rng.uniform(0, 6.28), rng.uniform(60, 110)
    for k in range(0, height, 26):  # faint guilloche waves, as on a real card
        points = [(x, k + 9 * np.sin(x / period + phase + k / 40)) for x in range(0, width + 8, 8)]
        draw.line([(float(x), float(y)) for x, y in points], fill=(pattern[0], pattern[1], pattern[2]), width=1)
    band_h = rng.randint(84, 100)
    draw.rectangle((0, 0, width, band_h), fill=band)
    draw.line((0, band_h, width, band_h), fill=tuple(max(0, c - 60) for c in band), width=3)
    ink: RGB = (20, 20, 28)
    title = rows[0].texts()[0]
    title_font = _fit(title, _bold(font), 44, width - 70)
    ascent, descent = title_font.getmetrics()
    title_line = _Line([_Piece(title, width / 2, title_font, "ms")])

    photo_x0, photo_w = rng.randint(32, 44), rng.randint(236, 262)
    photo_y0 = band_h + rng.randint(36, 50)
    photo = (photo_x0, photo_y0, photo_x0 + photo_w, photo_y0 + round(photo_w * 1.28))
    grey = rng.randint(150, 178)
    portrait = Image.new("RGB", (photo[2] - photo[0], photo[3] - photo[1]), (grey, grey, grey))
    sketch = ImageDraw.Draw(portrait)
    cx, figure = portrait.width / 2, (grey - 28, grey - 28, grey - 28)
    sketch.ellipse((cx - photo_w * 0.21, photo_w * 0.22, cx + photo_w * 0.21, photo_w * 0.72), fill=figure)
    shoulders = (cx - photo_w * 0.42, photo_w * 0.8, cx + photo_w * 0.42, portrait.height + photo_w * 0.5)
    sketch.ellipse(shoulders, fill=figure)
    image.paste(portrait, photo[:2])
    draw.rectangle(photo, outline=(grey - 50, grey - 50, grey - 50), width=2)

    x0, top, bottom = photo[2] + 36, band_h + 24, height - 20
    body_rows = rows[1:]
    for size in range(30, 14, -1):
        body = _font(font, size)
        gap = body.getlength(" ")
        lines: list[_Line] = []
        for row in body_rows:
            pieces: list[_Piece] = []
            x = float(x0)
            for label, value in row.cells:
                if label:
                    pieces.append(_Piece(label, x, body, fill=label_colour))
                    x += body.getlength(label) + gap * 1.4
                pieces.append(_Piece(value, x, body))
                x += body.getlength(value) + gap * 3
            lines.append(_Line(pieces))
        line_h = max(line.height for line in lines)
        widest = max(line.pieces[-1].span()[1] for line in lines)
        if widest <= width - 28 and len(lines) * line_h * 1.6 <= bottom - top:
            break
    pitch = min(2.0, (bottom - top) / (len(lines) * line_h))
    _check_inside(lines, x0, width - 28)
    _draw(image, [title_line], (band_h - ascent - descent) / 2, 1.0, line_h, ink)
    _draw(image, lines, top, pitch, line_h, ink)
    return image, (title, *(line.text for line in lines))


# ------------------------------------------------------------------------------------------- degradations


def _degrade(
    image: Image.Image, names: Sequence[str], rng: random.Random, nrng: np.random.Generator
) -> tuple[Image.Image, float]:
    """Make a clean page look like a poor scan; `names` are applied in DEGRADATIONS order. Also returns the scale."""
    scale = 1.0
    for name in DEGRADATIONS:
        if name not in names:
            continue
        if name == "skew":
            angle = rng.uniform(1.5, 4.0) * rng.choice((-1, 1))
            image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
        elif name == "blur":
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 1.4)))
        elif name == "lowres":
            scale = rng.uniform(0.5, 0.6)
            size = (round(image.width * scale), round(image.height * scale))
            image = image.resize(size, Image.Resampling.LANCZOS)
        elif name == "noise":
            pixels = np.asarray(image, dtype=np.int16)
            grain = nrng.normal(0.0, rng.uniform(8.0, 14.0), pixels.shape[:2]).astype(np.int16)
            image = Image.fromarray(np.clip(pixels + grain[:, :, None], 0, 255).astype(np.uint8), "RGB")
            draw = ImageDraw.Draw(image)
            specks = rng.randint(40, 110) * image.width * image.height // (PAGE_SIZE[0] * PAGE_SIZE[1])
            for _ in range(max(8, specks)):  # dust and toner specks, fewer on a smaller image
                x, y, r = rng.uniform(0, image.width), rng.uniform(0, image.height), rng.uniform(0.8, 2.6)
                shade = rng.randint(0, 90) if rng.random() < 0.85 else 255
                draw.ellipse((x - r, y - r, x + r, y + r), fill=(shade, shade, shade))
        elif name == "jpeg":
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=rng.randint(25, 35))
            image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return image, scale


# ------------------------------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class SyntheticDocument:
    """One synthetic scanned document and its ground truth."""

    doc_id: str  # "<document_type>-<index within the type, 2 digits, from 00>"
    document_type: str  # one of DOCUMENT_TYPES
    lines: tuple[str, ...]  # every printed row, top to bottom; side-by-side parts joined by one space
    fields: Fields  # all FIELD_NAMES, normalised as SPEC.md says (None where the type does not carry the field)
    font: str  # body font stem
    degradations: tuple[str, ...]  # () for a clean page
    image: Image.Image = field(repr=False)  # the final page (RGB), after degradation
    # Extras beyond the shared interface (defaulted, so code that builds documents by hand need not pass them):
    dpi: int = field(default=PAGE_DPI, compare=False)  # nominal resolution of `image` (lower after "lowres")
    layout: str = field(default="", compare=False)  # single | two_column | form | card

    @property
    def degraded(self) -> bool:
        return bool(self.degradations)

    def encode(self, fmt: str) -> bytes:
        """The page as a file: png, jpeg (jpg), tiff (single page) or pdf (Pillow's image-only PDF, no text)."""
        return _encode([self], fmt)


def _encode(docs: Sequence[SyntheticDocument], fmt: str) -> bytes:
    """Save one page (any format) or several (TIFF, PDF) into bytes."""
    kind = fmt.lower().lstrip(".")
    if not docs:
        raise ValueError("no documents to encode")
    if len(docs) > 1 and kind not in ("tiff", "tif", "pdf"):
        raise ValueError(f"{fmt} holds a single page")
    # Copies: Pillow keeps a stale `encoderconfig` on an image saved before (e.g. as JPEG) and then fails to save
    # it as an appended TIFF frame.
    first, rest = docs[0], [d.image.copy() for d in docs[1:]]
    buffer = io.BytesIO()
    dpi = (first.dpi, first.dpi)
    if kind == "png":
        first.image.save(buffer, "PNG", dpi=dpi)
    elif kind in ("jpeg", "jpg"):
        first.image.save(buffer, "JPEG", quality=90, dpi=dpi)
    elif kind in ("tiff", "tif"):
        first.image.save(buffer, "TIFF", compression="tiff_deflate", dpi=dpi, save_all=bool(rest), append_images=rest)
    elif kind == "pdf":
        # No creation/modification dates (Pillow defaults to now), so the same pages give the same bytes.
        first.image.save(buffer, "PDF", resolution=float(first.dpi), save_all=bool(rest), append_images=rest,
                         creationDate=None, modDate=None)  # fmt: skip
    else:
        raise ValueError(f"unsupported format {fmt!r}: expected png, jpeg, tiff or pdf")
    return buffer.getvalue()


def multipage_tiff(docs: Sequence[SyntheticDocument]) -> bytes:
    """One multi-page TIFF holding the documents' pages in order."""
    return _encode(docs, "tiff")


def multipage_pdf(docs: Sequence[SyntheticDocument]) -> bytes:
    """One image-only multi-page PDF holding the documents' pages in order (page size from the first's dpi)."""
    return _encode(docs, "pdf")


def _seed(*parts: object) -> int:
    """A stable 63-bit seed from its parts (str seeding of random.Random does not depend on PYTHONHASHSEED)."""
    return random.Random(":".join(map(str, parts))).getrandbits(63)


def document(document_type: str, index: int, seed: int = 7) -> SyntheticDocument:
    """The index-th document of a type; the same (type, index, seed) always gives the same document."""
    t = DOCUMENT_TYPES.index(document_type)
    content = random.Random(_seed(seed, document_type, index, "content"))
    looks = random.Random(_seed(seed, document_type, index, "render"))
    rows, fields = BUILDERS[document_type](content, index)
    font = FONTS[(index + 3 * t) % len(FONTS)]
    if document_type == "drivers_license":
        image, lines = _render_card(rows, font=font, rng=looks)
        dpi, layout = CARD_DPI, "card"
    else:
        layout = PAGE_LAYOUTS[(index // 3 + index + t) % len(PAGE_LAYOUTS)]
        image, lines = _render_page(rows, font=font, size=looks.randint(30, 36), layout=layout, rng=looks)
        dpi = PAGE_DPI
    degradations: tuple[str, ...] = ()
    if index % 3 == 2:
        combos = list(itertools.combinations(DEGRADATIONS, 2))
        random.Random(_seed(seed, "degradations")).shuffle(combos)
        degradations = combos[(t + len(DOCUMENT_TYPES) * (index // 3)) % len(combos)]
        rng = random.Random(_seed(seed, document_type, index, "degrade"))
        nrng = np.random.default_rng(_seed(seed, document_type, index, "np"))
        image, scale = _degrade(image, degradations, rng, nrng)
        dpi = round(dpi * scale)
    return SyntheticDocument(
        doc_id=f"{document_type}-{index:02d}", document_type=document_type, lines=lines, fields=fields, font=font,
        degradations=degradations, image=image.convert("RGB"), dpi=dpi, layout=layout,
    )  # fmt: skip


def corpus(per_type: int = 7, seed: int = 7) -> list[SyntheticDocument]:
    """per_type documents of each of the five types (35 by default), every third one (index % 3 == 2) degraded.

    Document i of a type does not depend on per_type, so a smaller corpus is a prefix of a larger one per type.
    """
    return [document(t, i, seed) for t in DOCUMENT_TYPES for i in range(per_type)]


# ---------------------------------------------------------------------------------------------- car photo


def car_photo(width: int = 1600, height: int = 1200, seed: int = 1) -> bytes:
    """A JPEG picture of a car (not a document): sky gradient, road, a car body with windows and wheels, noise.

    It has no text at all, so an OCR stage should find nothing and the classifier should say "other".
    """
    rng, nrng = random.Random(_seed("car", seed)), np.random.default_rng(_seed("car-np", seed))
    horizon = round(height * rng.uniform(0.42, 0.52))
    rows = np.arange(height, dtype=np.float32)[:, None]
    sky_t = np.clip(rows / horizon, 0, 1)
    ground_t = np.clip((rows - horizon) / max(1, height - horizon), 0, 1)
    sky = np.array([80, 135, 210], np.float32) * (1 - sky_t) + np.array([205, 222, 240], np.float32) * sky_t
    grass = np.array([92, 130, 70], np.float32) * (1 - ground_t) + np.array([58, 98, 45], np.float32) * ground_t
    column = np.where(rows < horizon, sky, grass)  # (height, 3)
    pixels = np.repeat(column[:, None, :], width, axis=1)
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    hill = [(0.0, float(horizon))] + [
        (float(x), horizon - 25 - 30 * np.sin(x / width * 5 + rng.uniform(0, 1))) for x in range(0, width + 40, 40)
    ] + [(float(width), float(horizon))]  # fmt: skip
    draw.polygon(hill, fill=(110, 140, 120))
    vanish = width * rng.uniform(0.45, 0.55)
    draw.polygon([(vanish - 20, horizon), (vanish + 20, horizon), (width * 1.15, height), (-width * 0.15, height)],
                 fill=(88, 88, 94))  # fmt: skip
    for k in range(8):  # lane dashes
        t0, t1 = (k + 0.2) / 8, (k + 0.55) / 8
        y0, y1 = horizon + (height - horizon) * t0**2, horizon + (height - horizon) * t1**2
        w0, w1 = 2 + 10 * t0**2, 2 + 10 * t1**2
        draw.polygon([(vanish - w0, y0), (vanish + w0, y0), (vanish + w1, y1), (vanish - w1, y1)], fill=(225, 215, 150))

    colour = rng.choice(((170, 30, 35), (30, 60, 140), (190, 190, 195), (25, 25, 30), (240, 240, 240)))
    car_w = width * rng.uniform(0.5, 0.6)
    x0 = width / 2 - car_w / 2 + width * rng.uniform(-0.05, 0.05)
    x1, base = x0 + car_w, height * rng.uniform(0.8, 0.86)
    body_h, cabin_h, r = car_w * 0.2, car_w * 0.15, car_w * 0.085
    draw.ellipse((x0 - car_w * 0.03, base - r * 0.35, x1 + car_w * 0.03, base + r * 0.45), fill=(45, 45, 50))
    draw.rounded_rectangle((x0, base - body_h - r * 0.3, x1, base - r * 0.3), radius=round(body_h * 0.3), fill=colour)
    roof = base - body_h - r * 0.3
    cabin = [(x0 + car_w * 0.2, roof + 2), (x0 + car_w * 0.32, roof - cabin_h), (x0 + car_w * 0.66, roof - cabin_h),
             (x0 + car_w * 0.8, roof + 2)]  # fmt: skip
    draw.polygon(cabin, fill=colour)
    glass = (150, 180, 205)
    inset = car_w * 0.02
    draw.polygon([(x0 + car_w * 0.23, roof), (x0 + car_w * 0.335, roof - cabin_h + inset),
                  (x0 + car_w * 0.48, roof - cabin_h + inset), (x0 + car_w * 0.48, roof)], fill=glass)  # fmt: skip
    draw.polygon([(x0 + car_w * 0.5, roof), (x0 + car_w * 0.5, roof - cabin_h + inset),
                  (x0 + car_w * 0.65, roof - cabin_h + inset), (x0 + car_w * 0.76, roof)], fill=glass)  # fmt: skip
    shade: RGB = (max(0, colour[0] - 40), max(0, colour[1] - 40), max(0, colour[2] - 40))
    draw.line((x0 + car_w * 0.49, roof, x0 + car_w * 0.49, base - r * 0.5), fill=shade, width=3)
    draw.line((x0 + car_w * 0.03, roof + body_h * 0.45, x1 - car_w * 0.03, roof + body_h * 0.45), fill=shade, width=2)
    lamp = (x1 - car_w * 0.045, roof + body_h * 0.15, x1 - car_w * 0.005, roof + body_h * 0.35)
    draw.ellipse(lamp, fill=(250, 245, 210))
    draw.rectangle((x0 + 2, roof + body_h * 0.15, x0 + car_w * 0.025, roof + body_h * 0.35), fill=(200, 30, 30))
    for cx in (x0 + car_w * 0.2, x0 + car_w * 0.8):
        draw.ellipse((cx - r, base - r, cx + r, base + r), fill=(22, 22, 24))
        draw.ellipse((cx - r * 0.55, base - r * 0.55, cx + r * 0.55, base + r * 0.55), fill=(165, 165, 172))
        draw.ellipse((cx - r * 0.15, base - r * 0.15, cx + r * 0.15, base + r * 0.15), fill=(90, 90, 95))

    noisy = np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    noisy += nrng.normal(0.0, 5.0, noisy.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB").save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


# -------------------------------------------------------------------------------------------------- main


def _write(out: Path) -> None:
    """Write every page as PNG plus truth.json (and a car photo) so a human can look at the corpus."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    docs = corpus()
    elapsed = time.perf_counter() - started
    truth = []
    for doc in docs:
        (out / f"{doc.doc_id}.png").write_bytes(doc.encode("png"))
        truth.append({
            "doc_id": doc.doc_id, "document_type": doc.document_type, "font": doc.font,
            "degradations": list(doc.degradations), "size": list(doc.image.size), "dpi": doc.dpi,
            "lines": list(doc.lines), "fields": doc.fields,
        })  # fmt: skip
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    (out / "car.jpg").write_bytes(car_photo())
    print(f"{len(docs)} documents generated in {elapsed:.1f} s, written to {out}")


if __name__ == "__main__":
    _write(Path(sys.argv[1] if len(sys.argv) > 1 else "documents-corpus"))
