"""documents.received -> documents.analyzed: pages, OCR (PaddleOCR, Tesseract as fallback), type and fields."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from processors.ocr import DocumentAnalyzer, Limits, load_engine, sniff
from processors.ocr.engines import EngineName
from schemas.models import DocumentReceived
from streams.blobs import blob_store, payload
from streams.pipeline import wire_processor
from streams.runtime import Runtime
from streams.settings import Settings


def document_analyzer(settings: Settings, engine: EngineName | None = None) -> DocumentAnalyzer:
    """The documents processor as the settings configure it (the worker and `auterity ocr` share it); naming an
    ``engine`` reads with that engine alone."""
    ocr = settings.ocr
    load = partial(load_engine, engine or ocr.engine, str(Path(settings.model_cache_dir)), ocr.fallback and not engine,
                   ocr.det_limit_side, ocr.threads, ocr.fallback_threshold)
    limits = Limits(ocr.max_pages, ocr.max_megapixels, ocr.max_side_px)
    return DocumentAnalyzer(load, limits, blob_store(settings).fetch)


def wire(runtime: Runtime) -> None:
    settings = runtime.settings
    # A few documents per batch: a 50-page scan must not hold many others hostage, and the poll interval
    # covers the longest document allowed (about 2 s a page).
    wire_processor(runtime, "documents", settings.topics.documents_received, DocumentReceived,
                   document_analyzer(settings), batch_max_records=4,
                   max_poll_interval_s=max(300.0, 6.0 * settings.ocr.max_pages))


def received_document(settings: Settings, data: bytes, *, document_id: str, dealer_id: str, filename: str,
                      content_type: str | None = None, inline_only: bool = False, **fields: Any) -> DocumentReceived:
    """A DocumentReceived for a scan: inline up to ``document_inline_max_bytes``, else through the blob store."""
    carried = payload(settings, data, settings.document_inline_max_bytes, inline_only=inline_only,
                      suffix=Path(filename).suffix.lower())
    return DocumentReceived(dealer_id=dealer_id, document_id=document_id, filename=filename,
                            content_type=content_type or sniff(data), **asdict(carried), **fields)
