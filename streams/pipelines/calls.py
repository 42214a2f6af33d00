"""calls.recorded -> calls.analyzed."""

from __future__ import annotations

from processors.placeholder import PlaceholderCallAnalyzer
from schemas.models import CallRecorded
from streams.pipeline import wire_processor
from streams.runtime import Runtime


def wire(runtime: Runtime) -> None:
    wire_processor(runtime, "calls", runtime.settings.topics.calls_recorded, CallRecorded, PlaceholderCallAnalyzer())
