"""The webhook sink in a real worker on the real broker: each dealer's results reach its own endpoint, signed;
a flaky endpoint gets them after retries, one that keeps failing sends them to the DLQ, from where
`auterity dlq replay` delivers them once it is fixed; a dealer without an endpoint gets nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from schemas.codec import AvroCodec
from schemas.models import ConversationMessage, DeadLetter, Event
from tests.conftest import ROOT, Namespace
from tests.kafka_helpers import collect, publish
from tests.webhook_receiver import Receiver, receiving

CODEC = AvroCodec()
FLAKY, DOWN, SILENT = "dealer-riverside-ford", "dealer-lakeside-toyota", "dealer-hilltop-honda"


def chat(dealer: str, i: int) -> ConversationMessage:
    return ConversationMessage(dealer_id=dealer, session_id=f"{dealer}-{i}", user_id="staff-1",
                               text="Text service customers 30 days before their oil change")


def wait_for(condition: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert condition()


def test_results_reach_each_dealers_endpoint_signed_retried_or_dead_lettered(namespace: Namespace,
                                                                             start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    flaky = Receiver("secret-riverside", fail=lambda _, attempt: 503 if attempt == 1 else None)
    down = Receiver("secret-lakeside", fail=lambda _, attempt: 500)
    with receiving(flaky), receiving(down):
        targets = {FLAKY: {"url": flaky.url, "secret": flaky.secret},
                   DOWN: {"url": down.url, "secret": down.secret, "topics": [topics.conversations_analyzed]}}
        worker = start_worker(AUTERITY_WEBHOOKS__TARGETS=json.dumps(targets), AUTERITY_WEBHOOKS__ATTEMPTS="3",
                              AUTERITY_WEBHOOKS__INITIAL_BACKOFF_S="0.05", AUTERITY_WEBHOOKS__MAX_BACKOFF_S="0.2")
        publish(settings, topics.conversations_messages,
                [chat(FLAKY, 0), chat(FLAKY, 1), chat(DOWN, 0), chat(DOWN, 1), chat(SILENT, 0)])
        results_topics = [topics.conversations_analyzed, topics.workflows_generated]
        records = collect(settings, results_topics, until=lambda rs: sum(
            r.topic == topics.conversations_analyzed for r in rs) >= 5, timeout_s=90, settle_s=2.0)
        results: list[tuple[str, Event]] = [(r.topic, CODEC.decode(r.value)) for r in records]
        for_flaky = {str(e.event_id): e for _, e in results if e.dealer_id == FLAKY}
        for_down = {str(e.event_id) for t, e in results if e.dealer_id == DOWN and t == topics.conversations_analyzed}
        assert len(for_flaky) >= 4 and len(for_down) == 2  # analyses, workflows and interfaces; 2 analyses

        # The flaky endpoint has every result of its dealer, each after one 503, with a valid signature.
        wait_for(lambda: set(flaky.accepted) == set(for_flaky))
        assert all(flaky.attempts[i] == 2 for i in for_flaky) and flaky.bad_signatures == 0
        for event_id, event in for_flaky.items():
            assert flaky.accepted[event_id]["event_id"] == event_id and flaky.types[event_id] == event.schema_name

        # The endpoint that is down: three attempts each, then the DLQ with the reason; only the topic it asked for.
        dlq = collect(settings, [f"{topics.conversations_analyzed}.dlq"], until=lambda rs: len(rs) >= 2,
                      timeout_s=60)
        letters = [CODEC.decode(r.value, DeadLetter) for r in dlq]
        assert {CODEC.decode(letter.original_value).event_id.hex for letter in letters} == {
            i.replace("-", "") for i in for_down}
        assert all(letter.error_class == "DeliveryFailed" and letter.attempts == 3 for letter in letters)
        assert all("not delivered after 3 attempts; last: HTTP 500" in letter.error_message for letter in letters)
        assert all(letter.pipeline == f"webhooks-{topics.conversations_analyzed}" for letter in letters)
        assert set(down.attempts) == for_down and all(n == 3 for n in down.attempts.values())
        assert all(body["dealer_id"] != SILENT for body in [*flaky.accepted.values(), *down.accepted.values()])

        # Fixed: the dead letters are replayed and delivered.
        down.fail = lambda _, attempt: None
        subprocess.run([sys.executable, "-m", "streams.cli", "dlq", "replay", topics.conversations_analyzed],
                       env=namespace.env(), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
        wait_for(lambda: set(down.accepted) == for_down)
        assert worker.process is not None and worker.process.poll() is None
