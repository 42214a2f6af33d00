"""documents.received -> documents.analyzed."""

from __future__ import annotations

from processors.placeholder import PlaceholderDocumentAnalyzer
from schemas.models import DocumentReceived
from streams.pipeline import wire_processor
from streams.runtime import Runtime


def wire(runtime: Runtime) -> None:
    wire_processor(runtime, "documents", runtime.settings.topics.documents_received, DocumentReceived,
                   PlaceholderDocumentAnalyzer())
