"""Where personal data sits in dealership text: emails, phones, cards, SSNs, driver's licences, VIN owners, names
and street addresses, found by position and never kept by value.

Rules, not a model: precompiled patterns find candidates; checksums (Luhn, the VIN check digit), validity ranges
and cue words ("SSN", "DL#", "owned by") confirm them; where two overlap the longer one wins, then the more
specific type. Every pattern is anchored at a word edge with bounded repetition, so detection stays linear in the
length of the text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from processors.privacy.lexicon import (
    ABBREVIATIONS,
    NOT_NAMES,
    STREET_SUFFIXES,
    US_STATES,
    VEHICLE_MAKES,
    VEHICLE_MODELS,
)
from schemas.vin import VIN_VALUES, vin_check_digit


class PiiType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD_NUMBER = "card_number"
    SSN = "ssn"
    DRIVERS_LICENSE = "drivers_license"
    VIN = "vin"
    VIN_OWNER = "vin_owner"
    PERSON_NAME = "person_name"
    STREET_ADDRESS = "street_address"


# Which type wins when two candidates cover exactly the same text: the one whose evidence is stronger.
_SPECIFICITY = {
    PiiType.EMAIL: 9, PiiType.CARD_NUMBER: 8, PiiType.SSN: 7, PiiType.DRIVERS_LICENSE: 6, PiiType.VIN: 5,
    PiiType.VIN_OWNER: 4, PiiType.PHONE: 3, PiiType.STREET_ADDRESS: 2, PiiType.PERSON_NAME: 1,
}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data: ``text[start:end]`` of the text it was found in.

    The value itself is deliberately not kept, so a match is safe to log, put in an audit event or an exception.
    """

    type: PiiType
    start: int
    end: int


def detect(text: str) -> list[PiiMatch]:
    """Every piece of personal data in ``text``, sorted by position and non-overlapping.

    >>> [(m.type.value, m.start, m.end) for m in detect("Reach me at jane@example.com or (555) 123-4567")]
    [('email', 12, 28), ('phone', 32, 46)]
    """
    return resolve(candidates(text))


def candidates(text: str) -> list[PiiMatch]:
    """Everything every detector found, overlaps included: a policy that switches a type off lets the next-best
    reading of the same text (the street address inside a VIN owner's details) take its place."""
    found: list[PiiMatch] = []
    if "@" in text:
        found.extend(_emails(text))
    found.extend(_phones(text))
    found.extend(_card_numbers(text))
    found.extend(_ssns(text))
    found.extend(_drivers_licenses(text))
    owner_data = [*_person_names(text), *_street_addresses(text)]
    found.extend(owner_data)
    found.extend(_vins_linked_to_owners(text, owner_data))
    return found


def resolve(found: Iterable[PiiMatch]) -> list[PiiMatch]:
    """Non-overlapping matches in text order: longest first, then the most specific type, then the earliest."""
    ordered = sorted(found, key=lambda m: (m.start - m.end, -_SPECIFICITY[m.type], m.start))
    if not ordered:
        return []
    taken = bytearray(max(m.end for m in ordered))
    kept = []
    for match in ordered:
        if taken.find(1, match.start, match.end) == -1:
            taken[match.start:match.end] = b"\x01" * (match.end - match.start)
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


# --- email -------------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@"
                    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])")


def _emails(text: str) -> Iterator[PiiMatch]:
    for m in _EMAIL.finditer(text):
        yield PiiMatch(PiiType.EMAIL, m.start(), m.end())


# --- phone -------------------------------------------------------------------------------------------------------

# North American numbers need a separated or parenthesised shape (or +1 and ten digits): a bare run of digits is
# as likely an invoice or an account number, so it counts only after a phone cue (see _PHONE_CUE).
_NO_GLUE_BEFORE = r"(?<![\w+$#.-])"
_NO_GLUE_AFTER = r"(?![\w-]|\.\d)"
_EXTENSION = r"(?:[ ]?(?:ext\.?|x)[ ]?\d{1,5})?"
_PHONE_NANP = re.compile(
    _NO_GLUE_BEFORE + r"(?:"
    r"(?:\+?1[ .-]?)?\([ ]?[2-9]\d{2}[ ]?\)[ .-]?\d{3}[ .-]?\d{4}"
    r"|(?:\+?1[ .-])?[2-9]\d{2}(?P<sep>[ .-])\d{3}(?P=sep)\d{4}"
    r"|\+1[2-9]\d{9}"
    r")" + _EXTENSION + _NO_GLUE_AFTER)
