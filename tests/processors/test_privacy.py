"""Privacy redaction: what a dealership relies on before any text reaches an LLM and after the answer comes back."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from pydantic import BaseModel

from processors.privacy import (
    ALL_TYPES,
    PiiMatch,
    PiiType,
    PrivacyPolicy,
    detect,
    is_vin,
    luhn_valid,
    redact,
    restore_obj,
)

VIN = "1HGCM82633A004352"  # valid check digit (3)
VIN_X = "1M8GDM9AXKP042788"  # valid check digit (X)
VIN_BAD_CHECK = "1HGCM82635A004352"  # the same VIN with a wrong check digit


def found(text: str) -> list[tuple[str, str]]:
    return [(m.type.value, text[m.start:m.end]) for m in detect(text)]


POSITIVES = [
    # email
    ("Please send the lease quote to maria.lopez+cars@gmail.com today.",
     [("email", "maria.lopez+cars@gmail.com")]),
    ("CC the GM at j.doe@smith-motors.co.uk, not the BDC.", [("email", "j.doe@smith-motors.co.uk")]),
    # phone, North American and international
    ("Call me back at (555) 123-4567 after 5.", [("phone", "(555) 123-4567")]),
    ("Her cell is 555-123-4567.", [("phone", "555-123-4567")]),
    ("Text 555.123.4567 when the loaner is ready.", [("phone", "555.123.4567")]),
    ("Customer's number: +1 555 123 4567", [("phone", "+1 555 123 4567")]),
    ("Call me at 5551234567 about the recall.", [("phone", "5551234567")]),
    ("Service line 1-800-555-0199 ext 12 is busy.", [("phone", "1-800-555-0199 ext 12")]),
    ("He's abroad, reach him on +44 20 7946 0958.", [("phone", "+44 20 7946 0958")]),
    ("WhatsApp +4915123456789 for the export paperwork.", [("phone", "+4915123456789")]),
    # payment cards (Luhn-valid test numbers)
    ("Put the deposit on 4111 1111 1111 1111 exp 12/27.", [("card_number", "4111 1111 1111 1111")]),
    ("Amex 3782 822463 10005 for the parts order.", [("card_number", "3782 822463 10005")]),
    ("Card: 5555-5555-5555-4444", [("card_number", "5555-5555-5555-4444")]),
    ("charge 4012888888881881 for the tires", [("card_number", "4012888888881881")]),
    # SSN
    ("Credit application: SSN 123-45-6789, employer Acme.", [("ssn", "123-45-6789")]),
    ("Co-buyer social security number is 078051120.", [("ssn", "078051120")]),
    ("Applicant 123-45-6789 signed the buyer's order.", [("ssn", "123-45-6789")]),
    # driver's license
    ("Driver's license number is D1234567 for the test drive.", [("drivers_license", "D1234567")]),
    ("DL# S530-4608-8012 (FL) copied at the desk.", [("drivers_license", "S530-4608-8012")]),
    ("drivers licence no. OH RS123456 on file", [("drivers_license", "RS123456")]),
    ("License no: 123 456 789", [("drivers_license", "123 456 789")]),
    # person names after explicit cues
    ("Hi, my name is Jeff Parker and I need an oil change.", [("person_name", "Jeff Parker")]),
    ("Customer name: O'Brien McNeil-Smith", [("person_name", "O'Brien McNeil-Smith")]),
    ("Mrs. Garcia dropped off the Tahoe; Dr. Patel picks it up Friday.",
     [("person_name", "Garcia"), ("person_name", "Patel")]),
    ("my name is jeff and i want a Honda Civic", [("person_name", "jeff")]),
    # street addresses
    ("Deliver it to 1600 Pennsylvania Ave NW, Washington, DC 20500 please.",
     [("street_address", "1600 Pennsylvania Ave NW, Washington, DC 20500")]),
    ("Pick-up from 42 Maple Ave Apt 3 at noon.", [("street_address", "42 Maple Ave Apt 3")]),
    ("i live at 7 cherry ln so the shuttle works", [("street_address", "7 cherry ln")]),
    # VIN linked to its owner in the same sentence
    (f"VIN {VIN} owned by John Smith, 12 Oak St, Dayton OH",
     [("vin", VIN), ("vin_owner", "John Smith"), ("vin_owner", "12 Oak St, Dayton OH")]),
    (f"Customer Jane Doe brought in {VIN_X} for brakes.", [("vin_owner", "Jane Doe"), ("vin", VIN_X)]),
    (f"The truck {VIN_X} is registered to 88 Elm Street.", [("vin", VIN_X), ("vin_owner", "88 Elm Street")]),
    (f"Mr. Smith asked whether {VIN} is still under warranty.", [("person_name", "Smith"), ("vin", VIN)]),
    ("Customer: JOHN SMITH\nVIN: 1M8GDM9AXKP042788\nAddress: 12 OAK ST DAYTON OH 45402",
     [("vin_owner", "JOHN SMITH"), ("vin", VIN_X), ("street_address", "12 OAK ST DAYTON OH 45402")]),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES, ids=[t for t, _ in POSITIVES])
def test_personal_data_in_dealership_sentences_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


NEGATIVES = [
    "The quote was $1,234.56 with $12,500 down.",
    "It's a 2019 Accord with 45,000 miles, last service at 123456 miles.",
    "RO-48213 and RO# 48214 are waiting on parts 15400-PLM-A02.",
    "Ship to ZIP 45402 or 45402-1234.",
    "Card 4111 1111 1111 1112 was declined.",  # fails Luhn
    "Invoice 4402918833 is paid.",  # ten bare digits without a phone cue
    "Customer: Honda Civic owner wants a quote.",
    "Customer Pay total, Customer States noise from the front end.",
    "The license plate is OH ABC-1234 and the tag expires in May.",
    "My driver's license is expired and the 2021 Civic needs tires.",
    "SSN 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567 and 123-45-0000 were never issued.",
    "Stock #A12345, deal 2023-001-44556, 3.5L V6, 2019-2023 model years.",
    "Loaner agreement signed on 2024-03-15 at 10:30.",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_numbers_and_words_that_are_not_personal_data_stay(text: str) -> None:
    assert detect(text) == []
    assert redact(text).text == text


def test_all_caps_repair_orders_keep_what_the_customer_did_and_lose_who_they_are() -> None:
    text = "CUSTOMER: JOHN SMITH\nCUSTOMER AUTHORIZED REPAIR, CUSTOMER STATES ABS LIGHT ON, CUSTOMER PAY"
    assert found(text) == [("person_name", "JOHN SMITH")]


def test_phone_numbers_in_a_list() -> None:
    assert found("Numbers on file: 555-123-4567,555-987-6543; (555) 222-3333/555.444.5555") == [
        ("phone", "555-123-4567"), ("phone", "555-987-6543"), ("phone", "(555) 222-3333"), ("phone", "555.444.5555")]


def test_a_bare_vin_is_vehicle_data_and_stays_for_service_workflows() -> None:
    text = f"VIN {VIN} needs the airbag recall. Owner John Smith called later."
    assert found(text) == [("person_name", "John Smith")]  # the owner is in another sentence
    assert VIN in redact(text).text


def test_a_vin_with_a_wrong_check_digit_is_no_vin_even_next_to_its_owner() -> None:
    text = f"VIN {VIN_BAD_CHECK} owned by John Smith."
    assert found(text) == [("person_name", "John Smith")]
    assert redact(text).text == f"VIN {VIN_BAD_CHECK} owned by [PERSON_NAME_1]."
    assert found(f"VIN {VIN} owned by John Smith.") == [("vin", VIN), ("vin_owner", "John Smith")]


def test_vin_check_digit_and_card_checksum() -> None:
    assert is_vin(VIN) and is_vin(VIN_X) and is_vin(VIN.lower())
    assert not is_vin(VIN_BAD_CHECK)
    assert not is_vin("1HGCM82633A00435I")  # I is not in the VIN alphabet
    assert not is_vin("12345678901234567")  # digits only
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


ROUND_TRIPS = [text for text, _ in POSITIVES] + NEGATIVES + [
    "",
    "[EMAIL_1] is a template token; the customer is jane@example.com and email_2 is a field name.",
    "Call (555) 123-4567 or (555) 123-4567 — same number twice, then 555-123-4567.",
    "émile@exämple.com? No: émile.dupont@example.fr, +33 1 23 45 67 89, naïve café 😀",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_restoring_the_redacted_text_gives_back_the_original(text: str) -> None:
    redaction = redact(text)
    assert redaction.restore(redaction.text) == text
    assert redaction.redacted == (redaction.text != text)


def test_the_llm_sees_placeholders_and_none_of_the_values() -> None:
    text = (f"Hi, my name is Jeff Parker, VIN {VIN}, owned by Jeff Parker, 12 Oak St, Dayton OH. "
            "Reach me at (555) 123-4567 or jeff.parker@example.com, card 4111 1111 1111 1111, SSN 123-45-6789.")
    redaction = redact(text)
    assert redaction.text == ("Hi, my name is [PERSON_NAME_1], VIN [VIN_1], owned by [VIN_OWNER_1], [VIN_OWNER_2]. "
                              "Reach me at [PHONE_1] or [EMAIL_1], card [CARD_NUMBER_1], SSN [SSN_1].")
    assert redaction.types_seen == ALL_TYPES - {PiiType.DRIVERS_LICENSE, PiiType.STREET_ADDRESS}


def test_the_same_value_gets_the_same_placeholder_and_numbering_is_stable() -> None:
    text = "Email a@example.com, b@example.com, then a@example.com again; call 555-123-4567."
    first, second = redact(text), redact(text)
    assert first.text == "Email [EMAIL_1], [EMAIL_2], then [EMAIL_1] again; call [PHONE_1]."
    assert first == second
    assert dict(first.placeholders) == {"[EMAIL_1]": "a@example.com", "[EMAIL_2]": "b@example.com",
                                        "[PHONE_1]": "555-123-4567"}


def test_placeholders_never_collide_with_text_already_in_the_message() -> None:
    text = "Template uses [EMAIL_1] and Email_2; the real one is jane@example.com."
    redaction = redact(text)
    assert redaction.text == "Template uses [EMAIL_1] and Email_2; the real one is [EMAIL_3]."
    assert redaction.restore(redaction.text) == text
    assert redaction.restore("Send to [EMAIL_3], not [EMAIL_1].") == "Send to jane@example.com, not [EMAIL_1]."


def test_an_llm_json_answer_gets_the_real_values_back() -> None:
    redaction = redact(f"Customer name: Maria O'Neil, phone (555) 123-4567. VIN {VIN} owned by Maria O'Neil.")
    answer = ('{"customer_name": "[PERSON_NAME_1]", "phone": "phone_1", "vin": "[vin_1]", '
              '"owner": "[VIN_OWNER_1]", "note": "Call [PHONE_1] to confirm [EMAIL_9]", "count": 1}')
    restored = json.loads(redaction.restore(answer))
    assert restored == {"customer_name": "Maria O'Neil", "phone": "(555) 123-4567", "vin": VIN,
                        "owner": "Maria O'Neil", "note": "Call (555) 123-4567 to confirm [EMAIL_9]", "count": 1}
    parsed = json.loads(answer)
    assert restore_obj(parsed, redaction) == restored
    nested = {"steps": [{"to": "[PHONE_1]"}, ("[VIN_1]", 3)], "[PERSON_NAME_1]": None}
    assert restore_obj(nested, redaction) == {"steps": [{"to": "(555) 123-4567"}, (VIN, 3)], "Maria O'Neil": None}


class FollowUp(BaseModel):
    customer: str
    phone: str | None
    tasks: list[str]


def test_restore_obj_rebuilds_pydantic_models() -> None:
    redaction = redact("my name is Jeff Parker, call me at 555-123-4567")
    model = FollowUp(customer="[PERSON_NAME_1]", phone="[PHONE_1]", tasks=["Call [PERSON_NAME_1] back"])
    assert restore_obj(model, redaction) == FollowUp(customer="Jeff Parker", phone="555-123-4567",
                                                     tasks=["Call Jeff Parker back"])


def test_a_type_the_policy_leaves_out_stays_in_clear_but_is_still_reported() -> None:
    text = "Reach Jeff at (555) 123-4567 or jeff@example.com."
    redaction = redact(text, PrivacyPolicy(redact=ALL_TYPES - {PiiType.PHONE}))
    assert redaction.text == "Reach Jeff at (555) 123-4567 or [EMAIL_1]."
    assert redaction.types_seen == {PiiType.PHONE, PiiType.EMAIL}
    assert redaction.redacted

    nothing = redact(text, PrivacyPolicy(redact=frozenset({PiiType.SSN})))
    assert (nothing.text, nothing.redacted) == (text, False)
    assert nothing.types_seen == {PiiType.PHONE, PiiType.EMAIL}
    off = redact(text, PrivacyPolicy(enabled=False))
    assert (off.text, off.redacted, dict(off.placeholders)) == (text, False, {})
    assert off.types_seen == {PiiType.PHONE, PiiType.EMAIL}


def test_vin_owner_policy_falls_back_to_the_plain_name_and_address_types() -> None:
    text = f"VIN {VIN} owned by John Smith, 12 Oak St, Dayton OH"
    no_owner = redact(text, PrivacyPolicy(redact=ALL_TYPES - {PiiType.VIN_OWNER}))
    assert no_owner.text == "VIN [VIN_1] owned by [PERSON_NAME_1], [STREET_ADDRESS_1]"
    assert PiiType.VIN_OWNER in no_owner.types_seen
    vin_in_clear = redact(text, PrivacyPolicy(redact=ALL_TYPES - {PiiType.VIN}))
    assert vin_in_clear.text == f"VIN {VIN} owned by [VIN_OWNER_1], [VIN_OWNER_2]"


def test_a_policy_from_configuration_takes_type_names_and_rejects_unknown_ones() -> None:
    policy = PrivacyPolicy(redact=frozenset({"email", "ssn"}))  # type: ignore[arg-type]
    assert policy.redact == {PiiType.EMAIL, PiiType.SSN}
    with pytest.raises(ValueError, match=r"unknown personal data type.*'passport'.*valid types: email"):
        PrivacyPolicy(redact=frozenset({"passport"}))  # type: ignore[arg-type]


SECRETS = ("jane@example.com", "555-123-4567", "4111 1111 1111 1111", "123-45-6789", "Jeff Parker", VIN,
           "John Smith", "12 Oak St")


def test_reprs_never_show_the_values() -> None:
    text = (f"my name is Jeff Parker, jane@example.com, 555-123-4567, 4111 1111 1111 1111, SSN 123-45-6789, "
            f"VIN {VIN} owned by John Smith, 12 Oak St, Dayton OH")
    redaction = redact(text)
    matches = detect(text)
    for shown in (repr(redaction), str(redaction), repr(matches), str(matches[0]), f"{redaction}"):
        for secret in SECRETS:
            assert secret not in shown
    assert "[EMAIL_1]" in repr(redaction)  # placeholders, not values, are shown
    assert repr(PiiMatch(PiiType.EMAIL, 3, 19)) == "PiiMatch(type=<PiiType.EMAIL: 'email'>, start=3, end=19)"
    assert isinstance(hash(redaction), int)


def test_matches_are_sorted_and_never_overlap() -> None:
    # a card number contains phone-shaped digits, a DL cue makes a phone-shaped value a licence number
    text = "Card 4111-1111-1111-1111 and DL 555-123-4567, then a@b.co (555) 123-4567"
    matches = detect(text)
    assert [m.type for m in matches] == [PiiType.CARD_NUMBER, PiiType.DRIVERS_LICENSE, PiiType.EMAIL, PiiType.PHONE]
    assert all(a.end <= b.start for a, b in pairwise(matches))


ADVERSARIAL = [
    "a" * 100_000, "1" * 100_000, "1 " * 50_000, "4111 " * 20_000, "a@" * 50_000, "a." * 50_000 + "@",
    "Mr. " * 25_000, "my name is " * 9_000, "12 Oak " * 14_000, "." * 100_000 + " " + VIN, "DL " * 33_000,
    "SSN " * 25_000, "+1 " * 33_000, "(" * 100_000, f"VIN {VIN} owned by " * 3_000, "Customer: John " * 7_000,
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda t: repr(t[:12]))
def test_large_adversarial_inputs_finish_and_still_find_what_follows(text: str) -> None:
    message = text + "\n\nEmail jane@example.com."
    redaction = redact(message)
    assert redaction.text.endswith("Email [EMAIL_1].")
    assert redaction.restore(redaction.text) == message
