"""Read a topic's DLQ and replay its dead letters onto the original topic after a fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from schemas.codec import AvroCodec
from schemas.errors import EventError
from schemas.models import DeadLetter
from streams.kafka import consumer, producer, read_to_end
from streams.settings import Settings
from streams.topics import dlq_topic

REPLAY_GROUP_SUFFIX = "-dlq-replay"
REPLAYED_HEADER = "auterity-replayed-from"


@dataclass(frozen=True)
class DlqEntry:
    offset: int
    partition: int
    letter: DeadLetter


async def dead_letters(settings: Settings, topic: str, codec: AvroCodec) -> AsyncIterator[DlqEntry]:
    """Every dead letter of ``topic``'s DLQ, oldest first per partition."""
    async with consumer(settings, [dlq_topic(topic)]) as client:
        async for record in read_to_end(client):
            try:
                letter = codec.decode(record.value or b"", DeadLetter)
            except EventError as exc:  # a DLQ entry we cannot read is reported, never hidden
                raise EventError(f"unreadable DLQ entry {record.partition}:{record.offset}: {exc}") from exc
            yield DlqEntry(record.offset, record.partition, letter)


async def replay(settings: Settings, topic: str, codec: AvroCodec, *, event_ids: set[str] | None = None,
                 dry_run: bool = False) -> list[DlqEntry]:
    """Put dead letters back on their original topic with their original key, bytes and headers.

    A full replay commits its progress in the consumer group ``<app_id>-dlq-replay``, so running it twice
    does not replay an entry twice. A selective replay (``event_ids``) leaves that progress alone; a later
    full replay sends those entries again, and the pipeline's de-duplication skips what already succeeded.
    """
    group = f"{settings.app_id}{REPLAY_GROUP_SUFFIX}"
    replayed: list[DlqEntry] = []
    async with consumer(settings, [dlq_topic(topic)], group_id=group) as client, producer(settings) as out:
        async for record in read_to_end(client):
            letter = codec.decode(record.value or b"", DeadLetter)
            if event_ids is not None and not _matches(letter, codec, event_ids):
                continue
            entry = DlqEntry(record.offset, record.partition, letter)
            replayed.append(entry)
            if dry_run:
                continue
            headers = [(h.key, h.value or b"") for h in letter.original_headers if h.key != REPLAYED_HEADER]
            headers.append((REPLAYED_HEADER, f"{record.topic}:{record.partition}:{record.offset}".encode()))
            await out.send_and_wait(letter.topic, letter.original_value, key=letter.original_key, headers=headers)
        if not dry_run and event_ids is None:
            await client.commit()
    return replayed


def _matches(letter: DeadLetter, codec: AvroCodec, event_ids: set[str]) -> bool:
    try:
        _, record = codec.decode_record(letter.original_value)
    except EventError:
        return False
    return str(record.get("event_id")) in event_ids