_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+[2-9]\d{0,2}(?:[ .-]?\d){5,13}(?!\d)")
_PHONE_DIGITS = re.compile(_NO_GLUE_BEFORE + r"1?[2-9]\d{9}" + _NO_GLUE_AFTER)
_PHONE_CUE = re.compile(
    r"(?i)\b(?:phone|cell(?:phone)?|mobile|mob|tel(?:ephone)?|fax|call|text|txt|reach|contact|ph|whats[ ]?app|"
    r"call-?back|(?:my|his|her|your|their|best|home|work|contact|callback)[ \t]+(?:number|num|no))\b"
    r"(?:[^\w\n]{1,3}(?:me|us|him|her|them|at|on|is|was|number|num|no|it|back|directly|anytime)\b){0,4}"
    r"[^\w\n]{0,4}\Z")
_PHONE_CUE_WINDOW = 60


def _phones(text: str) -> Iterator[PiiMatch]:
    for m in _PHONE_NANP.finditer(text):
        yield PiiMatch(PiiType.PHONE, m.start(), m.end())
    if "+" in text:
        for m in _PHONE_INTERNATIONAL.finditer(text):
            if 8 <= sum(c.isdigit() for c in m.group()) <= 15:  # E.164 allows at most 15 digits
                yield PiiMatch(PiiType.PHONE, m.start(), m.end())
    for m in _PHONE_DIGITS.finditer(text):
        if _PHONE_CUE.search(text, max(0, m.start() - _PHONE_CUE_WINDOW), m.start()):
            yield PiiMatch(PiiType.PHONE, m.start(), m.end())


# --- payment card ------------------------------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
# How cards are printed: one block, 4-4-4-4 (Visa, Mastercard, Discover), 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-4-3.
_CARD_GROUPINGS = ((4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3))


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number carries."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_numbers(text: str) -> Iterator[PiiMatch]:
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < 13:
            continue
        groups = [(g.start(), g.end()) for g in _DIGIT_GROUP.finditer(text, run.start(), run.end())]
        lengths = tuple(end - start for start, end in groups)
        glued_before = run.start() > 0 and (text[run.start() - 1].isalnum() or text[run.start() - 1] in "_.,$")
        glued_after = run.end() < len(text) and (text[run.end()].isalnum() or text[run.end()] == "_")
        for i, (start, end) in enumerate(groups):
            if i == 0 and glued_before:
                continue
            if 13 <= lengths[i] <= 19 and not (glued_after and i == len(groups) - 1):
                if _card_digits(text[start:end]):
                    yield PiiMatch(PiiType.CARD_NUMBER, start, end)
            elif lengths[i] == 4:
                for grouping in _CARD_GROUPINGS:
                    last = i + len(grouping) - 1
                    if lengths[i:last + 1] != grouping or (glued_after and last == len(groups) - 1):
                        continue
                    digits = "".join(text[group_start:group_end] for group_start, group_end in groups[i:last + 1])
                    if _card_digits(digits):
                        yield PiiMatch(PiiType.CARD_NUMBER, start, groups[last][1])


def _card_digits(digits: str) -> bool:
    return digits[0] in "23456" and len(set(digits)) > 1 and luhn_valid(digits)


# --- social security number --------------------------------------------------------------------------------------

