"""The calls processor on real recordings (espeak-ng voices mixed with sox) and the real tiny.en model."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import subprocess
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from processors.asr import AudioError, EngineConfig, decode_audio, load_engine
from processors.calls import CallAnalyzer
from schemas.errors import InvalidEvent
from schemas.models import CallAnalysis, CallRecorded, Sentiment
from tests.calls_corpus import CALL_START, BuiltCall

AGENT_ID = "bdc-7"


def recorded(data: bytes, call_id: str = "call-1", agent_channel: int = 0, **fields: Any) -> CallRecorded:
    return CallRecorded(dealer_id="dealer-riverside-honda", call_id=call_id, content_type="audio/wav", content=data,
                        sha256=fields.pop("sha256", hashlib.sha256(data).hexdigest()), size_bytes=len(data),
                        agent_id=AGENT_ID, agent_channel=agent_channel,
                        started_at=datetime.fromisoformat(CALL_START), **fields)


def analyse(analyzer: CallAnalyzer, built: BuiltCall) -> CallAnalysis:
    outcome = analyzer.process(recorded(built.path.read_bytes(), built.call.name, built.call.agent_channel))
    result = outcome.results[0]
    assert isinstance(result, CallAnalysis)
    assert result.error is None and outcome.error_class is None, result.error
    return result


def line_speaker(built: BuiltCall, t: float) -> str | None:
    for line, (start, end) in zip(built.call.lines, built.line_times, strict=True):
        if start - 0.3 <= t <= end + 0.3:
            return line.speaker
    return None


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype(np.int16).tobytes())
    return buffer.getvalue()


def test_stereo_call_every_word_has_the_speaker_of_its_channel(call_analyzer: CallAnalyzer,
                                                                call_corpus: dict[str, BuiltCall]) -> None:
    built = call_corpus["service-booking"]  # 16 kHz stereo WAV, agent on the left
    result = analyse(call_analyzer, built)
    assert result.language == "en" and result.duration_seconds == pytest.approx(built.duration_s, abs=0.2)
    assert {s.speaker for s in result.segments} == {"agent", "customer"}
    words = [(w, s.speaker) for s in result.segments for w in s.words]
    assert len(words) > 60
    attributed = [(speaker, line_speaker(built, (w.start + w.end) / 2)) for w, speaker in words]
    assert all(said == expected for said, expected in attributed if expected), attributed
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)
    assert "oil change" in result.transcript.lower() and result.transcript.startswith("Agent: ")
    assert result.sentiment == Sentiment.POSITIVE
    confirmation = next(a for a in result.action_items if "confirmation" in a.task.lower())
    assert confirmation.assignee == AGENT_ID and confirmation.deadline is not None
    assert confirmation.deadline.date().isoformat() == "2026-11-23"  # "tonight", on the day of the call
    assert "confirmation" in (result.summary or "")


def test_angry_phone_band_call_is_negative_with_stress_and_an_escalation(call_analyzer: CallAnalyzer,
                                                                         call_corpus: dict[str, BuiltCall]) -> None:
    result = analyse(call_analyzer, call_corpus["warranty-claim"])  # 8 kHz mu-law, 300-3400 Hz, stereo
    assert result.sentiment == Sentiment.NEGATIVE and (result.sentiment_score or 0) < 0
    assert any(s.stress and s.speaker == "customer" for s in result.segments)
    escalation = next(a for a in result.action_items if "escalate" in a.task.lower())
    assert escalation.assignee == AGENT_ID and escalation.deadline == datetime(2026, 11, 27, 17, tzinfo=UTC)


@pytest.mark.parametrize(("name", "expect"), [
    ("lease-end", "buyout"),  # stereo 44.1 kHz MP3 with the agent on the right channel
    ("finance-callback", "credit application"),  # mono 8 kHz mu-law phone band
    ("test-drive", "license"),  # mono 16 kHz OGG Vorbis
])
def test_every_format_is_transcribed(call_analyzer: CallAnalyzer, call_corpus: dict[str, BuiltCall], name: str,
                                     expect: str) -> None:
    built = call_corpus[name]
    result = analyse(call_analyzer, built)
    assert expect in result.transcript.lower()
    if built.call.stereo:
        first = result.segments[0]
        assert first.speaker == "agent" and first.start < built.line_times[0][1]
    else:
        assert {s.speaker for s in result.segments} == {"speaker_1"}


def test_the_model_loads_once_per_process() -> None:
    config = EngineConfig()
    assert load_engine(config) is load_engine(EngineConfig())


def test_whisperx_without_its_extra_says_how_to_install_it() -> None:
    with pytest.raises(RuntimeError, match=r"auterity-streams\[whisperx\]"):
        load_engine(EngineConfig(engine="whisperx"))


# --- bad input: a clear CallAnalysis error or a DLQ-bound InvalidEvent, never a crash ---

def failed(analyzer: CallAnalyzer, data: bytes) -> str:
    outcome = analyzer.process(recorded(data))
    result = outcome.results[0]
    assert isinstance(result, CallAnalysis) and result.error and outcome.error_class
    assert result.segments == [] and result.transcript == ""
    return result.error


def test_silence_is_no_speech(call_analyzer: CallAnalyzer) -> None:
    silence = np.random.default_rng(1).normal(0, 3, 16_000 * 20)  # 20 s of near-silent line hiss
    assert failed(call_analyzer, wav_bytes(silence)) == "no speech detected in 20.0 s of audio"


def test_a_corrupt_file_is_an_error(call_analyzer: CallAnalyzer) -> None:
    garbage = bytes(np.random.default_rng(2).integers(0, 256, 50_000, dtype=np.uint8))
    assert failed(call_analyzer, garbage).startswith("not a readable audio file")
    truncated = wav_bytes(np.zeros(16_000))[:30]
    assert "audio" in failed(call_analyzer, truncated)


def test_a_video_file_is_refused(call_analyzer: CallAnalyzer, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert failed(call_analyzer, path.read_bytes()) == "a video file (mpeg4), not a call recording"


def test_an_unsupported_codec_is_named(call_analyzer: CallAnalyzer) -> None:
    body = b"\x00" * 16_000
    fmt = struct.pack("<HHIIHH", 0x7A7A, 1, 8000, 8000, 1, 8)  # a format tag no decoder knows
    data = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
    error = failed(call_analyzer, data + b"data" + struct.pack("<I", len(body)) + body)
    assert "codec" in error


def test_two_hours_of_audio_is_refused_before_decoding(call_analyzer: CallAnalyzer, tmp_path: Path) -> None:
    path = tmp_path / "two-hours.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-e", "mu-law", str(path), "synth", "7200", "sine", "440"],
                   check=True)
    assert failed(call_analyzer, path.read_bytes()) == (
        "recording is 7200 s long; the limit is 3600 s (AUTERITY_ASR__MAX_DURATION_S)")


def vbr_mp3_without_header(loud_s: int, quiet_s: int) -> bytes:
    """An MP3 whose length FFmpeg can only estimate, from its first (loud, high-bitrate) frames: far too short."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}) as container:
        stream = container.add_stream("libmp3lame", rate=16_000, layout="mono")
        stream.codec_context.qscale = 9
        loud = np.random.default_rng(0).normal(0, 8000, 16_000 * loud_s).clip(-32000, 32000)
        samples = np.concatenate([loud, np.zeros(16_000 * quiet_s)]).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16_000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def test_a_recording_whose_header_understates_its_length_stops_at_the_limit() -> None:
    data = vbr_mp3_without_header(2, 20)
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is not None and container.duration / av.time_base < 10  # the estimate
    with pytest.raises(AudioError, match="longer than the limit of 10 s"):
        decode_audio(data, max_duration_s=10)
    assert math.isclose(decode_audio(data, max_duration_s=60).duration_s, 22, abs_tol=0.2)


def test_a_damaged_stretch_is_skipped_not_fatal() -> None:
    data = vbr_mp3_without_header(2, 6)
    damaged = data[:4000] + bytes(range(256)) * 4 + data[4000:]
    assert decode_audio(damaged, max_duration_s=60).duration_s > 7


def test_a_wrong_checksum_or_no_audio_is_an_invalid_event(call_analyzer: CallAnalyzer) -> None:
    audio = wav_bytes(np.zeros(1600))
    with pytest.raises(InvalidEvent, match="checksum mismatch"):
        call_analyzer.process(recorded(audio, sha256="0" * 64))
    empty = recorded(audio).model_copy(update={"content": None})
    with pytest.raises(InvalidEvent, match="neither inline content nor blob_uri"):
        call_analyzer.process(empty)
