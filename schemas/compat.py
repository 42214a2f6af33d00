"""Backward-compatibility check: can a reader on the new schema read everything the old schema wrote?

Data-driven: random records written with the old schema (every union branch and enum symbol gets drawn
with enough samples) must resolve against the new one. fastavro reports what breaks.
"""

from __future__ import annotations

import io
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.utils import generate_many


def backward_incompatibilities(old: dict[str, Any], new: dict[str, Any], samples: int = 200) -> list[str]:
    """Problems found reading old-schema data with the new schema; empty means compatible."""
    writer, reader = parse_schema(old), parse_schema(new)
    problems: set[str] = set()
    for record in generate_many(old, samples):
        out = io.BytesIO()
        schemaless_writer(out, writer, record)
        out.seek(0)
        try:
            schemaless_reader(out, writer, reader)
        except (SchemaResolutionError, ValueError, KeyError) as exc:
            problems.add(f"{type(exc).__name__}: {exc}")
    return sorted(problems)
