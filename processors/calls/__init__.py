"""calls.recorded -> calls.analyzed: transcript with speakers, sentiment timeline, action items and summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from processors.asr import AGENT, CUSTOMER, AsrEngine, AudioError, RecognizedSegment, decode_audio, transcribe
from processors.base import BlobFetcher, Outcome, Usage, no_blob_store, payload_bytes
from processors.calls.analysis import Utterance, extract_actions, overall_sentiment, score_sentiment, summarize
from schemas.models import ActionItem, CallAnalysis, CallRecorded, Sentiment, TranscriptSegment, Word


@dataclass
class CallAnalyzer:
    """Decode, transcribe (per channel on stereo calls) and analyse one recorded call.

    A recording that cannot be transcribed (corrupt, a video, an unsupported codec, too long, silent) gets a
    CallAnalysis whose ``error`` says why, so the phone system hears back; an event that breaks the contract
    (no audio at all, a checksum mismatch) raises InvalidEvent and goes to the DLQ.
    """

    engine: Callable[[], AsrEngine]  # loaded on first use, once per worker
    max_duration_s: float = 3600.0
    fetch_blob: BlobFetcher = no_blob_store
    name: str = "asr.calls"
    operation_type: str = "transcription"
    cpu_bound: bool = True

    def process(self, event: CallRecorded) -> Outcome:
        data = payload_bytes(f"call {event.call_id}", event.content, event.blob_uri, event.sha256, self.fetch_blob)
        engine = self.engine()
        usage = Usage(model=engine.model, provider=engine.provider)
        try:
            audio = decode_audio(data, self.max_duration_s)
            if not audio.duration_s:
                raise AudioError("the recording holds no samples")
            language, segments = transcribe(audio, engine, event.agent_channel)
        except AudioError as exc:
            return Outcome([self._failed(event, str(exc))], usage, error_class=type(exc).__name__)
        if not segments:
            failed = self._failed(event, f"no speech detected in {audio.duration_s:.1f} s of audio")
            failed.duration_seconds = round(audio.duration_s, 3)
            return Outcome([failed], usage, error_class="NoSpeech")
        return Outcome([self.analyse(event, language, audio.duration_s, segments)], usage)

    def analyse(self, event: CallRecorded, language: str, duration_s: float,
                segments: list[RecognizedSegment]) -> CallAnalysis:
        """Sentiment, stress, action items and summary of a transcribed call."""
        utterances = [Utterance(s.start, s.end, s.speaker or "speaker_1", s.text) for s in segments]
        scored = score_sentiment(utterances)
        label, score = overall_sentiment(scored, CUSTOMER)
        actions = extract_actions(scored, event.started_at or event.occurred_at, AGENT, event.agent_id)
        speakers = {u.speaker for u in utterances}
        transcript = "\n".join(f"{u.speaker.capitalize()}: {u.text}" if len(speakers) > 1 else u.text
                               for u in utterances)
        return CallAnalysis(
            dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name, call_id=event.call_id,
            language=language, duration_seconds=round(duration_s, 3), transcript=transcript,
            segments=[TranscriptSegment(start=seg.start, end=seg.end, speaker=s.utterance.speaker, text=seg.text,
                                        sentiment=s.sentiment, stress=s.stress,
                                        words=[Word(word=w.word, start=w.start, end=w.end, probability=w.probability)
                                               for w in seg.words])
                      for seg, s in zip(segments, scored, strict=True)],
            sentiment=Sentiment(label), sentiment_score=score,
            action_items=[ActionItem(task=a.task, assignee=a.assignee, deadline=a.deadline, priority=a.priority)
                          for a in actions],
            summary=summarize(utterances, actions),
        )

    def _failed(self, event: CallRecorded, error: str) -> CallAnalysis:
        return CallAnalysis(dealer_id=event.dealer_id, source_event_id=event.event_id, processor=self.name,
                            call_id=event.call_id, error=error)
