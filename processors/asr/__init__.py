"""Speech recognition: decode a recording, transcribe each party, and merge them by time with speaker labels."""

from __future__ import annotations

from processors.asr.audio import AudioError, DecodedAudio, decode_audio, is_silent
from processors.asr.engines import AsrEngine, EngineConfig, RecognizedSegment, load_engine

AGENT, CUSTOMER, SINGLE_SPEAKER = "agent", "customer", "speaker_1"


def transcribe(audio: DecodedAudio, engine: AsrEngine, agent_channel: int = 0) -> tuple[str, list[RecognizedSegment]]:
    """The language and every segment in time order, each with a speaker.

    Stereo calls carry the dealership agent and the customer on separate channels: each channel is
    transcribed on its own, so attribution comes from the recording, not from a guess. A mono call gets one
    speaker label unless the engine diarizes.
    """
    if len(audio.channels) == 1:
        recognition = engine.recognize(audio.channels[0])
        segments = [s if s.speaker else _with_speaker(s, SINGLE_SPEAKER) for s in recognition.segments]
        return recognition.language, segments
    language, merged = "en", list[RecognizedSegment]()
    for index, samples in enumerate(audio.channels):
        if is_silent(samples):
            continue
        speaker = AGENT if index == agent_channel else CUSTOMER
        recognition = engine.recognize(samples)
        language = recognition.language
        merged.extend(_with_speaker(s, speaker) for s in recognition.segments)
    merged.sort(key=lambda s: (s.start, s.end))
    return language, merged


def _with_speaker(segment: RecognizedSegment, speaker: str) -> RecognizedSegment:
    return RecognizedSegment(segment.start, segment.end, segment.text, segment.words, speaker)


__all__ = ["AGENT", "CUSTOMER", "SINGLE_SPEAKER", "AsrEngine", "AudioError", "DecodedAudio", "EngineConfig",
           "RecognizedSegment", "decode_audio", "is_silent", "load_engine", "transcribe"]
