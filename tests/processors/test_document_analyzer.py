"""The documents processor with the real engines: every page read, fields checked, PII audited, bad input
answered with a clear error (never a crash), and the fallback engine used only when the first is unsure."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from connectors.blobstore import BlobRejected, LocalBlobStore
from processors.ocr import DocumentAnalyzer, FallbackOcr, Limits, load_engine
from processors.ocr.analyzer import TEXT_LAYER
from schemas.errors import InvalidEvent
from schemas.models import AIAuditEvent, DocumentAnalysis, DocumentReceived, DocumentType
from tests.documents_corpus import car_photo, document, multipage_pdf
from tests.processors.test_ocr_pages import encoded, page, text_pdf

MODELS = str(Path(__file__).resolve().parents[2] / "var" / "models")


@pytest.fixture(scope="module")
def analyzer() -> DocumentAnalyzer:
    return DocumentAnalyzer(partial(load_engine, "paddle", MODELS, True))


def received(data: bytes, **fields: object) -> DocumentReceived:
    return DocumentReceived(dealer_id="dealer-riverside-ford", document_id="doc-1", filename="scan",
                            content_type="application/octet-stream", content=data,
                            sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), **fields)


def analysis_of(analyzer: DocumentAnalyzer, event: DocumentReceived) -> tuple[DocumentAnalysis, str | None]:
    outcome = analyzer.process(event)
    [result] = outcome.results
    assert isinstance(result, DocumentAnalysis)
    return result, outcome.error_class


def test_a_licence_photo_gives_its_fields_and_an_audit_marking_the_pii(analyzer: DocumentAnalyzer) -> None:
    licence = document("drivers_license", 0)
    outcome = analyzer.process(received(licence.encode("jpeg"), source="dms-export"))
    [result], [audit] = outcome.results, outcome.extra
    assert isinstance(result, DocumentAnalysis) and isinstance(audit, AIAuditEvent)
    assert result.document_type == DocumentType.DRIVERS_LICENSE and result.error is None
    assert result.fields.license_number == licence.fields["license_number"]
    assert result.fields.date_of_birth == licence.fields["date_of_birth"]
    assert result.fields.customer_name == licence.fields["customer_name"]
    assert set(audit.data_types_seen) == {"license_number", "date_of_birth"} and audit.actor == "dms-export"
    assert outcome.usage.provider == "paddle" and result.engine == "paddle" and result.pages == 1


def test_a_pdf_text_layer_is_read_without_ocr(analyzer: DocumentAnalyzer) -> None:
    rows = ["SERVICE REPAIR ORDER", "RO #: 458213", "VIN: 1HGCM82633A004352", "Customer: Maria Gonzalez",
            "Phone: (415) 555-0134", "Date: 03/14/2026", "Subtotal: $1,102.50", "Total Due: $1,193.46"]
    result, error = analysis_of(analyzer, received(text_pdf(rows)))
    assert error is None and result.engine == TEXT_LAYER and result.mean_confidence == 1.0
    assert result.document_type == DocumentType.REPAIR_ORDER
    assert (result.fields.ro_number, result.fields.vin, result.fields.total) == ("458213", "1HGCM82633A004352",
                                                                                 "1193.46")
    assert (result.fields.phone, result.fields.date) == ("+14155550134", "2026-03-14")


def test_every_page_of_a_scanned_pdf_is_read(analyzer: DocumentAnalyzer) -> None:
    order = document("buyers_order", 0)
    result, _ = analysis_of(analyzer, received(multipage_pdf([order, document("buyers_order", 1)])))
    assert result.pages == 2 and result.document_type == DocumentType.BUYERS_ORDER
    assert result.fields.vin == order.fields["vin"]  # the first page's values win
    assert result.text.count("BUYER") >= 2 or result.text.count("PURCHASE") >= 2


@pytest.mark.parametrize(("make", "error_class", "reason"), [
    (lambda: b"", "DocumentError", "the document is empty (0 bytes)"),
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "DocumentError", "not a readable image or PDF"),
    (lambda: text_pdf([], pages=0), "DocumentError", "not a readable PDF (damaged, encrypted or without pages)"),
    (lambda: text_pdf(["CONTRACT PAGE"], pages=60), "DocumentError", "the PDF has 60 pages; the limit is 50"),
    (lambda: encoded(Image.new("L", (8000, 5000), 255), "PNG"), "DocumentError",
     "page 1 is 8000 x 5000 px (40.0 MP)"),
    (car_photo, "NotADocument", "no document text found"),
    (lambda: encoded(page([]), "PNG"), "NotADocument", "no document text found: 0 characters on 1 page(s)"),
], ids=["empty", "corrupt-image", "pdf-without-pages", "60-page-pdf", "40-megapixels", "car-photo", "blank-page"])
def test_unreadable_documents_get_a_clear_error(analyzer: DocumentAnalyzer, make: Callable[[], bytes],
                                                error_class: str, reason: str) -> None:
    result, error = analysis_of(analyzer, received(make()))
    assert error == error_class and result.error is not None and result.error.startswith(reason)
    assert result.fields.model_dump() == {k: None for k in result.fields.model_dump()}


def test_a_checksum_mismatch_or_no_content_breaks_the_contract(analyzer: DocumentAnalyzer, tmp_path: Path) -> None:
    data = document("invoice", 0).encode("png")
    with pytest.raises(InvalidEvent, match="checksum mismatch"):
        analyzer.process(received(data).model_copy(update={"sha256": "0" * 64}))
    with pytest.raises(InvalidEvent, match="neither inline content nor blob_uri"):
        analyzer.process(received(data).model_copy(update={"content": None}))
    store = LocalBlobStore(tmp_path)
    blob = store.put(data)
    with_store = DocumentAnalyzer(analyzer.ocr, fetch_blob=store.fetch)
    event = received(data).model_copy(update={"content": None, "blob_uri": blob.uri})
    result, _ = analysis_of(with_store, event)
    assert result.document_type == DocumentType.INVOICE
    with pytest.raises(BlobRejected, match="checksum mismatch"):
        with_store.process(event.model_copy(update={"sha256": "1" * 64}))


def test_the_producers_hint_decides_only_a_page_that_names_no_type(analyzer: DocumentAnalyzer) -> None:
    untitled = encoded(page(["Customer: Maria Gonzalez", "Phone: (415) 555-0134", "Amount: $120.00"]), "PNG")
    result, _ = analysis_of(analyzer, received(untitled, document_type_hint=DocumentType.INVOICE))
    assert result.document_type == DocumentType.INVOICE
    ro = document("repair_order", 2).encode("png")
    result, _ = analysis_of(analyzer, received(ro, document_type_hint=DocumentType.INVOICE))
    assert result.document_type == DocumentType.REPAIR_ORDER


def test_the_fallback_engine_reads_a_page_the_first_is_unsure_of() -> None:
    paddle = load_engine("paddle", MODELS, False).first
    tesseract = load_engine("tesseract", MODELS, False).first
    image = document("invoice", 0).image
    sure = FallbackOcr(paddle, tesseract, threshold=0.5).read(image)
    assert sure.engine == "paddle"  # confident enough: Tesseract never ran
    both = FallbackOcr(tesseract, paddle, threshold=1.01).read(image)  # nothing is that sure: both read it
    first, second = tesseract.read(image), paddle.read(image)
    assert both.engine == max((first, second), key=lambda r: r.confidence).engine
    assert both.confidence == max(first.confidence, second.confidence)


def test_limits_are_settings(analyzer: DocumentAnalyzer) -> None:
    strict = DocumentAnalyzer(analyzer.ocr, Limits(max_pages=1))
    result, error = analysis_of(strict, received(multipage_pdf([document("invoice", 0), document("invoice", 1)])))
    assert error == "DocumentError" and result.error == ("the PDF has 2 pages; the limit is 1 "
                                                        "(AUTERITY_OCR__MAX_PAGES)")
