"""The file-drop source on the broker: settled files under ``<root>/<dealer_id>/`` become DocumentReceived and
CallRecorded events, each exactly once (the directory rules are connectors.filedrop's).

A file moves to ``processed/`` only after the broker acknowledged its event. A crash in between publishes it
again on restart with the same deterministic event_id, which the pipelines' de-duplication drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from connectors.filedrop import DropFile, FileChanged, FileDrop
from schemas.codec import AvroCodec
from schemas.errors import InvalidEvent
from schemas.models import Event
from streams.kafka import producer, send_event
from streams.pipelines.calls import recorded_call, sniff_content_type
from streams.pipelines.documents import received_document
from streams.runtime import make_codec
from streams.settings import Settings
from streams.topics import TopicRegistry, ensure_topics

log = logging.getLogger(__name__)

# By extension, for recordings whose first bytes sniff_content_type does not know (MP4 audio, headerless MP3).
CALL_CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg",
                      ".flac": "audio/flac", ".m4a": "audio/mp4"}


def file_event(settings: Settings, file: DropFile, data: bytes) -> Event:
    """The event of a dropped file, with its deterministic event_id; large payloads go to the blob store."""
    if file.kind == "document":
        return received_document(settings, data, document_id=file.source_id, dealer_id=file.dealer_id,
                                 filename=file.name, source="file-drop", event_id=file.event_id)
    content_type = sniff_content_type(data)
    if content_type == "application/octet-stream":
        content_type = CALL_CONTENT_TYPES.get(file.path.suffix.lower(), content_type)
    return recorded_call(settings, data, call_id=file.source_id, dealer_id=file.dealer_id, content_type=content_type,
                         event_id=file.event_id)


async def run_file_drop(settings: Settings, root: Path, *, poll_s: float = 1.0, settle_s: float = 2.0,
                        stop: asyncio.Event | None = None, once: bool = False) -> int:
    """Publish the settled files under ``root`` every ``poll_s`` seconds until ``stop`` is set; returns how many.

    ``once`` makes one pass and returns: it first watches the files for ``settle_s``, so a file still being
    written is left for a later run. Without ``once``, a broker that does not acknowledge is retried on the next
    poll; with it, the KafkaError is raised.
    """
    stop = stop or asyncio.Event()
    registry = TopicRegistry(settings)
    topics = settings.topics
    await ensure_topics(settings, [registry[topics.documents_received], registry[topics.calls_recorded]])
    drop = FileDrop(root, settle_s=settle_s)
    async with producer(settings) as client:
        source = _FileDropSource(settings, drop, client, make_codec(settings))
        if once and settle_s > 0:
            await asyncio.to_thread(drop.scan)  # first sight of every file; they settle during the wait
            await _wait(stop, settle_s)
        while not stop.is_set():
            try:
                await source.publish_ready(stop)
            except KafkaError as exc:
                if once:
                    raise
                log.warning("the broker did not acknowledge a file-drop event (%s); retrying in %.1f s", exc, poll_s)
            if once:
                break
            await _wait(stop, poll_s)
    return source.published


class _FileDropSource:
    """One pass of the loop: scan, build each event, produce it, await the acknowledgement, then move the file."""

    def __init__(self, settings: Settings, drop: FileDrop, client: AIOKafkaProducer, codec: AvroCodec) -> None:
        self.settings, self.drop, self.client, self.codec = settings, drop, client, codec
        self.published = 0

    async def publish_ready(self, stop: asyncio.Event) -> None:
        topics = self.settings.topics
        for file in await asyncio.to_thread(self.drop.scan):
            if stop.is_set():
                return
            event = await self._event(file)
            if event is None:
                continue
            topic = topics.documents_received if file.kind == "document" else topics.calls_recorded
            await (await send_event(self.client, self.codec, topic, event))  # acknowledged by the broker
            self.published += 1
            await asyncio.to_thread(self.drop.done, file)
            log.info("published %s as %s %s on %s", file.path, type(event).__name__, event.event_id, topic)

    async def _event(self, file: DropFile) -> Event | None:
        """The file's event; None when it is rejected now or left for a later pass."""
        if file.size > self.settings.blob_max_bytes:
            await asyncio.to_thread(self.drop.reject, file, f"the file is {file.size} bytes; workers read blobs up "
                                    f"to {self.settings.blob_max_bytes} (AUTERITY_BLOB_MAX_BYTES)")
            return None
        try:
            data = await asyncio.to_thread(self.drop.read, file)
        except (FileNotFoundError, FileChanged) as exc:
            log.info("not publishing %s now: %s", file.path, exc)
            return None
        except OSError as exc:
            await asyncio.to_thread(self.drop.reject, file, f"the file cannot be read: {exc}")
            return None
        try:
            return await asyncio.to_thread(file_event, self.settings, file, data)
        except (ValidationError, InvalidEvent) as exc:
            await asyncio.to_thread(self.drop.reject, file, f"the file does not make a valid event: {exc}")
        except Exception:
            # The blob store (a full disk, an S3 outage): the file stays and is tried again on the next poll.
            log.exception("could not build the event of %s; it will be tried again", file.path)
        return None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
