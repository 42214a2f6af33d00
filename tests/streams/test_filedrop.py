"""The file-drop source on the real broker: dropped scans and recordings become events once each, large scans go
through the blob store, and a crash between publishing and moving the file re-publishes the same event_id."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from connectors.filedrop import FileDrop, file_event_id
from schemas.codec import AvroCodec
from schemas.models import CallRecorded, DocumentReceived, Event
from streams.blobs import blob_store
from streams.filedrop import run_file_drop
from streams.settings import Settings
from tests.conftest import Namespace
from tests.documents_corpus import document
from tests.kafka_helpers import collect

CODEC = AvroCodec()
RIVERSIDE, BAYSIDE = "dealer-riverside-ford", "dealer-bayside-honda"
SMALL_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()


def drop(root: Path, dealer: str, name: str, data: bytes) -> Path:
    path = root / dealer / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def decoded(record: Any) -> Event:
    event: Event = CODEC.decode(record.value)
    return event


def inbound(settings: Settings, count: int, settle_s: float = 1.0) -> list[Any]:
    """The records of the two inbound topics, once ``count`` have arrived (and ``settle_s`` more for strays)."""
    topics = settings.topics
    return collect(settings, [topics.documents_received, topics.calls_recorded],
                   until=lambda rs: len(rs) >= count, timeout_s=60, settle_s=settle_s)


def test_files_of_two_dealers_are_published_once_each(namespace: Namespace, tmp_path: Path) -> None:
    settings = namespace.settings(blob_store=str(tmp_path / "blobs"))
    topics = settings.topics
    root = tmp_path / "drop"
    large = document("invoice", 5).encode("png")  # about 6 MB: over the 512 KiB inline limit
    files = {"ro-1001": drop(root, RIVERSIDE, "ro-1001.png", SMALL_PNG),
             "call-42": drop(root, RIVERSIDE, "call-42.wav", wav_bytes()),
             "invoice-5": drop(root, BAYSIDE, "invoice-5.png", large)}
    drop(root, BAYSIDE, "notes.txt", b"not a scan")

    assert asyncio.run(run_file_drop(settings, root, settle_s=0, once=True)) == 3
    records = inbound(settings, 3)
    assert len(records) == 3
    events: dict[tuple[str, bytes], Event] = {(r.topic, r.key): CODEC.decode(r.value) for r in records}
    small, call, stored = (events[(topics.documents_received, RIVERSIDE.encode())],
                           events[(topics.calls_recorded, b"call-42")],
                           events[(topics.documents_received, BAYSIDE.encode())])

    assert isinstance(small, DocumentReceived) and small.dealer_id == RIVERSIDE
    assert (small.document_id, small.filename, small.source) == ("ro-1001", "ro-1001.png", "file-drop")
    assert small.content == SMALL_PNG and small.blob_uri is None and small.content_type == "image/png"

    assert isinstance(call, CallRecorded) and call.dealer_id == RIVERSIDE and call.call_id == "call-42"
    assert call.content == wav_bytes() and call.content_type == "audio/wav"

    assert isinstance(stored, DocumentReceived) and stored.dealer_id == BAYSIDE and stored.document_id == "invoice-5"
    assert stored.content is None and stored.blob_uri and stored.size_bytes == len(large) > 512 * 1024
    assert blob_store(settings).fetch(stored.blob_uri, stored.sha256) == large

    for event, dealer, name in ((small, RIVERSIDE, "ro-1001.png"), (call, RIVERSIDE, "call-42.wav"),
                                (stored, BAYSIDE, "invoice-5.png")):
        assert event.event_id == file_event_id(dealer, name, event.sha256)
    for stem, path in files.items():
        assert not path.exists() and (path.parent / "processed" / path.name).exists(), stem
    assert (root / BAYSIDE / "notes.txt").exists()  # ignored, left where it is

    assert asyncio.run(run_file_drop(settings, root, settle_s=0, once=True)) == 0  # nothing left to publish
    assert len(inbound(settings, 3)) == 3


def test_a_crash_before_the_file_is_moved_republishes_the_same_event_id(namespace: Namespace, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = namespace.settings(blob_store=str(tmp_path / "blobs"))
    root = tmp_path / "drop"
    path = drop(root, RIVERSIDE, "ro-2002.png", SMALL_PNG)

    def crash(self: FileDrop, file: object) -> None:
        raise RuntimeError("killed after the broker acknowledged, before the file moved")

    with monkeypatch.context() as patch:
        patch.setattr(FileDrop, "done", crash)
        with pytest.raises(RuntimeError, match="killed"):
            asyncio.run(run_file_drop(settings, root, settle_s=0, once=True))
    assert path.exists()

    # The restart; --once watches the files for settle_s before it takes them.
    assert asyncio.run(run_file_drop(settings, root, settle_s=0.2, once=True)) == 1
    records = inbound(settings, 2)
    first, second = (CODEC.decode(r.value, DocumentReceived) for r in records)
    assert len(records) == 2 and first.event_id == second.event_id  # the pipelines' de-duplication drops one
    assert first.event_id == file_event_id(RIVERSIDE, "ro-2002.png", first.sha256)
    assert [p.name for p in (root / RIVERSIDE / "processed").iterdir()] == ["ro-2002.png"]
    assert [p.name for p in (root / RIVERSIDE).iterdir()] == ["processed"]


def test_the_loop_waits_for_a_file_to_be_complete_and_stops_when_asked(namespace: Namespace, tmp_path: Path) -> None:
    settings = namespace.settings(blob_store=str(tmp_path / "blobs"))
    root = tmp_path / "drop"
    (root / BAYSIDE).mkdir(parents=True)

    async def scenario() -> tuple[int, float]:
        stop = asyncio.Event()
        loop = asyncio.create_task(run_file_drop(settings, root, poll_s=0.05, settle_s=0.3, stop=stop))
        partial = drop(root, BAYSIDE, "voicemail-9.wav.part", wav_bytes()[:1000])
        await asyncio.sleep(0.6)  # a partial name is never taken, however long it sits there
        assert partial.exists()
        partial.write_bytes(wav_bytes())
        partial.rename(root / BAYSIDE / "voicemail-9.wav")
        renamed_at = time.monotonic()
        processed = root / BAYSIDE / "processed" / "voicemail-9.wav"
        while not processed.exists() and time.monotonic() < renamed_at + 30:
            await asyncio.sleep(0.05)
        took = time.monotonic() - renamed_at
        stop.set()
        return await asyncio.wait_for(loop, 10), took

    published, took = asyncio.run(scenario())
    assert published == 1 and took >= 0.3  # not before it settled
    [record] = inbound(settings, 1)
    event = decoded(record)
    assert isinstance(event, CallRecorded) and event.call_id == "voicemail-9" and event.content == wav_bytes()
