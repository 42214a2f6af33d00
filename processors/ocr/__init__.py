"""OCR engines, page handling and document understanding: documents.received -> documents.analyzed."""

from processors.ocr.analyzer import DocumentAnalyzer
from processors.ocr.engines import FallbackOcr, OcrEngine, OcrUnavailable, PageReading, load_engine
from processors.ocr.pages import DocumentError, Limits, load_pages, sniff

__all__ = ["DocumentAnalyzer", "DocumentError", "FallbackOcr", "Limits", "OcrEngine", "OcrUnavailable",
           "PageReading", "load_engine", "load_pages", "sniff"]
