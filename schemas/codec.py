"""Avro codec for every event: single-object encoding by default, Confluent wire format with a registry.

Single-object encoding (Avro spec): ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema's canonical form + the Avro body. With a schema registry configured the codec writes the Confluent
framing instead: ``00`` + 4-byte big-endian schema id + body. The decoder reads both and resolves any known
older writer schema (``schemas/history``) against the current reader schema, so old events stay readable.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import ValidationError

from schemas.errors import InvalidEvent, UndecodableEvent
from schemas.models import EVENT_MODELS, Event

SCHEMA_DIR = Path(__file__).parent / "avro"
HISTORY_DIR = Path(__file__).parent / "history"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0
CONTENT_TYPE = "application/vnd.auterity.avro"

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class AvroSchema:
    """One version of one event schema, parsed once."""

    name: str
    raw: dict[str, Any]

    @cached_property
    def parsed(self) -> Any:
        return parse_schema(self.raw)

    @cached_property
    def uuid_fields(self) -> tuple[str, ...]:
        """Top-level fields of logical type uuid (the envelope's ids)."""
        if not isinstance(self.raw, dict):
            return ()
        return tuple(f["name"] for f in self.raw.get("fields", ())
                     if any(isinstance(t, dict) and t.get("logicalType") == "uuid"
                            for t in (f["type"] if isinstance(f["type"], list) else [f["type"]])))

    @cached_property
    def wire(self) -> Any:
        """The parsed schema the codec reads and writes with: top-level uuids as plain strings.

        The bytes are identical (an Avro uuid is a string, and the canonical form has no logical types);
        pydantic parses and prints UUIDs in its core, cheaper than fastavro's per-value conversion.
        """
        if not self.uuid_fields:
            return self.parsed
        raw = dict(self.raw)
        raw["fields"] = [{**f, "type": _without_uuid(f["type"])} if f["name"] in self.uuid_fields else f
                         for f in raw["fields"]]
        return parse_schema(raw)

    @cached_property
    def single_object_header(self) -> bytes:
        return SINGLE_OBJECT_MAGIC + self.fingerprint

    @cached_property
    def canonical(self) -> str:
        return to_parsing_canonical_form(self.parsed)

    @cached_property
    def fingerprint(self) -> bytes:
        """The 8 CRC-64-AVRO bytes, in the little-endian order single-object encoding uses."""
        return bytes.fromhex(fingerprint(self.canonical, "CRC-64-AVRO"))

    @classmethod
    def load(cls, path: Path) -> AvroSchema:
        raw = json.loads(path.read_text())
        return cls(name=raw["name"], raw=raw)


def _without_uuid(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        return [_without_uuid(t) for t in avro_type]
    if isinstance(avro_type, dict) and avro_type.get("logicalType") == "uuid":
        return "string"
    return avro_type


class SchemaStore:
    """The current schema of every event type plus every released older version, indexed by fingerprint."""

    def __init__(self, schema_dir: Path = SCHEMA_DIR, history_dir: Path = HISTORY_DIR) -> None:
        self.current: dict[str, AvroSchema] = {
            s.name: s for s in map(AvroSchema.load, sorted(schema_dir.glob("*.avsc")))
        }
        self.history: dict[str, list[AvroSchema]] = {}
        for path in sorted(history_dir.glob("*/v*.avsc"), key=lambda p: (p.parent.name, int(p.stem[1:]))):
            self.history.setdefault(path.parent.name, []).append(AvroSchema.load(path))
        self._by_fingerprint: dict[bytes, AvroSchema] = {}
        for schema in [*self.current.values(), *(s for versions in self.history.values() for s in versions)]:
            self._by_fingerprint[schema.fingerprint] = schema

    def add_writer_schema(self, schema: AvroSchema) -> None:
        """Make an extra writer schema (e.g. fetched from a registry) resolvable."""
        self._by_fingerprint[schema.fingerprint] = schema

    def by_fingerprint(self, fp: bytes) -> AvroSchema:
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UndecodableEvent(f"unknown schema fingerprint {fp.hex()}; "
                                   "is the producer newer than this worker?") from None

    def reader_for(self, writer: AvroSchema) -> AvroSchema:
        try:
            return self.current[writer.name]
        except KeyError:
            raise UndecodableEvent(f"no current schema for event type {writer.name!r}") from None


class SchemaRegistryClient:
    """Minimal Confluent Schema Registry REST client: register a schema, fetch one by id (both cached).

    Subjects follow the RecordNameStrategy (the record's full name), so one event type has one subject
    whichever topic it travels on.
    """

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), auth=auth, timeout=timeout, transport=transport)
        self._ids: dict[bytes, int] = {}
        self._schemas: dict[int, AvroSchema] = {}

    def register(self, schema: AvroSchema) -> int:
        if schema.fingerprint not in self._ids:
            subject = f"{schema.raw.get('namespace', '')}.{schema.name}".lstrip(".")
            response = self._http.post(f"/subjects/{subject}/versions",
                                       json={"schema": json.dumps(schema.raw)},
                                       headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
            response.raise_for_status()
            schema_id = int(response.json()["id"])
            self._ids[schema.fingerprint] = schema_id
            self._schemas[schema_id] = schema
        return self._ids[schema.fingerprint]

    def schema(self, schema_id: int) -> AvroSchema:
        if schema_id not in self._schemas:
            response = self._http.get(f"/schemas/ids/{schema_id}")
            if response.status_code == 404:
                raise UndecodableEvent(f"schema id {schema_id} is not in the schema registry")
            response.raise_for_status()
            raw = json.loads(response.json()["schema"])
            self._schemas[schema_id] = AvroSchema(name=raw["name"], raw=raw)
        return self._schemas[schema_id]


class AvroCodec:
    """Encodes events to bytes and decodes bytes back to validated events."""

    def __init__(self, store: SchemaStore | None = None, registry: SchemaRegistryClient | None = None) -> None:
        self.store = store or SchemaStore()
        self.registry = registry
        self._schema_ids: dict[type[Event], str] = {}

    def schema_of(self, event_type: type[Event]) -> AvroSchema:
        return self.store.current[event_type.schema_name]

    def schema_id(self, event_type: type[Event]) -> str:
        """Value for the ``schema-id`` header: the registry id, or the name and fingerprint."""
        if event_type not in self._schema_ids:
            schema = self.schema_of(event_type)
            self._schema_ids[event_type] = (str(self.registry.register(schema)) if self.registry is not None
                                            else f"{schema.name}@{schema.fingerprint.hex()}")
        return self._schema_ids[event_type]

    def encode(self, event: Event) -> bytes:
        schema = self.schema_of(type(event))
        if self.registry is not None:
            out = io.BytesIO(struct.pack(">bI", CONFLUENT_MAGIC, self.registry.register(schema)))
        else:
            out = io.BytesIO(schema.single_object_header)
        out.seek(0, io.SEEK_END)
        record = event.model_dump()
        for name in schema.uuid_fields:
            if record[name] is not None:
                record[name] = str(record[name])
        schemaless_writer(out, schema.wire, record)
        return out.getvalue()

    def decode_record(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Bytes -> (event type name, Avro record resolved to the current schema)."""
        if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
            writer = self.store.by_fingerprint(data[2:10])
            body = data[10:]
        elif data[:1] == b"\x00" and len(data) >= 5:
            if self.registry is None:
                raise UndecodableEvent("Confluent-framed event but no schema registry is configured "
                                       "(set AUTERITY_SCHEMA_REGISTRY_URL)")
            writer = self.registry.schema(struct.unpack(">I", data[1:5])[0])
            body = data[5:]
        else:
            raise UndecodableEvent(f"not an Avro event: starts with {data[:4].hex() or 'nothing'}; expected "
                                   "single-object encoding (c301) or Confluent framing (00)")
        reader = self.store.reader_for(writer)
        try:
            record = schemaless_reader(io.BytesIO(body), writer.wire, reader.wire)
        except (EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, struct.error) as exc:
            raise UndecodableEvent(f"corrupt {writer.name} body: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise UndecodableEvent(f"{writer.name} body is not a record")
        return reader.name, record

    def decode(self, data: bytes, expected: type[E] | None = None) -> E:
        """Bytes -> validated event; with ``expected`` the event must be of that type."""
        name, record = self.decode_record(data)
        if expected is not None and name != expected.schema_name:
            raise InvalidEvent(f"expected a {expected.schema_name} event, got {name}")
        model = expected or EVENT_MODELS[name]
        try:
            return model.model_validate(record)  # type: ignore[return-value]
        except ValidationError as exc:
            raise InvalidEvent(f"{name} breaks the contract: {_first_errors(exc)}") from exc


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    """A short, field-named summary an integrator can act on."""
    parts = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
