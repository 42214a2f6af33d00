"""Document understanding from OCR lines: which dealership document it is, and its checked, normalised fields.

Rules, not a model, following the corpus contract (titles, "Label: value" rows, two pairs to a row):

- ``classify`` scores every type by its title (the first title-like line near the top decides, so an invoice
  that quotes its repair order stays an invoice) and by distinctive labels ("Technician", "EXP", "SSN",
  "Trade-in", ...); a page with no cue at all is ``other``.
- ``extract_fields`` splits every line at its labels (known labels, distractor labels such as "Subtotal" or
  "EXP", and any other "Word:"), so a row "RO #:458213 Date: 03/14/2026" gives two values. Each field takes the
  value of its best-ranked label ("Grand Total" before a bare "Total"), validated and normalised: VINs by their
  check digit, phones to E.164, dates to ISO, amounts to "1193.46". Distractor labels are never read as fields,
  so a licence's EXP date or an invoice's Subtotal cannot become the date or the total.
- Per-field confidence is the OCR line's confidence times a validation factor: 1.0 for a value valid as printed,
  0.9 for one that needed an OCR repair (O->0 and the like), 0.8 for one found without its label (a VIN) or on the
  line below its label, 0.7 for a one-word name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import dateparser

from schemas.models import DocumentFields, DocumentType
from schemas.vin import vin_check_digit

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class OcrLine:
    """One printed row as the OCR engine read it, left to right."""

    text: str
    confidence: float  # 0..1 from the OCR engine
    box: Box = (0, 0, 0, 0)  # x0, y0, x1, y1 on the page


@dataclass(frozen=True)
class Understanding:
    """What a page says: its type, its fields with their confidences, and which found fields are PII."""

    document_type: DocumentType
    type_confidence: float
    fields: DocumentFields
    field_confidence: dict[str, float]
    pii_fields: tuple[str, ...]


PII_FIELDS = ("license_number", "date_of_birth")
HINT_BELOW = 0.5  # a classification less sure than this yields to the producer's hint
OTHER_CONFIDENCE = 0.3  # nothing on the page names a document type
HINT_CONFIDENCE = 0.5  # the producer's word, neither confirmed nor contradicted by the page

FIELDS_BY_TYPE: dict[DocumentType, frozenset[str]] = {
    DocumentType.REPAIR_ORDER: frozenset(
        {"ro_number", "vin", "customer_name", "phone", "email", "date", "mileage", "total"}),
    DocumentType.INVOICE: frozenset(
        {"invoice_number", "customer_name", "phone", "email", "date", "total", "vin"}),
    DocumentType.DRIVERS_LICENSE: frozenset({"license_number", "customer_name", "date", "date_of_birth"}),
    DocumentType.CREDIT_APPLICATION: frozenset(
        {"customer_name", "phone", "email", "date", "date_of_birth", "license_number"}),
    DocumentType.BUYERS_ORDER: frozenset({"vin", "customer_name", "phone", "email", "date", "mileage", "total"}),
    DocumentType.OTHER: frozenset(DocumentFields.model_fields),
}

# --- OCR character repairs -----------------------------------------------------------------------------------

# Cyrillic and Greek capitals that print like Latin letters or digits ("RO-45821\u0417" is "RO-458213").
_LOOKALIKES = str.maketrans({
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O",
    "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0423": "Y", "\u0417": "3", "\u0406": "I",
    "\u0408": "J", "\u0405": "S", "\u0430": "A", "\u0435": "E", "\u043e": "O", "\u0440": "P", "\u0441": "C",
    "\u0445": "X", "\u0443": "Y", "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H",
    "\u0399": "I", "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X",
})
# Letters OCR reads for digits; applied only where a digit is certain (a digit run, an RO number's digits).
_AS_DIGITS = str.maketrans({"O": "0", "o": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "L": "1", "S": "5",
                            "s": "5", "B": "8", "Z": "2", "z": "2"})
_DIGITISABLE = re.compile(r"[0-9OoQIl|LSsBZz](?:[0-9OoQIl|LSsBZz/.,-]*[0-9OoQIl|LSsBZz])?")
_VIN_REPAIR = str.maketrans({"O": "0", "I": "1", "Q": "0"})
_VIN_SHAPE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


def _digit_fix(text: str) -> str:
    """Letters read for digits inside runs (separators included) that already hold a digit ("2O25-OI-03" ->
    "2025-01-03", "$1,l93.46" -> "$1,193.46")."""
    return _DIGITISABLE.sub(lambda m: m.group().translate(_AS_DIGITS) if any(c.isdigit() for c in m.group())
                            else m.group(), text)


def repair_vin(candidate: str) -> str | None:
    """The VIN ``candidate`` names, or None. O, I and Q never occur in a VIN, so OCR put them where 0 and 1 were;
    they are repaired only when the repaired string carries a valid check digit (ISO 3779, position 9)."""
    vin = candidate.strip().upper().translate(_LOOKALIKES)
    if len(vin) != 17:
        return None
    repaired = vin.translate(_VIN_REPAIR)
    if not _VIN_SHAPE.fullmatch(repaired) or repaired[8] != vin_check_digit(repaired):
        return None
    return repaired


# --- value normalisers ---------------------------------------------------------------------------------------

_PHONE = re.compile(r"(?<![\d+])(?:\+?\s*1[\s.-]*)?\(?\s*([2-9]\d{2})\s*\)?[\s.-]*([2-9]\d{2})[\s.-]*(\d{4})(?!\d)")
_FOREIGN_PREFIX = re.compile(r"\+\s*[02-9]")


def normalise_phone(text: str) -> str | None:
    """A US phone number in ``text`` as E.164 ("(415) 555-0134" -> "+14155550134"), or None; numbers with
    another country code are None (North American area codes and exchanges start with 2-9)."""
    if _FOREIGN_PREFIX.search(text):
        return None
    match = _PHONE.search(text)
    return None if match is None else "+1" + "".join(match.groups())


_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%d-%b-%Y", "%m/%d/%y", "%m-%d-%Y",
                 "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%d-%B-%Y", "%Y/%m/%d", "%m.%d.%Y")
_DATE_SHAPE = re.compile(
    r"(?<![A-Za-z0-9])(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2026-03-14
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 03/14/2026
    r"|[A-Za-z]{3,9}\.?\s*\d{1,2}(?:st|nd|rd|th)?\s*,?\s*\d{4}"  # March 14, 2026
    r"|\d{1,2}(?:st|nd|rd|th)?[\s-]*[A-Za-z]{3,9}\.?[\s,-]*\d{2,4}"  # 14-Mar-2026
    r")(?![A-Za-z0-9])"
)
_DATE_TIDY = [(re.compile(r"\s*,\s*"), ", "), (re.compile(r"\s+"), " "), (re.compile(r"\s*([/-])\s*"), r"\1"),
              (re.compile(r"(?<=\d)(?:st|nd|rd|th)\b"), ""), (re.compile(r"(?<=[A-Za-z])\.(?=\s)"), "")]
_DATEPARSER_SETTINGS: dict[str, Any] = {"DATE_ORDER": "MDY", "STRICT_PARSING": True,
                                        "REQUIRE_PARTS": ["day", "month", "year"]}
_YEARS = range(1900, 2101)
_MONTH_WORD = re.compile(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")


def normalise_date(text: str) -> str | None:
    """An ISO date from a printed one, US month first for numeric dates ("03/14/2026", "March 14, 2026",
    "14-Mar-2026" -> "2026-03-14"), or None. Explicit formats first; dateparser (slow) only when they fail."""
    shape = _DATE_SHAPE.search(text)
    candidate = shape.group() if shape else text
    for pattern, replacement in _DATE_TIDY:
        candidate = pattern.sub(replacement, candidate)
    candidate = candidate.strip(" .,;:")
    if not candidate or len(candidate) > 40 or not any(c.isdigit() for c in candidate):
        return None
    for fmt in _DATE_FORMATS:
        try:
            parsed: date = datetime.strptime(candidate, fmt).date()
        except ValueError:
            continue
        return parsed.isoformat() if parsed.year in _YEARS else None
    if not _MONTH_WORD.search(candidate):
        return None  # the formats cover every numeric date; dateparser would guess at a garbled one
    when: datetime | None = dateparser.parse(candidate, languages=["en"], settings=_DATEPARSER_SETTINGS)
    if when is None or when.year not in _YEARS or str(when.year) not in candidate:
        return None  # no year printed: dateparser took today's
    return when.date().isoformat()


# Digits glued to letters are an OCR error ("$1,l93.46"), not an amount; "S" before digits is a misread "$".
_AMOUNT = re.compile(r"(?<![\w.,])(?:\$|USD|US\$|S(?=\d))?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?(?![\w,])")


def normalise_amount(text: str) -> str | None:
    """The first amount in ``text`` as a plain decimal with cents ("$1,193.46", "USD 1,193.46" -> "1193.46")."""
    match = _AMOUNT.search(text)
    if match is None:
        return None
    try:
        return f"{Decimal(match.group(1).replace(',', '') + (match.group(2) or '')):.2f}"
    except InvalidOperation:
        return None


_MILES = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d{1,7})(?![\d,]|(?!mi)[A-Za-z])")


def _normalise_mileage(text: str) -> int | None:
    """An odometer reading as an int ("45,210 mi" -> 45210)."""
    match = _MILES.search(text)
    return None if match is None else int(match.group(1).replace(",", ""))


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def _normalise_email(text: str) -> str | None:
    """An e-mail address, lower case; spaces OCR put inside the address are dropped."""
    match = _EMAIL.search("".join(text.split()))
    return None if match is None else match.group().lower()


_HONORIFIC = re.compile(r"^(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+", re.IGNORECASE)
_NAME_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019.-])*")
_SUFFIX = re.compile(r"(?:Jr|Sr|II|III|IV)\.?", re.IGNORECASE)


def _normalise_name(text: str) -> str | None:
    """A person's name as "First Last": honorifics dropped, "LAST, FIRST" turned round, all-caps or all-lower
    words title-cased (a mixed-case word such as "McDonald" is kept as printed)."""
    value = _HONORIFIC.sub("", text.strip(" .,;:"))
    if value.count(",") == 1:
        last, first = (part.strip() for part in value.split(","))
        if first and not _SUFFIX.fullmatch(first):
            value = f"{_HONORIFIC.sub('', first)} {last}"
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 5 or not all(_NAME_WORD.fullmatch(word) for word in words):
        return None
    return " ".join(word.title() if word.isupper() or word.islower() else word for word in words)


_RO = re.compile(r"(?:R[O0]-?)?([0-9OQILSBZ]{3,12})")
_CODE = re.compile(r"[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?")
_PREFIXED_NUMBER = re.compile(r"(?:([A-Z]{1,5})-)?([0-9OQILSBZ]{3,14})")
_LICENCE_BODY = re.compile(r"[0-9OIQSBZ-]+")


def _first_token(text: str) -> str:
    """The first word of a value, without the punctuation OCR leaves around it."""
    parts = text.split()
    return parts[0].strip(".,;:|") if parts else ""


# --- labels --------------------------------------------------------------------------------------------------

Mode = Literal["colon", "optional", "amount"]
_SEPARATOR: dict[Mode, str] = {
    "colon": r"\s*[:;]\s*",  # "Customer: ..." (a bare word is a label only with its colon)
    "optional": r"\s*[:;]?\s*",  # "RO #458213", "VIN # 1HG...", "Invoice No. 100482"
    "amount": r"\s*[:;]?\s*(?=[$\d]|USD|US\$)",  # "TOTAL $1,193.46"; "Total Labor:" is no total
}
_NUMBERED = r"\s*(?:#|Number\b|No\b\.?)"
_OTHER = "_other"  # a label that is no field: its value is never read, it only ends the value before it

# (key, rank, pattern, separator): key is the field a label gives, or a distractor; a lower rank wins.
# At one position the first entry that matches wins, so longer labels come before their prefixes.
_LABELS: list[tuple[str, int, str, Mode]] = [
    # distractors that open like a field label
    (_OTHER, 0, r"Co-?\s*(?:Buyer|Applicant|Purchaser|Signer|Borrower)(?:['\u2019]?s)?(?:\s*Name)?", "colon"),
    (_OTHER, 0, r"(?:Employer|Employment|Work|Business|Office|Dealer(?:ship)?|Emergency(?:\s*Contact)?|Reference"
                r"|Landlord|(?:Nearest\s*)?Relative|Previous|Prior|Spouse|Sales\s*person|Salesman|Sales\s*Rep"
                r"|(?:Service\s*)?Advisor|Tech(?:nician)?|Bank|Lender|Lien\s*holder|Insurance|Agent|Manager|Company"
                r"|Mother|Father)(?:['\u2019]?s)?"
                r"(?:\s*(?:Name|Phone|Tel|Telephone|Cell|Mobile|E-?\s*mail|Address|Date|ID|#|Number|No\b\.?))?",
     "colon"),
    (_OTHER, 0, r"Customer\s*(?:#|Number\b|No\b\.?|ID|Signature|Concern|Complaint|Pay|Since|Type|Comments?)",
     "optional"),
    (_OTHER, 0, r"Licen[cs]e\s*Plate(?:" + _NUMBERED + r")?|Plate(?:" + _NUMBERED + r")?|Tag" + _NUMBERED,
     "optional"),
    (_OTHER, 0, r"(?:Licen[cs]e\s*|DL\s*|Issuing\s*)State", "colon"),
    (_OTHER, 0, r"Date\s*(?:Closed|Out|Promised|Due|Delivered|Printed|Paid|Signed)", "colon"),
    ("date_of_birth", 0, r"Date\s*of\s*Birth|Birth\s*Date|D\.?O\.?B\.?", "colon"),
    # vin
    ("vin", 0, r"V\.?I\.?N\.?" + _NUMBERED, "optional"),
    ("vin", 0, r"Vehicle\s*ID(?:entification)?(?:" + _NUMBERED + r")?", "optional"),
    ("vin", 0, r"VIN(?=\s*[:;]|\s+[A-Za-z0-9]{17}(?![A-Za-z0-9]))", "optional"),
    # dates: the document's own, then its distractors
    ("date", 0, r"(?:R\.?O\.?|Invoice|Sale|Sales|Application|Purchase|Contract|Order|Document|Issue|Transaction"
                r"|Service)\s*Date", "colon"),
    ("date", 0, r"Date\s*(?:Opened|of\s*Sale|of\s*Application|Issued|In)|Issued?|ISS", "colon"),
    ("date", 0, r"Date", "colon"),
    (_OTHER, 0, r"EXP(?:iration|ires?)?\.?(?:\s*Date)?|Expires?", "colon"),
    (_OTHER, 0, r"Promised(?:\s*(?:Date|Time))?|Promise\s*Date|Due\s*Date|Delivery\s*Date|Time(?:\s*(?:In|Out))?",
     "colon"),
    # numbers
    ("ro_number", 0, r"Repair\s*Order" + _NUMBERED + r"|R\.?O\.?" + _NUMBERED, "optional"),
    ("ro_number", 0, r"RO", "colon"),
    ("invoice_number", 0, r"Invoice" + _NUMBERED + r"|INV" + _NUMBERED, "optional"),
    ("invoice_number", 0, r"Invoice", "colon"),
    ("license_number", 0, r"(?:Driver['\u2019]?s?\s*)?Licen[cs]e" + _NUMBERED + r"|Lic\.?" + _NUMBERED
                          + r"|DL" + _NUMBERED, "optional"),
    ("license_number", 0, r"Driver['\u2019]?s?\s*Licen[cs]e|DLN|DL", "colon"),
    # people and contacts
    ("customer_name", 1, r"(?:Customer|Buyer|Purchaser|Applicant)(?:['\u2019]?s)?\s*Name|Full\s*Name", "colon"),
    ("customer_name", 1, r"Customer|Buyer|Purchaser|Applicant|Name", "colon"),
    ("phone", 0, r"(?:Home|Cell|Mobile|Primary|Daytime|Customer)\s*(?:Phone|Tel)(?:" + _NUMBERED + r")?"
                 r"|(?:Phone|Cell|Tel)" + _NUMBERED, "optional"),
    ("phone", 0, r"Telephone|Phone|Tel|Cell|Mobile|Ph", "colon"),
    ("email", 0, r"E-?\s*mail(?:\s*Address)?", "colon"),
    # mileage
    (_OTHER, 0, r"Mileage\s*Out|Miles\s*Out", "colon"),
    ("mileage", 0, r"Mileage\s*In|Odometer(?:\s*Reading)?|Mileage|Miles|Odo", "colon"),
    # money: the grand total first, then other totals, then the distractors
    ("total", 0, r"Grand\s*Total|Total\s*(?:Amount\s*)?Due|Amount\s*Due|Balance\s*Due", "amount"),
    ("total", 1, r"Total\s*(?:Amount|Price|Sale\s*Price)|Invoice\s*Total", "amount"),
    ("total", 2, r"Total", "amount"),
    (_OTHER, 0, r"Sub\s*-?\s*Total|(?:Sales\s*|State\s*|Local\s*)?Tax(?:es)?|Labor|Parts|Doc(?:ument(?:ation)?)?"
                r"\s*Fees?|Fees?|(?:Down|Monthly)\s*Payment|Payments?|Cash\s*Price|Trade[\s-]*In(?:\s*(?:Value"
                r"|Allowance|Payoff))?|Amount\s*Financed|Payoff|Deposit|Rebate|Discount|Shop\s*Supplies"
                r"|(?:Sale|Selling|Vehicle|Unit|List)\s*Price|Price|MSRP|Amount|(?:Gross\s*|Monthly\s*|Annual\s*)?"
                r"Income|Salary|Rent|Mortgage", "amount"),
    # other labels a page prints, so their values never run into a field's
    (_OTHER, 0, r"SSN|Social\s*Security(?:" + _NUMBERED + r")?|Stock" + _NUMBERED + r"|PO" + _NUMBERED
                + r"|Part" + _NUMBERED, "optional"),
    (_OTHER, 0, r"(?:Home\s*|Street\s*|Mailing\s*|Current\s*)?Address|City|State|Zip(?:\s*Code)?|Year|Make|Model"
                r"|Trim|Colou?r|Sex|Hgt|Height|Wgt|Weight|Eyes|Hair|Class|Rstr|Restrictions|Endorsements"
                r"|Occupation|Position|Job\s*Title|Signature|Terms|Notes?|Comments?", "colon"),
]
_GENERIC_LABEL = r"[A-Za-z][A-Za-z'\u2019.-]*"  # any other "Word:" ends the value before it


def _label_pattern() -> re.Pattern[str]:
    """One pattern for all labels, tried only where a word starts; group ``gN`` is ``_LABELS[N]``."""
    parts = [f"(?P<g{i}>{body})(?![A-Za-z]){_SEPARATOR[mode]}" for i, (_, _, body, mode) in enumerate(_LABELS)]
    parts.append(f"(?P<generic>{_GENERIC_LABEL}){_SEPARATOR['colon']}")
    return re.compile(r"(?<![A-Za-z0-9'\u2019])(?=[A-Za-z])(?:" + "|".join(parts) + ")", re.IGNORECASE)


_LABEL = _label_pattern()
# AAMVA licence codes print without a colon ("LN SMITH", "DOB 05/12/1985"); they count only at the start of a row
# or right after another code's value, never inside an address ("123 MAPLE LN").
_CODES: dict[str, str] = {"LN": "_ln", "FN": "_fn", "DOB": "date_of_birth", "ISS": "date", "EXP": _OTHER,
                          "DLN": "license_number", "DL": "license_number", "CLASS": _OTHER, "SEX": _OTHER,
                          "HGT": _OTHER, "WGT": _OTHER, "EYES": _OTHER, "HAIR": _OTHER, "RSTR": _OTHER,
                          "END": _OTHER, "DD": _OTHER}
_CODE_LABEL = re.compile(r"(?<!\S)(" + "|".join(sorted(_CODES, key=len, reverse=True)) + r")(?:\s*[:;]\s*|\s+)(?=\S)",
                         re.IGNORECASE)
_ROW_PREFIX = re.compile(r"\s*(?:\d{1,2}[a-z]?\s+)?")  # an AAMVA field number ("4d DLN ...")
_GAP = re.compile(r"\s{3,}")


@dataclass(frozen=True)
class _Pair:
    """A label and its value on one line."""

    key: str
    rank: int
    value: str
    line: int
    position: int
    below: bool = False  # the value came from the next line (the label ended its row)


@dataclass(frozen=True)
class _Span:
    """Where a label sits on its line; ``code`` for a colon-less licence code."""

    start: int
    end: int
    key: str
    rank: int
    code: bool


def _spans(text: str) -> list[_Span]:
    """The labels of one line, left to right."""
    spans = []
    for match in _LABEL.finditer(text):
        group = match.lastgroup or "generic"
        key, rank = (_OTHER, 0) if group == "generic" else _LABELS[int(group[1:])][:2]
        spans.append(_Span(match.start(), match.end(), key, rank, code=False))
    row_start = _ROW_PREFIX.match(text)
    first = row_start.end() if row_start else 0
    for match in _CODE_LABEL.finditer(text):
        if any(s.start <= match.start() < s.end or match.start() <= s.start < match.end() for s in spans):
            continue
        before = [s for s in spans if s.end <= match.start()]
        if (not before and match.start() == first) or (before and before[-1].code):
            spans.append(_Span(match.start(), match.end(), _CODES[match.group(1).upper()], 0, code=True))
            spans.sort(key=lambda s: s.start)
    return spans


def _pairs(lines: Sequence[OcrLine]) -> list[_Pair]:
    """Every label's value on the page: the rest of its line up to the next label (or a wide gap), or the next
    line when the label ends its row and the next line holds no label."""
    spans = [_spans(line.text) for line in lines]
    pairs = []
    for index, (line, line_spans) in enumerate(zip(lines, spans, strict=True)):
        for n, span in enumerate(line_spans):
            end = line_spans[n + 1].start if n + 1 < len(line_spans) else len(line.text)
            value = _GAP.split(line.text[span.end:end].strip(), maxsplit=1)[0].strip()
            below = False
            if not value and n + 1 == len(line_spans) and index + 1 < len(lines) and not spans[index + 1]:
                value, below = lines[index + 1].text.strip(), True
            if value and span.key != _OTHER:
                pairs.append(_Pair(span.key, span.rank, value, index, span.start, below))
    return pairs


# --- classification ------------------------------------------------------------------------------------------

_TITLES: dict[DocumentType, str] = {
    DocumentType.REPAIR_ORDER: r"(?:SERVICE\s*)?REPA[I1l]R\s*[O0]RDER",
    DocumentType.INVOICE: r"(?:(?:SERVICE|PARTS)\s*)?[I1l]NV[O0][I1l]CE",
    DocumentType.DRIVERS_LICENSE: r"DR[I1l]VER(?:['\u2019`]?\s*S)?\s*L[I1l]CEN[CS]E",
    DocumentType.CREDIT_APPLICATION: r"CRED[I1l]T\s*APPL[I1l]CAT[I1l][O0]N"
                                     r"|APPL[I1l]CAT[I1l][O0]N\s*F[O0]R\s*CRED[I1l]T",
    DocumentType.BUYERS_ORDER: r"BUYER(?:['\u2019`]?\s*S)?\s*[O0]RDER|VEH[I1l]CLE\s*PURCHASE\s*AGREEMENT",
}
_TITLE = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join(f"(?P<{t.value}>{p})" for t, p in _TITLES.items()) + r")(?![A-Za-z])"
    r"(?![ \t]*(?:[:#;]|No\b|Number\b|Date\b|Total\b))",
    re.IGNORECASE)
_TITLE_LINES = 8  # the title is printed near the top, after at most a dealership header
_TITLE_MAX_WORDS = 8  # a longer line is a sentence that mentions the type, not a title
TITLE_WEIGHT = 3.0
MENTION_WEIGHT = 1.0
_I = re.IGNORECASE
# (type, weight, pattern, flags): each cue counts once per page.
_CUES: list[tuple[DocumentType, float, str, int]] = [
    (DocumentType.REPAIR_ORDER, 1.0, r"\b(?:R\.?O\.?|Repair\s*Order)\s*(?:#|No\b|Number\b)", _I),
    (DocumentType.REPAIR_ORDER, 0.5, r"\bTech(?:nician)?\b", _I),
    (DocumentType.REPAIR_ORDER, 0.5, r"\bLabor\b", _I),
    (DocumentType.REPAIR_ORDER, 0.5, r"\bPromised\b", _I),
    (DocumentType.REPAIR_ORDER, 0.5, r"\bMileage\s*In\b|\bOdometer\b", _I),
    (DocumentType.REPAIR_ORDER, 0.5, r"\bAdvisor\b", _I),
    (DocumentType.REPAIR_ORDER, 0.5, r"\b(?:Concern|Cause|Correction|Complaint)\b", _I),
    (DocumentType.INVOICE, 1.0, r"\bInvoice\s*(?:#|No\b|Number\b)|\bINV\s*#", _I),
    (DocumentType.INVOICE, 0.5, r"\bInvoice\s*Date\b", _I),
    (DocumentType.INVOICE, 0.5, r"\b(?:Bill|Sold|Ship)\s*To\b", _I),
    (DocumentType.INVOICE, 0.5, r"\b(?:Amount|Balance)\s*Due\b", _I),
    (DocumentType.INVOICE, 0.5, r"\b(?:Qty|Quantity|Unit\s*Price|Part\s*(?:#|No\b|Number\b))", _I),
    (DocumentType.INVOICE, 0.5, r"\b(?:Due\s*Date|Terms|Net\s*\d\d)\b", _I),
    (DocumentType.DRIVERS_LICENSE, 0.5, r"\bEXP\b", 0),
    (DocumentType.DRIVERS_LICENSE, 0.5, r"\bISS\b", 0),
    (DocumentType.DRIVERS_LICENSE, 0.5, r"^\s*(?:\d{1,2}[a-z]?\s+)?(?:LN|FN)\b", re.MULTILINE),
    (DocumentType.DRIVERS_LICENSE, 0.5, r"\bCLASS\b", 0),
    (DocumentType.DRIVERS_LICENSE, 0.5, r"\b(?:SEX|HGT|WGT|EYES|HAIR)\b", 0),
    (DocumentType.DRIVERS_LICENSE, 0.25, r"\bDOB\b", 0),
    (DocumentType.DRIVERS_LICENSE, 0.25, r"\bDLN?\b", 0),
    (DocumentType.CREDIT_APPLICATION, 1.0, r"\bSSN\b|\bSocial\s*Security\b", _I),
    (DocumentType.CREDIT_APPLICATION, 0.5, r"\bEmployer\b", _I),
    (DocumentType.CREDIT_APPLICATION, 0.5, r"\bIncome\b|\bSalary\b", _I),
    (DocumentType.CREDIT_APPLICATION, 0.5, r"\bApplicant\b", _I),
    (DocumentType.CREDIT_APPLICATION, 0.5, r"\b(?:Time|Years?)\s*(?:at|on)\s*(?:Job|Address|Residence|Employer)\b",
     _I),
    (DocumentType.CREDIT_APPLICATION, 0.5, r"\b(?:Rent|Mortgage|Housing|Occupation)\b", _I),
    (DocumentType.BUYERS_ORDER, 0.5, r"\bTrade[\s-]*In\b", _I),
    (DocumentType.BUYERS_ORDER, 0.5, r"\bDown\s*Payment\b", _I),
    (DocumentType.BUYERS_ORDER, 0.5, r"\bCash\s*Price\b", _I),
    (DocumentType.BUYERS_ORDER, 0.5, r"\bPurchaser\b", _I),
    (DocumentType.BUYERS_ORDER, 0.5, r"\bStock\s*(?:#|No\b|Number\b)", _I),
    (DocumentType.BUYERS_ORDER, 0.5, r"\bAmount\s*Financed\b|\bSales?\s*person\b|\bMSRP\b", _I),
]
_CUE_PATTERNS = [(t, w, re.compile(p, f)) for t, w, p, f in _CUES]
_FULL_CONFIDENCE_AT = 4.0  # a title and a distinctive label


def _title_line(lines: Sequence[OcrLine]) -> tuple[int, DocumentType] | None:
    """The first title near the top of the page and the type it names."""
    for index, line in enumerate(lines[:_TITLE_LINES]):
        if len(line.text.split()) > _TITLE_MAX_WORDS:
            continue
        match = _TITLE.search(line.text)
        if match is not None and match.lastgroup is not None:
            return index, DocumentType(match.lastgroup)
    return None


def _scores(lines: Sequence[OcrLine]) -> dict[DocumentType, float]:
    """Each type's evidence: its title, mentions of its title further down, and its cues."""
    scores = dict.fromkeys(_TITLES, 0.0)
    title = _title_line(lines)
    if title is not None:
        scores[title[1]] += TITLE_WEIGHT
    text = "\n".join(line.text for line in lines)
    mentioned = {DocumentType(m.lastgroup) for m in _TITLE.finditer(text) if m.lastgroup}
    for kind in mentioned - ({title[1]} if title else set()):
        scores[kind] += MENTION_WEIGHT
    for kind, weight, pattern in _CUE_PATTERNS:
        if pattern.search(text):
            scores[kind] += weight
    return scores


