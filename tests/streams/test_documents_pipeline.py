"""documents.received -> documents.analyzed in a real worker on the real broker, with the real PaddleOCR models:
inline and blob documents, bad input, the PII audit, metrics, chat flowing while pages are OCRed, and the
one-shot `auterity ocr`."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from schemas.codec import AvroCodec
from schemas.models import (
    AIAuditEvent,
    AIOperationMetric,
    ConversationMessage,
    DeadLetter,
    DocumentAnalysis,
    Event,
    RequirementAnalysis,
)
from streams.pipelines.documents import received_document
from tests.conftest import ROOT, Namespace
from tests.documents_corpus import car_photo, document, multipage_tiff, render
from tests.kafka_helpers import collect, publish

CODEC = AvroCodec()
DEALER = "dealer-riverside-ford"
KEY_FIELDS = ("vin", "ro_number", "invoice_number", "total", "customer_name", "date")


def decoded(records: list[Any], topic: str) -> list[Any]:
    return [CODEC.decode(r.value) for r in records if r.topic == topic]


def test_documents_inline_and_through_the_blob_store(namespace: Namespace, start_worker: Any, tmp_path: Path) -> None:
    settings = namespace.settings(blob_store=str(tmp_path / "blobs"))
    topics = settings.topics
    start_worker(AUTERITY_BLOB_STORE=settings.blob_store)
    ro, licence, invoice = (document("repair_order", 0), document("drivers_license", 1), document("invoice", 5))
    notes = render(["Technician notes", "Customer declined the alignment; recheck tyres at next visit."])
    scan = multipage_tiff([invoice, dataclasses.replace(invoice, image=notes)])  # a noisy scan: 4 MB
    events = {
        "ro": received_document(settings, ro.encode("png"), document_id="RO-1", dealer_id=DEALER,
                                filename="ro.png", source="scanner"),
        "licence": received_document(settings, licence.encode("jpeg"), document_id="DL-1", dealer_id=DEALER,
                                     filename="licence.jpg", source="scanner"),
        "invoice": received_document(settings, scan, document_id="INV-1", dealer_id=DEALER, filename="inv.tiff"),
        "corrupt": received_document(settings, b"\x89PNG\r\n\x1a\n" + b"\x00" * 900, document_id="BAD-1",
                                     dealer_id=DEALER, filename="bad.png"),
        "car": received_document(settings, car_photo(), document_id="CAR-1", dealer_id=DEALER, filename="car.jpg"),
    }
    tampered = received_document(settings, ro.encode("png"), document_id="TAMPERED", dealer_id=DEALER,
                                 filename="ro.png")
    tampered.sha256 = "f" * 64
    assert events["ro"].content is not None and events["licence"].content_type == "image/jpeg"
    stored = events["invoice"]
    assert stored.content is None and stored.blob_uri and stored.size_bytes > 512 * 1024
    publish(settings, topics.documents_received, [*events.values(), tampered])

    wanted = [topics.documents_analyzed, topics.metrics_events, topics.audit_events, topics.documents_received + ".dlq"]
    records = collect(settings, wanted, until=lambda rs: sum(r.topic == topics.documents_analyzed for r in rs) >= 5
                      and any(r.topic.endswith(".dlq") for r in rs), timeout_s=180, settle_s=1.0)
    results: dict[str, DocumentAnalysis] = {r.document_id: r for r in decoded(records, topics.documents_analyzed)}
    assert set(results) == {"RO-1", "DL-1", "INV-1", "BAD-1", "CAR-1"}
    for doc_id, truth in (("RO-1", ro), ("DL-1", licence), ("INV-1", invoice)):
        result = results[doc_id]
        assert result.error is None and result.processor == "ocr.documents" and result.engine == "paddle"
        assert result.document_type is not None and result.document_type.value == truth.document_type
        expected = {k: v for k, v in truth.fields.items() if v is not None and k in KEY_FIELDS}
        assert {k: getattr(result.fields, k) for k in expected} == expected
        assert all(0 < result.field_confidence[k] <= 1 for k in expected)
    assert results["DL-1"].fields.license_number == licence.fields["license_number"]
    assert results["DL-1"].fields.date_of_birth == licence.fields["date_of_birth"]
    assert results["INV-1"].pages == 2 and "Technician notes" in results["INV-1"].text
    assert results["BAD-1"].error and "not a readable image" in results["BAD-1"].error
    assert results["CAR-1"].error and results["CAR-1"].error.startswith("no document text found")

    [letter] = decoded(records, topics.documents_received + ".dlq")
    assert isinstance(letter, DeadLetter) and letter.error_class == "InvalidEvent"
    assert "checksum mismatch" in letter.error_message

    audits = {a.source_event_id: a for a in decoded(records, topics.audit_events) if isinstance(a, AIAuditEvent)}
    assert set(audits[events["licence"].event_id].data_types_seen) >= {"license_number", "date_of_birth"}
    assert audits[events["licence"].event_id].actor == "scanner"
    assert "license_number" not in audits[events["ro"].event_id].data_types_seen

    metrics = {m.source_event_id: m for m in decoded(records, topics.metrics_events)}
    assert all(isinstance(m, AIOperationMetric) for m in metrics.values())
    ok = metrics[events["ro"].event_id]
    assert ok.success and ok.operation_type == "ocr" and ok.provider == "paddle"
    assert ok.model == "PP-OCRv6_small_det+PP-OCRv6_small_rec" and ok.latency_ms > 0
    assert not metrics[events["corrupt"].event_id].success
    assert metrics[events["corrupt"].event_id].error_class == "DocumentError"
    assert metrics[events["car"].event_id].error_class == "NotADocument"


def test_chat_flows_while_a_batch_of_documents_is_ocred(namespace: Namespace, start_worker: Any) -> None:
    settings = namespace.settings()
    topics = settings.topics
    start_worker()

    def chats(n: int, tag: str) -> list[ConversationMessage]:
        return [ConversationMessage(dealer_id=DEALER, session_id=f"{tag}-{i}", user_id="staff-1",
                                    text="Text service customers before their oil change") for i in range(n)]

    def scans(n: int, tag: str) -> list[Any]:
        return [received_document(settings, document("repair_order", i).encode("png"), document_id=f"{tag}-{i}",
                                  dealer_id=DEALER, filename="ro.png") for i in range(n)]

    # Warm up: both pipelines have joined their groups and the OCR models are loaded.
    publish(settings, topics.documents_received, scans(1, "warm-up"))
    publish(settings, topics.conversations_messages, chats(1, "warm-up"))
    collect(settings, [topics.documents_analyzed, topics.conversations_analyzed],
            until=lambda rs: {r.topic for r in rs} == {topics.documents_analyzed, topics.conversations_analyzed},
            timeout_s=120)

    batch = scans(8, "batch")  # about a second of OCR each on two cores
    publish(settings, topics.documents_received, batch)
    time.sleep(1.0)  # the worker is now reading pages
    publish(settings, topics.conversations_messages, chats(20, "during"))
    records = collect(settings, [topics.documents_analyzed, topics.conversations_analyzed],
                      until=lambda rs: sum(r.topic == topics.documents_analyzed for r in rs) >= 8, timeout_s=180)
    documents = [r for r in records if r.topic == topics.documents_analyzed]

    def answered_during(record: Any) -> bool:
        analysis: Event = CODEC.decode(record.value)
        return isinstance(analysis, RequirementAnalysis) and analysis.session_id.startswith("during")

    during = [r for r in records if r.topic == topics.conversations_analyzed and answered_during(r)]
    assert len(during) == 20 and all(CODEC.decode(r.value).error is None for r in documents)
    # Every chat was answered while documents of the batch were still being read.
    assert max(r.timestamp for r in during) < max(r.timestamp for r in documents) - 1000


def test_ocr_cli_prints_the_document_analysis(tmp_path: Path) -> None:
    ro = document("repair_order", 1)
    scan = tmp_path / "ro-1.png"
    scan.write_bytes(ro.encode("png"))
    for engine in ("paddle", "tesseract"):
        out = subprocess.run([sys.executable, "-m", "streams.cli", "ocr", str(scan), "--engine", engine, "--json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["document_type"] == "repair_order" and result["engine"] == engine
        fields = result["fields"]
        assert fields["ro_number"] == ro.fields["ro_number"] and fields["total"] == ro.fields["total"]
        if engine == "paddle":  # Tesseract reads this VIN with an extra character (see README "Documents")
            assert fields["vin"] == ro.fields["vin"]
    bad = tmp_path / "empty.pdf"
    bad.write_bytes(b"")
    out = subprocess.run([sys.executable, "-m", "streams.cli", "ocr", str(bad), "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and json.loads(out.stdout)["error"] == "the document is empty (0 bytes)"
