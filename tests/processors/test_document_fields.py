"""Document understanding: the type of a scanned dealership document and the checked fields a workflow reads.

Pages are OCR-like lines: spaces lost or added around ':' and '#', two label/value pairs to a row, O/0
confusions in codes, and distractors (Subtotal, Tax, EXP, Promised, an employer's phone) on the same page.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from processors.ocr.fields import (
    OcrLine,
    classify,
    extract_fields,
    normalise_amount,
    normalise_date,
    normalise_phone,
    repair_vin,
    understand,
)
from schemas.models import DocumentFields, DocumentType

VIN = "1HGCM82633A004352"  # valid check digit (3)
VIN_X = "1M8GDM9AXKP042788"  # valid check digit (X)
VIN_TOYOTA = "4T1B11HK4MU123456"  # valid check digit (4)


def page(*rows: str, confidence: float = 0.95) -> list[OcrLine]:
    return [OcrLine(row, confidence) for row in rows]


REPAIR_ORDER = page(
    "Sunset Motors  1200 Ocean Ave, Santa Monica, CA 90401  Phone: (310) 555-0100",
    "SERVICE REPAIR ORDER",
    "RO #:458213 Date: 03/14/2026",
    "Customer: GONZALEZ, MARIA Phone: 415.555.0134",
    "Email: Maria.Gonzalez@Example.com",
    "VIN: 1HGCM82633AOO4352 Mileage In: 45,210 mi",  # O for 0 twice: repaired, the check digit validates
    "Promised: 03/15/2026 Advisor: Tom Reed",
    "Technician: Mike Lee",
    "Replace front brake pads   $189.00",
    "Labor: $420.00 Parts: $680.00",
    "Subtotal: $1,100.00 Sales Tax: $93.46",
    "Grand Total: $1,193.46",
)
INVOICE = page(
    "PARTS INVOICE",
    "Invoice No.INV-20931   Invoice Date: March 14, 2026",
    "RO #: 458213",  # the repair order it bills: the title still decides
    "Customer: Mr. John Smith",
    "Tel: +1 415 555 0134  E-mail : JOHN.SMITH@Example.org",
    f"VIN # {VIN_X}",
    "Qty 2  Oil filter  $24.00   Labor 1.0 hr  $120.00",
    "Subtotal: 1,100.00",
    "Tax: 93.46",
    "Total Due: USD 1,193.46",
)
DRIVERS_LICENSE = page(
    "CALIFORNIA DRIVER LICENSE",
    "DL D4821937 CLASS C",
    "EXP 03/14/2030",
    "LN SMITH",
    "FN JOHN",
    "123 MAPLE LN SACRAMENTO CA 95814",
    "DOB 05/12/1985 SEX M",
    "ISS 03/14/2022 HGT 5-10 EYES BRN",
)
CREDIT_APPLICATION = page(
    "Sunset Motors Finance",
    "APPLICATION FOR CREDIT",
    "Application Date: 2026-03-14",
    "Applicant Name: Maria Gonzalez",
    "Date of Birth: 14-Mar-1990 SSN: XXX-XX-1234",
    "Employer: Acme Corp Employer Phone: (415) 555-9999",
    "Home Phone: (415) 555-0134",
    "Email: maria@gmail.com",
    "Monthly Income: $5,000.00",
    "Driver License #: s530-4127-8865",
)
BUYERS_ORDER = page(
    "BUYER'S ORDER",
    "Sale Date: 03/14/2026",
    "Buyer: Maria Gonzalez Cell: 415-555-0134",
    "Year: 2021 Make: Toyota Model: Camry",
    f"VIN #: {VIN_TOYOTA}",
    "Odometer: 45210",
    "Cash Price: $25,000.00",
    "Trade-in: $5,000.00 Down Payment: $2,000.00",
    "Total Price: $27,350.00",
    "Monthly Payment: $450.00",
)
CAR_PHOTO = page("TOYOTA", "7ABC123", "CAMRY", "HYBRID")

PAGES = {
    DocumentType.REPAIR_ORDER: REPAIR_ORDER,
    DocumentType.INVOICE: INVOICE,
    DocumentType.DRIVERS_LICENSE: DRIVERS_LICENSE,
    DocumentType.CREDIT_APPLICATION: CREDIT_APPLICATION,
    DocumentType.BUYERS_ORDER: BUYERS_ORDER,
}
EXPECTED: dict[DocumentType, dict[str, Any]] = {
    DocumentType.REPAIR_ORDER: {
        "ro_number": "458213", "date": "2026-03-14", "customer_name": "Maria Gonzalez", "phone": "+14155550134",
        "email": "maria.gonzalez@example.com", "vin": VIN, "mileage": 45210, "total": "1193.46"},
    DocumentType.INVOICE: {
        "invoice_number": "INV-20931", "date": "2026-03-14", "customer_name": "John Smith", "phone": "+14155550134",
        "email": "john.smith@example.org", "vin": VIN_X, "total": "1193.46"},
    DocumentType.DRIVERS_LICENSE: {
        "license_number": "D4821937", "customer_name": "John Smith", "date": "2022-03-14",
        "date_of_birth": "1985-05-12"},
    DocumentType.CREDIT_APPLICATION: {
        "date": "2026-03-14", "customer_name": "Maria Gonzalez", "date_of_birth": "1990-03-14",
        "phone": "+14155550134", "email": "maria@gmail.com", "license_number": "S530-4127-8865"},
    DocumentType.BUYERS_ORDER: {
        "date": "2026-03-14", "customer_name": "Maria Gonzalez", "phone": "+14155550134", "vin": VIN_TOYOTA,
        "mileage": 45210, "total": "27350.00"},
}


# --- classification ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(PAGES))
def test_each_document_type_is_recognised_with_confidence(kind: DocumentType) -> None:
    found, confidence = classify(PAGES[kind])
    assert found == kind
    assert confidence >= 0.75


@pytest.mark.parametrize(("rows", "kind"), [
    # an invoice that quotes its RO and bills labour, and an RO that prints its invoice number: the title decides
    (("SERVICE INVOICE", "Invoice #: 100482", "RO #: 458213", "Labor: $120.00", "Technician: Mike Lee",
      "Total: $120.00"), DocumentType.INVOICE),
    (("REPAIR ORDER", "RO No. 458213", "Invoice #: 100482", "Amount Due: $120.00"), DocumentType.REPAIR_ORDER),
    # titles in any case, after a dealership header, with OCR's 0 for O
    (("Sunset Motors  1200 Ocean Ave", "Repair 0rder", "Customer: Ann Lee"), DocumentType.REPAIR_ORDER),
    (("vehicle purchase agreement", "Purchaser: Ann Lee"), DocumentType.BUYERS_ORDER),
    (("DRIVER'S LICENSE",), DocumentType.DRIVERS_LICENSE),
    # no title at all: the labels still tell
    (("DL D4821937 CLASS C", "EXP 03/14/2030", "LN SMITH", "FN JOHN", "DOB 05/12/1985 SEX M"),
     DocumentType.DRIVERS_LICENSE),
    (("Applicant: Ann Lee", "SSN: XXX-XX-1234", "Employer: Acme", "Gross Income: $5,000"),
     DocumentType.CREDIT_APPLICATION),
])
def test_the_title_decides_and_labels_support(rows: tuple[str, ...], kind: DocumentType) -> None:
    assert classify(page(*rows))[0] == kind


@pytest.mark.parametrize("rows", [
    ("TOYOTA", "7ABC123", "CAMRY", "HYBRID"),  # a photo of a car: a plate and badges
    ("Thank you!",),
    (),
])
def test_a_page_that_names_no_document_is_other_with_low_confidence(rows: tuple[str, ...]) -> None:
    kind, confidence = classify(page(*rows))
    assert kind == DocumentType.OTHER
    assert confidence < 0.5


def test_the_hint_is_used_only_when_the_page_is_unsure() -> None:
    unsure = understand(CAR_PHOTO, hint=DocumentType.INVOICE)
    assert unsure.document_type == DocumentType.INVOICE
    assert unsure.type_confidence == 0.5
    assert understand(CAR_PHOTO).document_type == DocumentType.OTHER
    sure = understand(REPAIR_ORDER, hint=DocumentType.INVOICE)
    assert sure.document_type == DocumentType.REPAIR_ORDER
    assert sure.fields.ro_number == "458213"


# --- fields --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(PAGES))
def test_each_document_gives_exactly_its_fields(kind: DocumentType) -> None:
    meaning = understand(PAGES[kind])
    assert meaning.document_type == kind
    assert meaning.fields == DocumentFields(**EXPECTED[kind])
    assert set(meaning.field_confidence) == set(EXPECTED[kind])
    assert all(0 < c <= 0.95 for c in meaning.field_confidence.values())


@pytest.mark.parametrize(("rows", "expected"), [
    (("REPAIR ORDER", "RO #:458213"), {"ro_number": "458213"}),
    (("REPAIR ORDER", "RO#458213   Date:03/14/2026"), {"ro_number": "458213", "date": "2026-03-14"}),
    (("REPAIR ORDER", "Repair Order # RO-458213"), {"ro_number": "RO-458213"}),
    (("REPAIR ORDER", "RO No.: ro-4582I3"), {"ro_number": "RO-458213"}),  # I for 1 in a number
    (("REPAIR ORDER", "RO Number: RO-45821\u0417"), {"ro_number": "RO-458213"}),  # a Cyrillic Ze for 3
    (("REPAIR ORDER", "RO Date :  2026-03-14 Mileage:45210"), {"date": "2026-03-14", "mileage": 45210}),
    (("REPAIR ORDER", "Customer:MARIA GONZALEZ Phone:4155550134"),
     {"customer_name": "Maria Gonzalez", "phone": "+14155550134"}),
    (("REPAIR ORDER", f"VIN:{VIN} Odometer :45,210 miles"), {"vin": VIN, "mileage": 45210}),
    (("INVOICE", "INV #:100482 Date: 14-Mar-2026"), {"invoice_number": "100482", "date": "2026-03-14"}),
    (("INVOICE", "Invoice Number: 1OO482"), {"invoice_number": "100482"}),
    (("INVOICE", "Customer: Dr. Sean O'BRIEN"), {"customer_name": "Sean O'Brien"}),
    (("INVOICE", "Name: Angus McDonald"), {"customer_name": "Angus McDonald"}),
    (("INVOICE", "Customer:", "Maria Gonzalez"), {"customer_name": "Maria Gonzalez"}),  # value on the next row
    (("BUYERS ORDER", "Purchaser: Lopez-Diaz, Ana"), {"customer_name": "Ana Lopez-Diaz"}),
    (("CREDIT APPLICATION", "DOB: March 3, 1985 Mobile: +1 (415) 555-0134"),
     {"date_of_birth": "1985-03-03", "phone": "+14155550134"}),
    # letters read for digits in dates, amounts, mileage and licence numbers
    (("CREDIT APPLICATION", "Date of Birth :1960-OI-2S", "DLN: 5877298B5"),
     {"date_of_birth": "1960-01-25", "license_number": "587729885"}),
    (("REPAIR ORDER", "Mileage In: I31,142 Total: $1,l93.46"), {"mileage": 131142, "total": "1193.46"}),
    (("DRIVER LICENSE", "DL C1I21829", "ISS 03/14/2022"), {"license_number": "C1121829", "date": "2022-03-14"}),
    (("DRIVER LICENSE", "DLN WDLY0SR8FZR3"), {"license_number": "WDLY0SR8FZR3"}),  # letters belong: as printed
])
def test_labels_are_read_through_ocr_noise_and_two_pair_rows(rows: tuple[str, ...], expected: dict[str, Any]) -> None:
    fields, _ = extract_fields(page(*rows), classify(page(*rows))[0])
    assert fields.model_dump(exclude_none=True) == expected


@pytest.mark.parametrize("rows", [
    ("Subtotal: $1,100.00", "Sales Tax: $93.46", "Total: $1,193.46"),
    ("Total: $1,193.46", "Subtotal: $1,100.00", "Tax: $93.46"),
    ("Sub Total: $1,100.00 Tax: $93.46 Grand Total: $1,193.46",),
    ("Total Labor: $420.00 Total Parts: $680.00", "Total: $1,100.00", "Grand Total: $1,193.46"),
    ("Labor: $420.00", "Parts: $680.00", "Doc Fee: $85.00", "Balance Due: $1,193.46"),
    ("Total: $1,100.00", "Amount Due: $1,193.46"),
    ("TOTAL AMOUNT DUE $1,193.46",),
])
def test_the_total_is_the_grand_total_never_a_subtotal_tax_or_line(rows: tuple[str, ...]) -> None:
    fields, _ = extract_fields(page("SERVICE INVOICE", "Invoice #: 100482", *rows), DocumentType.INVOICE)
    assert fields.total == "1193.46"


@pytest.mark.parametrize(("kind", "rows", "expected"), [
    (DocumentType.DRIVERS_LICENSE, ("DRIVER LICENSE", "EXP 03/14/2030", "ISS 03/14/2022"), "2022-03-14"),
    (DocumentType.DRIVERS_LICENSE, ("DRIVER LICENSE", "EXP: 03/14/2030 DOB: 05/12/1985"), None),
    (DocumentType.DRIVERS_LICENSE, ("DRIVER LICENSE", "Expires: 2030-03-14", "Issued: 2022-03-14"), "2022-03-14"),
    (DocumentType.REPAIR_ORDER, ("REPAIR ORDER", "Promised: 03/15/2026 Date: 03/14/2026"), "2026-03-14"),
    (DocumentType.REPAIR_ORDER, ("REPAIR ORDER", "Date Promised: 03/15/2026", "Date Opened: 03/14/2026"),
     "2026-03-14"),
    (DocumentType.INVOICE, ("INVOICE", "Due Date: 04/14/2026", "Invoice Date: 03/14/2026"), "2026-03-14"),
])
def test_the_date_is_the_documents_own_never_expiry_promise_or_birth(
        kind: DocumentType, rows: tuple[str, ...], expected: str | None) -> None:
    assert extract_fields(page(*rows), kind)[0].date == expected


def test_a_licence_expiry_never_becomes_a_field() -> None:
    fields = understand(DRIVERS_LICENSE).fields
    assert "2030-03-14" not in fields.model_dump().values()


def test_a_vin_is_kept_only_when_it_validates() -> None:
    repaired = understand(page("REPAIR ORDER", "VIN: 1HGCM82633AOO4352"))
    assert repaired.fields.vin == VIN
    assert repaired.field_confidence["vin"] < understand(page("REPAIR ORDER", f"VIN: {VIN}")).field_confidence["vin"]
    assert understand(page("REPAIR ORDER", "VIN: 1HGCM82635A004352")).fields.vin is None  # wrong check digit
    assert understand(page("REPAIR ORDER", "VIN: 1HGCM82633AOO4353")).fields.vin is None  # repair does not validate


def test_a_vin_without_its_label_is_found_when_it_validates_with_less_confidence() -> None:
    meaning = understand(page("BUYERS ORDER", f"2021 Toyota Camry {VIN_TOYOTA}", "Buyer: Ann Lee"))
    assert meaning.fields.vin == VIN_TOYOTA
    assert meaning.field_confidence["vin"] == pytest.approx(0.95 * 0.8)
    assert understand(page("BUYERS ORDER", "Stock 1HGCM82635A004352")).fields.vin is None


def test_the_customer_contact_wins_over_the_dealer_header_and_the_employer() -> None:
    assert understand(REPAIR_ORDER).fields.phone == "+14155550134"  # the header prints the dealer's phone first
    assert understand(CREDIT_APPLICATION).fields.phone == "+14155550134"  # "Employer Phone" precedes it


def test_only_the_fields_of_the_document_type_are_reported() -> None:
    rows = page("CALIFORNIA DRIVER LICENSE", "DL D4821937", "Total: $12.00", "Phone: 415-555-0134",
                "Mileage: 45210", "ISS 03/14/2022")
    fields = understand(rows).fields
    assert fields.model_dump(exclude_none=True) == {"license_number": "D4821937", "date": "2022-03-14"}
    other = extract_fields(rows, DocumentType.OTHER)[0]  # an unknown document reports everything it finds
    assert (other.total, other.phone, other.mileage) == ("12.00", "+14155550134", 45210)


@pytest.mark.parametrize(("kind", "pii"), [
    (DocumentType.DRIVERS_LICENSE, ("license_number", "date_of_birth")),
    (DocumentType.CREDIT_APPLICATION, ("license_number", "date_of_birth")),
    (DocumentType.REPAIR_ORDER, ()),
    (DocumentType.BUYERS_ORDER, ()),
])
def test_pii_fields_name_the_found_licence_number_and_birth_date(kind: DocumentType, pii: tuple[str, ...]) -> None:
    assert understand(PAGES[kind]).pii_fields == pii


def test_confidence_is_the_ocr_confidence_times_the_validation_factor() -> None:
    meaning = understand(page("INVOICE", "Invoice #: 100482", "Tel: 415-555-O134", confidence=0.8))
    assert meaning.field_confidence == {"invoice_number": pytest.approx(0.8),
                                        "phone": pytest.approx(0.8 * 0.9)}  # O read for 0: repaired
    assert meaning.fields.phone == "+14155550134"


# --- normalisers ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("candidate", "expected"), [
    (VIN, VIN),
    (VIN.lower(), VIN),
    (VIN_X, VIN_X),
    ("1HGCM82633AOO4352", VIN),  # O for 0
    ("1HGCM82633A0Q4352", VIN),  # Q for 0
    ("1M8GDM9AXKP042788".replace("1", "I", 1), VIN_X),  # I for 1
    ("1HGCM82635A004352", None),  # the check digit is wrong
    ("1HGCM82633AOO4353", None),  # repairing O does not make the check digit valid
    ("1HGCM82633A00435", None),  # 16 characters
    ("1HGCM82633A00435!", None),
])
def test_repair_vin(candidate: str, expected: str | None) -> None:
    assert repair_vin(candidate) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("(415) 555-0134", "+14155550134"),
    ("415-555-0134", "+14155550134"),
    ("415.555.0134", "+14155550134"),
    ("+1 415 555 0134", "+14155550134"),
    ("+14155550134", "+14155550134"),
    ("1-415-555-0134 ext. 12", "+14155550134"),
    ("4155550134", "+14155550134"),
    ("+44 20 7946 0958", None),  # not a US number
    ("555-0134", None),
    ("(115) 555-0134", None),  # no area code starts with 1
    ("n/a", None),
])
def test_normalise_phone(text: str, expected: str | None) -> None:
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("03/14/2026", "2026-03-14"),
    ("3/4/2026", "2026-03-04"),  # US month first
    ("2026-03-14", "2026-03-14"),
    ("March 14, 2026", "2026-03-14"),
    ("March 14,2026", "2026-03-14"),
    ("Mar. 14, 2026", "2026-03-14"),
    ("14-Mar-2026", "2026-03-14"),
    ("03/14/26", "2026-03-14"),
    ("14 March 2026", "2026-03-14"),
    ("Sept 14, 2026", "2026-09-14"),  # no strptime format: dateparser reads it
    ("03/14/2026 10:32 AM", "2026-03-14"),
    ("13/14/2026", None),
    ("1972-08-2S", None),  # a garbled numeric date is no date (dateparser would answer today)
    ("hello", None),
    ("12", None),
    ("", None),
])
def test_normalise_date(text: str, expected: str | None) -> None:
    assert normalise_date(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("$1,193.46", "1193.46"),
    ("1193.46", "1193.46"),
    ("USD 1,193.46", "1193.46"),
    ("$ 1,193", "1193.00"),
    ("$27,350.00", "27350.00"),
    ("none", None),
])
def test_normalise_amount(text: str, expected: str | None) -> None:
    assert normalise_amount(text) == expected


def test_understanding_a_30_line_page_is_fast() -> None:
    lines = (REPAIR_ORDER + INVOICE + CREDIT_APPLICATION)[:30]
    understand(lines)
    started = time.perf_counter()
    runs = 50
    for _ in range(runs):
        understand(lines)
    assert (time.perf_counter() - started) / runs < 0.02