def classify(lines: Sequence[OcrLine]) -> tuple[DocumentType, float]:
    """The document type and a 0..1 confidence: the strength of the best type's evidence (full at a title plus
    a distinctive label), lowered when another type's evidence comes close. ``other`` when nothing points to a
    type (a car photo's plate and badge)."""
    ranked = sorted(_scores(lines).items(), key=lambda item: item[1], reverse=True)
    (best, score), (_, second) = ranked[0], ranked[1]
    if score < 1.0:
        return DocumentType.OTHER, OTHER_CONFIDENCE
    margin = (score - second) / score
    return best, round(min(1.0, score / _FULL_CONFIDENCE_AT) * (0.5 + 0.5 * margin), 4)


# --- field extraction ----------------------------------------------------------------------------------------

Parsed = tuple[Any, float] | None  # a normalised value and its validation factor


def _with_digit_fix(parse: Callable[[str], Any]) -> Callable[[str], Parsed]:
    """A parser that tries the value as printed (factor 1.0), then with letters read for digits fixed (0.9)."""
    def parsed(value: str) -> Parsed:
        result = parse(value)
        if result is not None:
            return result, 1.0
        fixed = _digit_fix(value)
        result = parse(fixed) if fixed != value else None
        return None if result is None else (result, 0.9)
    return parsed


