"""The codec: Avro single-object encoding by default, Confluent framing with a registry, old writers resolved."""

from __future__ import annotations

import copy
import io
import json
import struct
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastavro import parse_schema, schemaless_writer

from schemas.codec import AvroCodec, AvroSchema, SchemaRegistryClient, SchemaStore
from schemas.compat import backward_incompatibilities
from schemas.errors import InvalidEvent, UndecodableEvent
from schemas.models import AIOperationMetric, CallRecorded, ConversationMessage

STORE = SchemaStore()


def message() -> ConversationMessage:
    return ConversationMessage(dealer_id="dealer-1", session_id="s-1", user_id="u-7",
                               text="Remind service customers 30 days before their oil change")


def test_single_object_encoding_header() -> None:
    data = AvroCodec(STORE).encode(message())
    schema = STORE.current["ConversationMessage"]
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == schema.fingerprint


def test_fingerprint_is_crc64_avro_little_endian() -> None:
    # The Avro specification's test vector: CRC-64-AVRO of the schema "int" is 8247732601305521295.
    assert AvroSchema(name="int", raw="int").fingerprint == (8247732601305521295).to_bytes(8, "little")  # type: ignore[arg-type]


def test_decode_garbage_and_truncated_bytes_raise_undecodable() -> None:
    codec = AvroCodec(STORE)
    with pytest.raises(UndecodableEvent, match="not an Avro event"):
        codec.decode(b"%PDF-1.7 hello")
    with pytest.raises(UndecodableEvent, match="unknown schema fingerprint"):
        codec.decode(b"\xc3\x01" + b"\x00" * 8 + b"body")
    with pytest.raises(UndecodableEvent, match="corrupt ConversationMessage"):
        codec.decode(codec.encode(message())[:20])


def test_decode_wrong_type_and_contract_violation_raise_invalid() -> None:
    codec = AvroCodec(STORE)
    with pytest.raises(InvalidEvent, match="expected a CallRecorded event, got ConversationMessage"):
        codec.decode(codec.encode(message()), CallRecorded)
    empty_tenant = message().model_copy(update={"dealer_id": ""})  # model_copy skips validation
    with pytest.raises(InvalidEvent, match="dealer_id"):
        codec.decode(codec.encode(empty_tenant), ConversationMessage)


def _older_metric_schema() -> dict[str, Any]:
    """AIOperationMetric as an older producer wrote it, before token output and cost were recorded."""
    raw = copy.deepcopy(STORE.current["AIOperationMetric"].raw)
    raw["fields"] = [f for f in raw["fields"] if f["name"] not in ("cost_usd", "output_tokens")]
    return raw


def test_older_writer_schema_resolves_against_current_reader(tmp_path: Any) -> None:
    old = _older_metric_schema()
    history = tmp_path / "history" / "AIOperationMetric"
    history.mkdir(parents=True)
    (history / "v1.avsc").write_text(json.dumps(old))
    store = SchemaStore(history_dir=tmp_path / "history")
    record = {"event_id": str(uuid.uuid4()), "dealer_id": "dealer-1", "occurred_at": datetime.now(UTC),
              "schema_version": 1, "source_event_id": str(uuid.uuid4()), "processor": "nlp",
              "operation_type": "requirement_analysis", "pipeline": "requirements", "model": "gpt-4o-mini",
              "provider": "openai", "input_tokens": 120, "latency_ms": 840.0, "success": True, "error_class": None}
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(old), record)
    data = b"\xc3\x01" + AvroSchema("AIOperationMetric", old).fingerprint + body.getvalue()
    metric = AvroCodec(store).decode(data, AIOperationMetric)
    assert metric.input_tokens == 120
    assert metric.output_tokens == 0 and metric.cost_usd == 0.0  # the current schema's defaults


class FakeSchemaRegistry:
    """Stands in for a Confluent Schema Registry (a separate JVM service that cannot run here): the two REST
    calls the codec makes, served in-process through httpx.MockTransport."""

    def __init__(self) -> None:
        self.schemas: list[str] = []
        self.requests: list[str] = []

    def client(self) -> SchemaRegistryClient:
        return SchemaRegistryClient("http://registry", transport=httpx.MockTransport(self.handler))

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.method == "POST" and request.url.path.startswith("/subjects/"):
            schema = json.loads(request.content)["schema"]
            if schema not in self.schemas:
                self.schemas.append(schema)
            return httpx.Response(200, json={"id": self.schemas.index(schema) + 1})
        if request.method == "GET" and request.url.path.startswith("/schemas/ids/"):
            schema_id = int(request.url.path.rsplit("/", 1)[1])
            if 0 < schema_id <= len(self.schemas):
                return httpx.Response(200, json={"schema": self.schemas[schema_id - 1]})
            return httpx.Response(404, json={"error_code": 40403, "message": "Schema not found"})
        return httpx.Response(404)


def test_confluent_wire_format_with_registry() -> None:
    fake = FakeSchemaRegistry()
    producer_side = AvroCodec(STORE, fake.client())
    original = message()
    data = producer_side.encode(original)
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == 1
    assert fake.requests == ["POST /subjects/com.auterity.streams.ConversationMessage/versions"]
    # A consumer with its own client fetches the writer schema by id, once.
    consumer_side = AvroCodec(STORE, fake.client())
    assert consumer_side.decode(data) == original
    assert consumer_side.decode(data) == original  # the second decode uses the cached schema
    assert fake.requests.count("GET /schemas/ids/1") == 1
    # The Confluent-configured decoder still reads single-object events (mixed topics during a migration).
    assert consumer_side.decode(AvroCodec(STORE).encode(message())).text == message().text
    with pytest.raises(UndecodableEvent, match="schema id 9 is not in the schema registry"):
        consumer_side.decode(b"\x00" + struct.pack(">I", 9) + data[5:])


def test_confluent_framing_without_registry_says_what_to_set() -> None:
    with pytest.raises(UndecodableEvent, match="AUTERITY_SCHEMA_REGISTRY_URL"):
        AvroCodec(STORE).decode(b"\x00\x00\x00\x00\x01rest")


@pytest.mark.parametrize("name", sorted(STORE.current))
def test_schema_is_backward_compatible_with_its_last_release(name: str) -> None:
    released = STORE.history.get(name)
    assert released, f"{name} has no released version in schemas/history/{name}/"
    assert backward_incompatibilities(released[-1].raw, STORE.current[name].raw) == []


def test_compatibility_check_catches_a_breaking_change() -> None:
    old = STORE.current["ConversationMessage"].raw
    breaking = copy.deepcopy(old)
    breaking["fields"].append({"name": "channel", "type": "string", "doc": "added without a default"})
    assert any("channel" in problem for problem in backward_incompatibilities(old, breaking))
    fine = copy.deepcopy(old)
    fine["fields"].append({"name": "channel", "type": "string", "doc": "with a default", "default": "chat"})
    assert backward_incompatibilities(old, fine) == []
