"""documents.received -> documents.analyzed: pages, OCR, document type, checked fields, and the PII audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from processors.base import BlobFetcher, Outcome, Usage, no_blob_store, payload_bytes
from processors.ocr.engines import OcrEngine, PageReading
from processors.ocr.fields import OcrLine, understand
from processors.ocr.pages import DocumentError, Limits, load_pages
from schemas.models import AIAuditEvent, DocumentAnalysis, DocumentReceived, DocumentType

TEXT_LAYER = "pdf-text"
MIN_DOCUMENT_CHARS = 25  # a photo's stray letters (a plate, a badge) are not a document


@dataclass
class DocumentAnalyzer:
    """Read one document: every page through the OCR (or its PDF text layer), then type, fields and confidences.

    A document that cannot be read (corrupt, empty, too many pages or pixels, not a document) gets a
    DocumentAnalysis whose ``error`` says why, so the scanner or DMS hears back; an event that breaks the
    contract (no content at all, a checksum mismatch) raises InvalidEvent and goes to the DLQ.
    """

    ocr: Callable[[], OcrEngine]  # loaded on first use, once per worker
    limits: Limits = field(default_factory=Limits)
    fetch_blob: BlobFetcher = no_blob_store
    name: str = "ocr.documents"
    operation_type: str = "ocr"
    cpu_bound: bool = True

    def process(self, event: DocumentReceived) -> Outcome:
        data = payload_bytes(f"document {event.document_id}", event.content, event.blob_uri, event.sha256,
                             self.fetch_blob)
        lines: list[OcrLine] = []
        readings: list[PageReading] = []
        pages = 0
        try:
            for page in load_pages(data, self.limits):
                pages += 1
                if page.text is not None:
                    lines += [OcrLine(text.strip(), 1.0) for text in page.text.splitlines() if text.strip()]
                    continue
                assert page.image is not None
                reading = self.ocr().read(page.image)
                readings.append(reading)
                lines += reading.lines
        except DocumentError as exc:
            return Outcome([self._failed(event, str(exc), pages)], self._usage(readings),
                           error_class=type(exc).__name__)
        usage = self._usage(readings)
        chars = sum(len(line.text) for line in lines)
        if chars < MIN_DOCUMENT_CHARS:
            failed = self._failed(event, f"no document text found: {chars} characters on {pages} page(s) "
                                  "(a blank page or a picture that is not a document?)", pages)
            failed.document_type = DocumentType.OTHER
            failed.text = "\n".join(line.text for line in lines)
            return Outcome([failed], usage, error_class="NotADocument")
        meaning = understand(lines, event.document_type_hint)
        analysis = DocumentAnalysis(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
            document_id=event.document_id, document_type=meaning.document_type, fields=meaning.fields,
            field_confidence={k: round(v, 4) for k, v in meaning.field_confidence.items()},
            text="\n".join(line.text for line in lines), pages=pages, engine=usage.provider,
            mean_confidence=round(sum(line.confidence * len(line.text) for line in lines) / chars, 4),
        )
        audit = AIAuditEvent(dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
                             actor=event.source, operation_type=self.operation_type, model=usage.model,
                             provider=usage.provider, data_types_seen=sorted(meaning.pii_fields), pii_redacted=False)
        return Outcome([analysis], usage, extra=[audit])

    def _usage(self, readings: list[PageReading]) -> Usage:
        """The engines that read the pages ("paddle", "paddle+tesseract" when the fallback won a page, or the
        PDF text layer when no page needed OCR)."""
        if not readings:
            return Usage(model=TEXT_LAYER, provider=TEXT_LAYER)
        engines = list(dict.fromkeys(r.engine for r in readings))
        models = list(dict.fromkeys(r.model for r in readings))
        return Usage(model="+".join(models), provider="+".join(engines))

    def _failed(self, event: DocumentReceived, error: str, pages: int) -> DocumentAnalysis:
        return DocumentAnalysis(dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
                                document_id=event.document_id, pages=pages, error=error)