def _parse_email(value: str) -> Parsed:
    """An e-mail address, lower case."""
    email = _normalise_email(value)
    return None if email is None else (email, 1.0)


def _parse_vin(value: str) -> Parsed:
    """A VIN from its first word, or from the whole value when OCR split it; 0.9 when O/I/Q were repaired."""
    for candidate in (_first_token(value), "".join(value.split()).replace("-", "")):
        vin = repair_vin(candidate)
        if vin is not None:
            return vin, 1.0 if vin == candidate.upper() else 0.9
    return None


def _parse_ro(value: str) -> Parsed:
    """An RO number as printed ("458213", "RO-458213"); letters read for its digits are fixed (0.9)."""
    token = _first_token(value).upper().translate(_LOOKALIKES)
    match = _RO.fullmatch(token)
    if match is None or not any(c.isdigit() for c in match.group(1)):
        return None
    number = token[:match.start(1)].replace("0", "O") + match.group(1).translate(_AS_DIGITS)
    return number, 1.0 if number == token else 0.9


def _parse_invoice(value: str) -> Parsed:
    """An invoice number as printed ("100482", "INV-20931"); letters read for its digits are fixed (0.9)."""
    token = _first_token(value).upper().translate(_LOOKALIKES)
    match = _PREFIXED_NUMBER.fullmatch(token)
    if match is not None and sum(c.isdigit() for c in match.group(2)) * 2 >= len(match.group(2)):
        prefix = f"{match.group(1)}-" if match.group(1) else ""
        number = prefix + match.group(2).translate(_AS_DIGITS)
        return number, 1.0 if number == token else 0.9
    if _CODE.fullmatch(token) and any(c.isdigit() for c in token):
        return token, 1.0
    return None


