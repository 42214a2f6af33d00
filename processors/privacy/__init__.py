"""Personal data out before any LLM call, back in after: detection by rules and checksums, reversible redaction
with placeholders, and the dealer's policy of which types are redacted.

Choices a dealership should know about:

- A bare VIN is vehicle data and stays in clear text, because service workflows need it. It is redacted only when
  the same sentence ties it to its owner (a name or street address, or an owner cue such as "owned by"), and then
  the owner's name and address are reported as ``vin_owner``.
- A licence plate is treated like a bare VIN (vehicle data) and is not redacted; "license plate" is no
  driver's-licence cue.
- Person names are found only after explicit cues ("my name is", "Customer name:", "Mr./Mrs./Ms./Dr.",
  "owned by", "customer"), never from capitalisation alone, and makes and models ("Honda Civic") are no names.

>>> r = redact("VIN 1HGCM82633A004352 owned by John Smith, 12 Oak St, Dayton OH")
>>> r.text
'VIN [VIN_1] owned by [VIN_OWNER_1], [VIN_OWNER_2]'
>>> r.restore("[VIN_OWNER_1] owns [VIN_1]")
'John Smith owns 1HGCM82633A004352'
"""

from __future__ import annotations

from processors.privacy.detection import PiiMatch, PiiType, detect, is_vin, luhn_valid
from processors.privacy.redaction import ALL_TYPES, DEFAULT_POLICY, PrivacyPolicy, Redaction, redact, restore_obj

__all__ = [
    "ALL_TYPES",
    "DEFAULT_POLICY",
    "PiiMatch",
    "PiiType",
    "PrivacyPolicy",
    "Redaction",
    "detect",
    "is_vin",
    "luhn_valid",
    "redact",
    "restore_obj",
]
