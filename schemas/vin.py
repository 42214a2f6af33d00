"""The VIN (ISO 3779) rules every layer checks or builds VINs by: its alphabet and its check digit."""

from __future__ import annotations

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # I, O and Q are never used
VIN_VALUES: dict[str, int] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}  # fmt: skip
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)  # position 9, the check digit, weighs 0


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / 49 CFR 565 check digit (position 9) of a 17-character VIN.

    >>> vin_check_digit("1HGCM82633A004352")
    '3'
    """
    text = vin.upper()
    if len(text) != 17 or any(c not in VIN_VALUES for c in text):
        raise ValueError(f"not a 17-character VIN over [A-HJ-NPR-Z0-9]: {vin!r}")
    remainder = sum(VIN_VALUES[c] * w for c, w in zip(text, VIN_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)