def _parse_license(value: str) -> Parsed:
    """A licence number as printed, upper case ("D4821937", "S530-4127-8865"). After its first character
    (a state's letter prefix) a body of mostly digits with O, I, Q, S, B or Z among them had digits there (0.9);
    a body that mixes in other letters (Washington's "WDLY0SR8FZR3") is kept as printed."""
    token = _first_token(value).upper().translate(_LOOKALIKES)
    if not (4 <= len(token) <= 20 and _CODE.fullmatch(token) and any(c.isdigit() for c in token)):
        return None
    body = token[1:]
    if _LICENCE_BODY.fullmatch(body) and sum(c.isdigit() for c in body) * 2 >= len(body.replace("-", "")):
        fixed = token[0] + body.translate(_AS_DIGITS)
        return fixed, 1.0 if fixed == token else 0.9
    return token, 1.0


def _parse_name(value: str) -> Parsed:
    """A person's name; a single word is likely half a name (0.7)."""
    name = _normalise_name(value)
    return None if name is None else (name, 1.0 if " " in name else 0.7)


def _parse_mileage(value: str) -> Parsed:
    """Miles as an int, sane for a car."""
    result = _with_digit_fix(_normalise_mileage)(value)
    return result if result is not None and 0 < result[0] < 2_000_000 else None


