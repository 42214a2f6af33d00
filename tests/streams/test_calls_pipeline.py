"""calls.recorded -> calls.analyzed in a real worker on the real broker: inline and blob recordings, errors, DLQ,
metrics, a long call that does not stall other pipelines, and the one-shot `auterity transcribe`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from schemas.codec import AvroCodec
from schemas.models import AIOperationMetric, CallAnalysis, ConversationMessage, DeadLetter, RequirementAnalysis
from streams.pipelines.calls import recorded_call
from tests.calls_corpus import BuiltCall
from tests.conftest import ROOT, Namespace
from tests.kafka_helpers import collect, publish

CODEC = AvroCodec()
DEALER = "dealer-riverside-ford"


def decoded(records: list[Any], topic: str) -> list[Any]:
    return [CODEC.decode(r.value) for r in records if r.topic == topic]


def test_calls_inline_and_through_the_blob_store(namespace: Namespace, start_worker: Any, tmp_path: Path,
                                                 call_corpus: dict[str, BuiltCall]) -> None:
    settings = namespace.settings(blob_store=str(tmp_path / "blobs"))
    topics = settings.topics
    start_worker(AUTERITY_BLOB_STORE=settings.blob_store)
    lease = call_corpus["lease-end"]  # 460 KB MP3: inline
    sales = call_corpus["sales-follow-up"]  # 6 MB 44.1 kHz WAV: over 2 MiB, so through the blob store
    inline = recorded_call(settings, lease.path.read_bytes(), call_id="lease-end", dealer_id=DEALER,
                           agent_id="bdc-2", agent_channel=lease.call.agent_channel)
    stored = recorded_call(settings, sales.path.read_bytes(), call_id="sales-follow-up", dealer_id=DEALER,
                           agent_id="bdc-3")
    corrupt = recorded_call(settings, b"\x00\x01garbage" * 500, call_id="corrupt", dealer_id=DEALER)
    noisy = call_corpus["billing-dispute"]  # 1.9 MB WAV: just under the inline limit, over Kafka's default 1 MB
    large_inline = recorded_call(settings, noisy.path.read_bytes(), call_id="billing-dispute", dealer_id=DEALER)
    tampered = recorded_call(settings, sales.path.read_bytes(), call_id="tampered", dealer_id=DEALER)
    tampered.sha256 = "f" * 64
    assert inline.content is not None and inline.content_type == "audio/mpeg"
    assert stored.content is None and stored.blob_uri and stored.content_type == "audio/wav"
    assert large_inline.content is not None and large_inline.size_bytes > 1_800_000
    publish(settings, topics.calls_recorded, [inline, stored, large_inline, corrupt, tampered])

    records = collect(settings, [topics.calls_analyzed, topics.metrics_events, topics.calls_recorded + ".dlq"],
                      until=lambda rs: sum(r.topic == topics.calls_analyzed for r in rs) >= 4
                      and any(r.topic.endswith(".dlq") for r in rs), timeout_s=120, settle_s=1.0)
    results = {r.call_id: r for r in decoded(records, topics.calls_analyzed)}
    assert set(results) == {"lease-end", "sales-follow-up", "billing-dispute", "corrupt"}
    for call_id, built in (("lease-end", lease), ("sales-follow-up", sales), ("billing-dispute", noisy)):
        result: CallAnalysis = results[call_id]
        assert result.error is None and result.processor == "asr.calls"
        assert {s.speaker for s in result.segments} == {"agent", "customer"}
        assert result.duration_seconds and abs(result.duration_seconds - built.duration_s) < 0.3
        assert result.summary and result.transcript.startswith("Agent: ")
    assert results["lease-end"].segments[0].speaker == "agent"  # the agent is on the right channel of this one
    assert any(a.assignee == "bdc-2" and "email" in a.task.lower() for a in results["lease-end"].action_items)
    assert any(a.assignee == "bdc-3" and "quote" in a.task.lower() for a in results["sales-follow-up"].action_items)
    assert results["corrupt"].error and results["corrupt"].error.startswith("not a readable audio file")

    [letter] = decoded(records, topics.calls_recorded + ".dlq")
    assert isinstance(letter, DeadLetter) and letter.error_class == "BlobRejected"
    assert "checksum mismatch" in letter.error_message and letter.original_key == b"tampered"

    metrics = {m.source_event_id: m for m in decoded(records, topics.metrics_events)}
    assert all(isinstance(m, AIOperationMetric) for m in metrics.values())
    ok = metrics[inline.event_id]
    assert ok.success and ok.model == "tiny.en" and ok.provider == "faster-whisper"
    assert ok.operation_type == "transcription" and ok.latency_ms > 0
    assert not metrics[corrupt.event_id].success and metrics[corrupt.event_id].error_class == "AudioError"
    assert not metrics[tampered.event_id].success


def test_a_long_call_does_not_stall_the_other_pipelines(namespace: Namespace, start_worker: Any, tmp_path: Path,
                                                        call_corpus: dict[str, BuiltCall]) -> None:
    settings = namespace.settings(blob_store=str(tmp_path / "blobs"))
    topics = settings.topics
    worker = start_worker(AUTERITY_BLOB_STORE=settings.blob_store)
    parts = [str(call_corpus[name].path) for name in ("service-booking", "billing-dispute")] * 3
    long_call = tmp_path / "long.wav"
    subprocess.run(["sox", *parts, str(long_call)], check=True)  # about 3.2 minutes, 16 kHz stereo

    def chats(n: int, tag: str) -> list[ConversationMessage]:
        return [ConversationMessage(dealer_id=DEALER, session_id=f"{tag}-{i}", user_id="staff-1",
                                    text="Text service customers before their oil change") for i in range(n)]

    # Warm up: both pipelines have joined their groups and the model is loaded.
    short = recorded_call(settings, call_corpus["recall-outreach"].path.read_bytes(), call_id="warm-up",
                          dealer_id=DEALER)
    publish(settings, topics.calls_recorded, [short])
    publish(settings, topics.conversations_messages, chats(1, "warm-up"))
    collect(settings, [topics.calls_analyzed, topics.conversations_analyzed],
            until=lambda rs: {r.topic for r in rs} == {topics.calls_analyzed, topics.conversations_analyzed},
            timeout_s=90)

    call = recorded_call(settings, long_call.read_bytes(), call_id="long", dealer_id=DEALER)
    publish(settings, topics.calls_recorded, [call])
    time.sleep(1.5)  # the worker is now transcribing
    publish(settings, topics.conversations_messages, chats(20, "during"))
    assert httpx.get(f"{worker.url}/metrics", timeout=5).status_code == 200  # the web server answers too
    records = collect(settings, [topics.calls_analyzed, topics.conversations_analyzed],
                      until=lambda rs: any(r.topic == topics.calls_analyzed and CODEC.decode(r.value).call_id == "long"
                                           for r in rs), timeout_s=120)
    [long_result] = [r for r in records if r.topic == topics.calls_analyzed
                     and CODEC.decode(r.value).call_id == "long"]
    during = [r for r in records if r.topic == topics.conversations_analyzed
              and isinstance(a := CODEC.decode(r.value), RequirementAnalysis) and a.session_id.startswith("during")]
    assert len(during) == 20
    assert CODEC.decode(long_result.value).duration_seconds > 180
    # Every chat was answered while the call was still being transcribed.
    assert max(r.timestamp for r in during) < long_result.timestamp - 1000


def test_transcribe_cli_prints_the_call_analysis(call_corpus: dict[str, BuiltCall], tmp_path: Path) -> None:
    built = call_corpus["angry-repeat-repair"]
    run = subprocess.run([sys.executable, "-m", "streams.cli", "transcribe", str(built.path), "--json",
                          "--agent-id", "bdc-9", "--started-at", "2026-11-23T15:00:00+00:00"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    result = CallAnalysis.model_validate(json.loads(run.stdout))
    assert result.call_id == "angry-repeat-repair" and result.sentiment == "negative"
    assert {s.speaker for s in result.segments} == {"agent", "customer"}
    assert any(a.assignee == "bdc-9" for a in result.action_items)

    bad = tmp_path / "notes.txt"
    bad.write_text("not a recording")
    run = subprocess.run([sys.executable, "-m", "streams.cli", "transcribe", str(bad)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 1 and "not a readable audio file" in run.stderr
