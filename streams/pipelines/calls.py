"""calls.recorded -> calls.analyzed: faster-whisper (or WhisperX) transcription, then call analysis."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from processors.asr import EngineConfig, load_engine
from processors.calls import CallAnalyzer
from processors.calls.insights import LlmCallAnalyzer, extractive_insights
from schemas.models import CallRecorded
from streams.blobs import blob_store, payload
from streams.llm import llm_client, privacy_policy
from streams.pipeline import wire_processor
from streams.runtime import Runtime
from streams.settings import Settings


def call_analyzer(settings: Settings) -> CallAnalyzer | LlmCallAnalyzer:
    """The calls processor as the settings configure it (the worker and `auterity transcribe` share it): with
    ``AUTERITY_LLM__CALLS_GROUP`` set, the LLM adds action items and writes the summary."""
    asr = settings.asr
    config = EngineConfig(**asr.model_dump(exclude={"max_duration_s"}))
    calls = CallAnalyzer(partial(load_engine, config), asr.max_duration_s, blob_store(settings).fetch)
    if settings.llm.calls_group is None:
        return calls
    llm = llm_client(settings, call_insights=extractive_insights)
    return LlmCallAnalyzer(calls, llm, settings.llm.calls_group, lambda dealer: privacy_policy(settings, dealer))


def wire(runtime: Runtime) -> None:
    settings = runtime.settings
    # One call per batch: a long recording must not hold a batch of others hostage, and the poll interval
    # covers the longest call allowed (transcription runs at a fraction of real time).
    wire_processor(runtime, "calls", settings.topics.calls_recorded, CallRecorded, call_analyzer(settings),
                   batch_max_records=1, max_poll_interval_s=max(300.0, settings.asr.max_duration_s))


def recorded_call(settings: Settings, data: bytes, *, call_id: str, dealer_id: str, content_type: str | None = None,
                  inline_only: bool = False, **fields: Any) -> CallRecorded:
    """A CallRecorded for a recording: inline up to ``call_inline_max_bytes``, else stored in the blob store."""
    carried = payload(settings, data, settings.call_inline_max_bytes, inline_only=inline_only)
    return CallRecorded(dealer_id=dealer_id, call_id=call_id, content_type=content_type or sniff_content_type(data),
                        **asdict(carried), **fields)


def sniff_content_type(data: bytes) -> str:
    """The MIME type of common recording formats, from their first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data[:4] == b"fLaC":
        return "audio/flac"
    return "application/octet-stream"