_PARSERS: dict[str, Callable[[str], Parsed]] = {
    "vin": _parse_vin,
    "ro_number": _parse_ro,
    "invoice_number": _parse_invoice,
    "customer_name": _parse_name,
    "phone": _with_digit_fix(normalise_phone),
    "email": _parse_email,
    "date": _with_digit_fix(normalise_date),
    "date_of_birth": _with_digit_fix(normalise_date),
    "mileage": _parse_mileage,
    "total": _with_digit_fix(normalise_amount),
    "license_number": _parse_license,
}
_BARE_VIN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{17}(?![A-Za-z0-9])")
UNLABELLED = 0.8  # a value found without its label, or on the line below it


def _licence_name(pairs: Sequence[_Pair], lines: Sequence[OcrLine]) -> _Pair | None:
    """The licence's "LN SMITH" and "FN JOHN" rows as one "JOHN SMITH" pair."""
    last = next((p for p in pairs if p.key == "_ln"), None)
    first = next((p for p in pairs if p.key == "_fn"), None)
    if last is None or first is None:
        return None
    line = min((last.line, first.line), key=lambda i: lines[i].confidence)
    return _Pair("customer_name", 0, f"{first.value} {last.value}", line, 0)


def extract_fields(lines: Sequence[OcrLine], document_type: DocumentType) -> tuple[DocumentFields, dict[str, float]]:
    """The fields a document of ``document_type`` carries, each from its best-ranked label whose value
    validates, and each found field's confidence. Lines above the title (the dealership's header) count only
    when the page has no such field below it."""
    wanted = FIELDS_BY_TYPE[document_type]
    pairs = _pairs(lines)
    licence = _licence_name(pairs, lines)
    if licence is not None:
        pairs.append(licence)
    title = _title_line(lines)
    top = title[0] if title else -1
    pairs.sort(key=lambda p: (p.rank, p.line < top, p.line, p.position))
    values: dict[str, Any] = {}
    confidence: dict[str, float] = {}
    for pair in pairs:
        if pair.key not in wanted or pair.key in values:
            continue
        parsed = _PARSERS[pair.key](pair.value)
        if parsed is not None:
            values[pair.key] = parsed[0]
            factor = parsed[1] * (UNLABELLED if pair.below else 1.0)
            confidence[pair.key] = round(lines[pair.line].confidence * factor, 4)
    if "vin" in wanted and "vin" not in values:
        for line in lines:
            vin = next(filter(None, (repair_vin(m.group()) for m in _BARE_VIN.finditer(line.text))), None)
            if vin is not None:
                values["vin"] = vin
                confidence["vin"] = round(line.confidence * UNLABELLED, 4)
                break
    return DocumentFields(**values), confidence


def understand(lines: Sequence[OcrLine], hint: DocumentType | None = None) -> Understanding:
    """Type, fields, confidences and PII of a page. The producer's ``hint`` wins only when the page itself is
    unsure (confidence below ``HINT_BELOW``); a page that plainly names its type keeps it."""
    document_type, type_confidence = classify(lines)
    if hint is not None and type_confidence < HINT_BELOW and hint != document_type:
        document_type, type_confidence = hint, HINT_CONFIDENCE
    fields, field_confidence = extract_fields(lines, document_type)
    pii = tuple(name for name in PII_FIELDS if getattr(fields, name) is not None)
    return Understanding(document_type, type_confidence, fields, field_confidence, pii)


__all__ = ["FIELDS_BY_TYPE", "PII_FIELDS", "OcrLine", "Understanding", "classify", "extract_fields",
           "normalise_amount", "normalise_date", "normalise_phone", "repair_vin", "understand"]
