"""Every pydantic model mirrors its Avro schema field for field, and every event round-trips through Avro."""

from __future__ import annotations

import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastavro.utils import generate_many
from pydantic import BaseModel

from schemas.codec import AvroCodec, SchemaStore
from schemas.models import EVENT_MODELS, Event

STORE = SchemaStore()
CODEC = AvroCodec(STORE)

AVRO_PRIMITIVES: dict[str, type] = {"string": str, "int": int, "long": int, "double": float, "float": float,
                                    "boolean": bool, "bytes": bytes}


def _python_type(avro: Any, annotation: Any) -> None:
    """Assert that ``annotation`` is the Python type mirroring Avro type ``avro``."""
    origin = typing.get_origin(annotation)
    if isinstance(avro, list):  # union: only ["null", X] is used
        assert avro[0] == "null" and len(avro) == 2, avro
        assert origin in (typing.Union, types.UnionType), f"{annotation} should be Optional"
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert len(args) == 1
        _python_type(avro[1], args[0])
        return
    assert origin not in (typing.Union, types.UnionType), f"{annotation} is Optional but {avro} is not nullable"
    if isinstance(avro, str):
        assert annotation is AVRO_PRIMITIVES[avro], f"{avro} mirrored as {annotation}"
        return
    logical, kind = avro.get("logicalType"), avro["type"]
    if logical == "uuid":
        assert annotation is uuid.UUID
    elif logical == "timestamp-millis":
        assert (typing.get_args(annotation) or (annotation,))[0] is datetime, annotation
    elif kind == "enum":
        assert [m.value for m in annotation] == avro["symbols"], f"enum {avro['name']} symbols differ"
    elif kind == "array":
        assert origin is list
        _python_type(avro["items"], typing.get_args(annotation)[0])
    elif kind == "map":
        assert origin is dict and typing.get_args(annotation)[0] is str
        _python_type(avro["values"], typing.get_args(annotation)[1])
    elif kind == "record":
        _record_matches(avro, annotation)
    else:
        _python_type(kind, annotation)


def _record_matches(avro: dict[str, Any], model: type[BaseModel]) -> None:
    avro_fields = {f["name"]: f for f in avro["fields"]}
    assert list(avro_fields) == list(model.model_fields), f"{avro['name']}: field names or order differ"
    for name, avro_field in avro_fields.items():
        model_field = model.model_fields[name]
        _python_type(avro_field["type"], model_field.annotation)
        has_default = "default" in avro_field
        assert has_default != model_field.is_required() or name in ("event_id", "occurred_at"), \
            f"{avro['name']}.{name}: Avro default {has_default}, model required {model_field.is_required()}"


@pytest.mark.parametrize("name", sorted(EVENT_MODELS))
def test_model_fields_match_schema(name: str) -> None:
    _record_matches(STORE.current[name].raw, EVENT_MODELS[name])


def test_every_schema_has_a_model_and_namespace_and_docs() -> None:
    assert set(STORE.current) == set(EVENT_MODELS)
    for schema in STORE.current.values():
        assert schema.raw["namespace"] == "com.auterity.streams"
        assert schema.raw["doc"]
        assert all(f.get("doc") for f in schema.raw["fields"]), f"{schema.name} has a field without a doc"
        assert [f["name"] for f in schema.raw["fields"][:4]] == ["event_id", "dealer_id", "occurred_at",
                                                                 "schema_version"]


def _as_model_input(record: dict[str, Any], name: str) -> dict[str, Any]:
    record = dict(record)
    record["dealer_id"] = record["dealer_id"] or "dealer-1"  # the model also forbids an empty tenant
    return record


@pytest.mark.parametrize("name", sorted(EVENT_MODELS))
def test_every_model_round_trips(name: str) -> None:
    """Random records generated from the schema survive model -> Avro -> model unchanged."""
    model = EVENT_MODELS[name]
    for record in generate_many(STORE.current[name].raw, 25):
        event = model.model_validate(_as_model_input(record, name))
        decoded = CODEC.decode(CODEC.encode(event), model)
        assert decoded == event
        assert model.model_validate_json(event.model_dump_json()) == event


def test_timestamps_are_utc_milliseconds() -> None:
    from schemas.models import ConversationMessage

    naive = datetime(2026, 11, 26, 9, 30, 15, 123456)
    message = ConversationMessage(dealer_id="d", session_id="s", user_id="u", text="hi", occurred_at=naive)
    assert message.occurred_at == datetime(2026, 11, 26, 9, 30, 15, 123000, tzinfo=UTC)
    assert isinstance(message, Event)
