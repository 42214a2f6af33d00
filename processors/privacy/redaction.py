"""Reversible redaction: personal data is swapped for placeholders such as ``[EMAIL_1]`` before text reaches an LLM,
and the real values are put back into what the LLM answers, so the dealer sees them and the model never does."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from processors.privacy.detection import PiiMatch, PiiType, candidates, resolve

T = TypeVar("T")

ALL_TYPES = frozenset(PiiType)

# A placeholder as an LLM may echo it: any case, brackets kept or dropped ("[EMAIL_1]", "email_1", "[Email_1").
# Numbers whose placeholder already appears in the input this way are skipped, so restoring never touches the
# dealer's own text.
_PLACEHOLDER = re.compile(r"\[?\b(" + "|".join(sorted((t.name for t in PiiType), key=len, reverse=True))
                          + r")_(\d{1,6})\b\]?", re.I)


@dataclass(frozen=True)
class PrivacyPolicy:
    """A dealer's choice of what never reaches an LLM: the types redacted before every call.

    Types may be given by value, as they arrive from configuration: ``PrivacyPolicy(frozenset({"email"}))``.
    """

    redact: frozenset[PiiType] = ALL_TYPES
    enabled: bool = True

    def __post_init__(self) -> None:
        try:
            types = frozenset(PiiType(t) for t in self.redact)
        except ValueError as exc:
            valid = ", ".join(t.value for t in PiiType)
            raise ValueError(f"unknown personal data type in privacy policy: {exc}; valid types: {valid}") from None
        object.__setattr__(self, "redact", types)


DEFAULT_POLICY = PrivacyPolicy()


@dataclass(frozen=True, repr=False)
class Redaction:
    """Redacted text and the way back.

    ``placeholders`` maps each placeholder to the value it stands for. It lives in memory only: ``repr`` and
    ``str`` show the placeholders but never the values, so a Redaction is safe to log.
    """

    text: str
    placeholders: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    types_seen: frozenset[PiiType] = frozenset()  # everything detected, redacted or not
    redacted: bool = False  # at least one value was replaced

    def restore(self, text: str) -> str:
        """``text`` with every placeholder replaced by its original value; exact placeholders, and the ones an
        LLM changed in case or stripped of brackets, inside prose or JSON strings alike.

        >>> r = redact("Email jane@example.com")
        >>> r.text, r.restore('{"to": "[EMAIL_1]"}')
        ('Email [EMAIL_1]', '{"to": "jane@example.com"}')
        """
        if not self.placeholders:
            return text
        return _PLACEHOLDER.sub(self._original, text)

    def _original(self, m: re.Match[str]) -> str:
        return self.placeholders.get(_placeholder(m[1], int(m[2])), m[0])

    def __repr__(self) -> str:
        types = sorted(t.value for t in self.types_seen)
        return (f"Redaction(text={self.text!r}, placeholders={sorted(self.placeholders)!r}, types_seen={types!r}, "
                f"redacted={self.redacted!r})")


def redact(text: str, policy: PrivacyPolicy = DEFAULT_POLICY) -> Redaction:
    """Replace the personal data that ``policy`` covers with placeholders; the same value gets the same one.

    >>> r = redact("Call (555) 123-4567 or (555) 123-4567, VIN 1HGCM82633A004352")
    >>> r.text
    'Call [PHONE_1] or [PHONE_1], VIN 1HGCM82633A004352'
    """
    found = candidates(text)
    seen = resolve(found)
    types_seen = {m.type for m in seen}
    if not policy.enabled:
        return Redaction(text, MappingProxyType({}), frozenset(types_seen), False)
    covered = found if all(m.type in policy.redact for m in found) else [m for m in found
                                                                           if m.type in policy.redact]
    chosen = seen if covered is found else resolve(covered)
    types_seen.update(m.type for m in chosen)
    if not chosen:
        return Redaction(text, MappingProxyType({}), frozenset(types_seen), False)
    redacted_text, originals = _substitute(text, chosen)
    return Redaction(redacted_text, MappingProxyType(originals), frozenset(types_seen), True)


def _substitute(text: str, matches: Iterable[PiiMatch]) -> tuple[str, dict[str, str]]:
    taken = {(m[1].upper(), int(m[2])) for m in _PLACEHOLDER.finditer(text)} if "_" in text else set()
    numbers: dict[PiiType, int] = {}
    by_value: dict[tuple[PiiType, str], str] = {}
    originals: dict[str, str] = {}
    pieces: list[str] = []
    cursor = 0
    for match in matches:
        value = text[match.start:match.end]
        placeholder = by_value.get((match.type, value))
        if placeholder is None:
            number = numbers.get(match.type, 0) + 1
            while (match.type.name, number) in taken:
                number += 1
            numbers[match.type] = number
            placeholder = by_value[match.type, value] = _placeholder(match.type.name, number)
            originals[placeholder] = value
        pieces += (text[cursor:match.start], placeholder)
        cursor = match.end
    pieces.append(text[cursor:])
    return "".join(pieces), originals


def _placeholder(type_name: str, number: int) -> str:
    return f"[{type_name.upper()}_{number}]"


def restore_obj(obj: T, redaction: Redaction) -> T:
    """``obj`` with placeholders restored in every string inside it: keys and values of dicts, items of lists and
    tuples, the fields of a pydantic model (validated again), such as an LLM's parsed JSON answer."""
    return cast(T, _restore_any(obj, redaction))


def _restore_any(obj: Any, redaction: Redaction) -> Any:
    if isinstance(obj, str):
        return redaction.restore(obj)
    if isinstance(obj, BaseModel):
        return type(obj).model_validate(_restore_any(obj.model_dump(), redaction))
    if isinstance(obj, Mapping):
        return {_restore_any(k, redaction): _restore_any(v, redaction) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore_any(item, redaction) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_restore_any(item, redaction) for item in obj)
    return obj