_SSN_DASHED = re.compile(r"(?<![\w-])(\d{3})-(\d{2})-(\d{4})(?![\w-])")
_SSN_CUED = re.compile(
    r"(?i)(?=[sS])\b(?:ssn|ss[ ]?\#|ss[ ]?no\b\.?|social[ \t]+security(?:[ \t]+(?:number|num|no\b\.?|\#))?|"
    r"soc\.?[ \t]*sec\.?(?:[ \t]*(?:number|no\b\.?|\#))?)"
    r"(?:[ \t]*(?:[:#=-]|(?:is|was|number|num|no)\b\.?)){0,3}[ \t]*"
    r"(?P<value>(\d{3})([ -]?)(\d{2})\3(\d{4}))(?![\w-])")


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """The ranges the Social Security Administration never issues: area 000, 666 or 9xx, group 00, serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ssns(text: str) -> Iterator[PiiMatch]:
    for m in _SSN_DASHED.finditer(text):
        if ssn_valid(m[1], m[2], m[3]):
            yield PiiMatch(PiiType.SSN, m.start(), m.end())
    for m in _SSN_CUED.finditer(text):
        if ssn_valid(m[2], m[4], m[5]):
            yield PiiMatch(PiiType.SSN, m.start("value"), m.end("value"))


# --- driver's license --------------------------------------------------------------------------------------------

# "License plate" is deliberately no cue: a plate identifies a vehicle, like a bare VIN, and service workflows need
# it in clear text. Only the licence number after a driver's-licence cue is personal data.
_STATE_CODES = "|".join(US_STATES)
_DRIVERS_LICENSE = re.compile(
    r"(?=[dloDLO])(?:(?i:\b(?:driver(?:['\u2019]?s|s['\u2019])?|driving|operator(?:['\u2019]?s)?)[ \t]*licen[cs]e"
    r"|\blicen[cs]e[ \t]*(?:number|num\b|no\b\.?|\#)|\blic\.?[ \t]*(?:no\b\.?|\#))|\bD/?L\b)"
    r"(?:[ \t]*(?:[#:=-]|(?i:is|was|number|num|no)\b\.?|\(?(?:" + _STATE_CODES + r")\)?(?=[ \t]))){0,4}[ \t]*"
    r"(?P<value>\d{3}[ ]\d{3}[ ]\d{3}(?![\w-])|[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){3,24}(?![\w-]))")


def _drivers_licenses(text: str) -> Iterator[PiiMatch]:
    for m in _DRIVERS_LICENSE.finditer(text):
        value = m["value"]
        alnum = sum(c.isalnum() for c in value)
        if 5 <= alnum <= 20 and any(c.isdigit() for c in value):
            yield PiiMatch(PiiType.DRIVERS_LICENSE, m.start("value"), m.end("value"))


# --- person name -------------------------------------------------------------------------------------------------

_TITLE_CASE = r"(?:[A-Z]['\u2019]|Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"  # Smith, O'Brien, McNeil, Lopez-Diaz
_UPPER_CASE = r"[A-Z]{2,}(?:['\u2019-][A-Z]+)?"  # SMITH on a form
_NameCase = Literal["title", "capitalised", "any"]
_NAME_WORD: dict[_NameCase, re.Pattern[str]] = {
    "title": re.compile(rf"{_TITLE_CASE}(?!\w)"),
    "capitalised": re.compile(rf"(?:{_TITLE_CASE}|{_UPPER_CASE})(?!\w)"),
    "any": re.compile(r"[A-Za-z]+(?:['\u2019-][A-Za-z]+)?(?!\w)"),
}
_INITIAL = re.compile(r"[A-Z]\.")
_NAME_GAP = re.compile(r"[ ]{1,3}")
_HONORIFIC = re.compile(r"(?=[MD])\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?[ ]{1,3}(?=[A-Z])")
_PERSON_CUE = re.compile(
    r"(?=[abcflmnorstABCFLMNORST])(?:(?P<own>\bmy[ \t]+name(?:[ \t]+is|['\u2019]s)\b)"
    r"|(?P<label>\b(?:(?:customer|client|buyer|co-?buyer|owner|contact|cardholder|account[ \t]+holder)"
    r"['\u2019]?s?[ \t]+)?"
    r"(?:full[ \t]+)?name[ \t]{0,3}(?::|is\b)|\b(?:customer|client|buyer|co-?buyer|cardholder|attn|attention)[ \t]*:)"
    r"|(?P<owner>\b(?:owned|registered|titled|leased|sold|financed)[ \t]+(?:by|to)\b|\bbelong(?:s|ing)[ \t]+to\b"
    r"|(?P<bare>\b(?:owner|customer|client)\b)))",
    re.I)
_CUE_FILLER = re.compile(r"[ \t]{0,3}(?:[:,-][ \t]{0,3})?(?P<honorific>(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?[ ]{1,3}(?=[A-Z]))?")
_MAX_NAME_TOKENS = 4


def _person_names(text: str) -> Iterator[PiiMatch]:
    for m in _HONORIFIC.finditer(text):
        span = _name_at(text, m.end(), min_tokens=1, vehicle_check=False)
        if span:
            yield PiiMatch(PiiType.PERSON_NAME, *span)
    for m in _PERSON_CUE.finditer(text):
        at = _CUE_FILLER.match(text, m.end())
        assert at is not None  # the filler may be empty
        own = m["own"] is not None
        single_word = own or m["label"] is not None or at["honorific"] is not None  # "owned by Ford" is a lender
        case = "any" if own else _case_after(bool(m["bare"]), at.group())
        span = _name_at(text, at.end(), case=case, min_tokens=1 if single_word else 2, vehicle_check=not own)
        if span:
            yield PiiMatch(PiiType.PERSON_NAME, *span)


def _case_after(bare_cue: bool, filler: str) -> _NameCase:
    """All-caps words count as a name after a label ("CUSTOMER: JOHN SMITH") but not after a bare "customer",
    which in an all-caps repair order is followed by what the customer did ("CUSTOMER AUTHORIZED REPAIR")."""
    return "title" if bare_cue and ":" not in filler else "capitalised"


def _name_at(text: str, pos: int, end: int | None = None, *, case: _NameCase = "capitalised", min_tokens: int = 1,
            vehicle_check: bool = True) -> tuple[int, int] | None:
    """The span of the person name that starts at ``pos``, if one does: one to four name-shaped words that are
    not stop words; with ``vehicle_check``, a make or model in front ("Honda Civic") means it is no name."""
    end = len(text) if end is None else end
    token = _NAME_WORD[case]
    spans: list[tuple[int, int]] = []
    cursor = pos
    while len(spans) < _MAX_NAME_TOKENS:
        m = token.match(text, cursor, end) or (_INITIAL.match(text, cursor, end) if spans else None)
        if m is None:
            break
        word = m.group().lower()
        if word in NOT_NAMES:
            break
        if vehicle_check and (word in VEHICLE_MODELS or (not spans and word in VEHICLE_MAKES)):
            if not spans:
                return None
            break
        spans.append((m.start(), m.end()))
        gap = _NAME_GAP.match(text, m.end(), end)
        if gap is None:
            break
        cursor = gap.end()
    while spans and text[spans[-1][1] - 1] == ".":  # a trailing initial is more likely the end of a sentence
        spans.pop()
    if not spans or len(spans) < min_tokens:
        return None
    return spans[0][0], spans[-1][1]


# --- street address ----------------------------------------------------------------------------------------------

def _address_pattern(any_case: bool) -> re.Pattern[str]:
    word = r"[A-Za-z][A-Za-z'\u2019]*" if any_case else r"(?:[A-Z][a-z'\u2019]+|[A-Z]{2,})"
    direction = r"(?:[NSEW]|NE|NW|SE|SW|North|South|East|West)\.?"
    suffix = "|".join(STREET_SUFFIXES)
    unit = r"(?:Apt|Apartment|Unit|Suite|Ste|\#)"
    return re.compile(
        r"(?<![\w.,$#/-])\d{1,6}[A-Za-z]?[ ]{1,3}(?:" + direction + r"[ ]{1,3})?"
        r"(?:(?:" + word + r"|\d{1,3}(?:st|nd|rd|th))[ ]{1,3}){1,3}"
        r"(?i:" + suffix + r")\b(?:\.(?=,))?"
        r"(?:[ ]{1,3}" + direction + r"(?![\w]))?"
        r"(?:,?[ ]{1,3}(?i:" + unit + r")\.?[ ]{0,3}\#?[A-Za-z0-9-]{1,6}(?![\w-]))?"
        r"(?:,?[ ]{1,3}" + word + r"(?:[ ]" + word + r"){0,2},?[ ]{1,3}(?:" + _STATE_CODES + r")\b"
        r"(?:[ ]{1,3}\d{5}(?:-\d{4})?\b)?)?",
        re.I if any_case else 0)


_ADDRESS = _address_pattern(any_case=False)
_ADDRESS_ANY_CASE = _address_pattern(any_case=True)  # only after a cue: "i live at 12 oak st"
_ADDRESS_CUE = re.compile(r"(?i)(?=[almrsALMRS])\b(?:address(?:[ \t]+is)?|addr"
                          r"|(?:live|lives|living|located|reside|resides)[ \t]+at"
                          r"|(?:mail|send|ship)[ \t]+(?:it[ \t]+)?to)[ \t]{0,3}:?[ \t]{0,3}")


def _street_addresses(text: str) -> Iterator[PiiMatch]:
    for m in _ADDRESS.finditer(text):
        if not _names_a_vehicle(m.group()):
            yield PiiMatch(PiiType.STREET_ADDRESS, m.start(), m.end())
    for cue in _ADDRESS_CUE.finditer(text):
        address = _ADDRESS_ANY_CASE.match(text, cue.end())
        if address and not _names_a_vehicle(address.group()):
            yield PiiMatch(PiiType.STREET_ADDRESS, address.start(), address.end())


def _names_a_vehicle(address: str) -> bool:
    """'2019 Honda Pilot Way' is not where anyone lives, it is a model year and a car."""
    return any(word.lower() in VEHICLE_MAKES or word.lower() in VEHICLE_MODELS for word in address.split()[1:3])


# --- VIN and its owner -------------------------------------------------------------------------------------------

_VIN = re.compile(r"(?<![A-Za-z0-9])[A-HJ-NPR-Za-hj-npr-z0-9]{17}(?![A-Za-z0-9])")
_OWNER_CUE = re.compile(r"(?i)(?=[bcflorstBCFLORST])\b(?:owned[ \t]+by|registered[ \t]+(?:to|owner)"
                        r"|belong(?:s|ing)[ \t]+to|(?:sold|titled|leased|financed)[ \t]+to"
                        r"|(?P<bare>owner|customer|client))"
                        r"(?:['\u2019]s)?\b"
                        r"(?:[ \t]{0,3}(?:[:=,-]|(?:name|info|information|is)\b)){0,3}")
_OWNER_ADDRESS_GAP = re.compile(r"(?i)[ \t]{0,3}(?:[,;-][ \t]{0,3})?(?:(?:of|at|from|(?:who[ \t]+)?lives[ \t]+at|"
                                r"living[ \t]+at|address)[ \t]{1,3})?:?[ \t]{0,3}")
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+[\"'\u2019\u201d)\]]*(?=\s)|\n[ \t]*\n")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)\Z")


def is_vin(token: str) -> bool:
    """Whether a 17-character token is a VIN.

    North American VINs (first character 1-5) must carry a valid check digit; a VIN-shaped token whose check digit
    is wrong is a typo or some other identifier. Elsewhere the check digit is optional, so a token qualifies when
    its check digit is valid or its last four characters are digits, as ISO 3779 requires.
    """
    vin = token.upper()
    if len(vin) != 17 or not all(c in VIN_VALUES for c in vin) or vin.isdigit() or vin.isalpha():
        return False
    if vin[8] == vin_check_digit(vin):
        return True
    return vin[0] not in "12345" and vin[13:].isdigit()


def _vins_linked_to_owners(text: str, owner_data: Sequence[PiiMatch]) -> list[PiiMatch]:
    """VINs tied to a person in the same sentence, and that person's name and address as VIN owner data.

    A bare VIN identifies a vehicle, not a person, and service workflows need it, so it is no personal data on its
    own and is not reported. It becomes personal data when the sentence names its owner, after a cue ("VIN ...
    owned by John Smith, 12 Oak St") or as any detected person name or street address in the same sentence; then
    the VIN is reported (and redacted by default) along with the owner's details.
    """
    vins = [m for m in _VIN.finditer(text) if is_vin(m.group())]
    if not vins:
        return []
    starts = _sentence_starts(text)
    owner_starts = sorted(m.start for m in owner_data)
    found: list[PiiMatch] = []
    owners_by_sentence: dict[int, list[PiiMatch]] = {}
    for vin in vins:
        index = bisect_right(starts, vin.start()) - 1
        sentence_start = starts[index]
        sentence_end = starts[index + 1] if index + 1 < len(starts) else len(text)
        if sentence_start not in owners_by_sentence:
            owners = list(_owners(text, sentence_start, sentence_end))
            owners_by_sentence[sentence_start] = owners
            found.extend(owners)
        first_owner_data = bisect_right(owner_starts, sentence_start - 1)
        has_owner_data = first_owner_data < len(owner_starts) and owner_starts[first_owner_data] < sentence_end
        if owners_by_sentence[sentence_start] or has_owner_data:
            found.append(PiiMatch(PiiType.VIN, vin.start(), vin.end()))
    return found


def _owners(text: str, start: int, end: int) -> Iterator[PiiMatch]:
    """The owner's name and/or street address after each owner cue in ``text[start:end]``."""
    for cue in _OWNER_CUE.finditer(text, start, end):
        at = _CUE_FILLER.match(text, cue.end(), end)
        assert at is not None  # the filler may be empty
        cursor = at.end()
        case = _case_after(bool(cue["bare"]), cue.group() + at.group())
        name = _name_at(text, cursor, end, case=case, min_tokens=1 if at["honorific"] else 2)
        if name:
            yield PiiMatch(PiiType.VIN_OWNER, *name)
            cursor = name[1]
        gap = _OWNER_ADDRESS_GAP.match(text, cursor, end)
        assert gap is not None  # the gap may be empty
        address = _ADDRESS.match(text, gap.end(), end) or _ADDRESS_ANY_CASE.match(text, gap.end(), end)
        if address and not _names_a_vehicle(address.group()):
            yield PiiMatch(PiiType.VIN_OWNER, address.start(), address.end())


def _sentence_starts(text: str) -> list[int]:
    """Where each sentence begins. A single line break does not end one: forms put a VIN and its owner on
    neighbouring lines. Abbreviations ("Mr.", "St.") and initials do not end one either."""
    starts = [0]
    for m in _SENTENCE_END.finditer(text):
        if text[m.start()] == ".":
            before = _WORD_BEFORE.search(text, max(0, m.start() - 12), m.start())
            if before and (len(before[1]) == 1 or before[1].lower() in ABBREVIATIONS):
                continue
        starts.append(m.end())
    return starts
