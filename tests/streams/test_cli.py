"""The CLI end to end: publish validates before producing, tail decodes, demo runs the whole system."""

from __future__ import annotations

import json
import subprocess
import sys

from schemas.codec import AvroCodec
from tests.conftest import ROOT, Namespace, free_port
from tests.kafka_helpers import collect

CODEC = AvroCodec()


def auterity(ns: Namespace, *args: str, stdin: str | None = None, timeout: float = 120,
             **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], input=stdin, env=ns.env(**env), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_publish_validates_then_produces_and_tail_reads_back(namespace: Namespace) -> None:
    topic = namespace.topics.conversations_messages
    good = {"dealer_id": "dealer-1", "session_id": "s-9", "user_id": "staff-1",
            "text": "Email every lease customer 90 days before lease end"}
    bad = {"dealer_id": "dealer-1", "session_id": "s-9", "text": "no user"}

    rejected = auterity(namespace, "publish", topic, "-", stdin=json.dumps(bad))
    assert rejected.returncode == 2
    assert "user_id" in rejected.stderr and "Field required" in rejected.stderr
    published = auterity(namespace, "publish", topic, "-", stdin=json.dumps(good) + "\n" + json.dumps(good))
    assert published.returncode == 0, published.stderr
    event_ids = published.stdout.split()
    assert len(event_ids) == 2
    records = collect(namespace.settings(), [topic], lambda rs: len(rs) >= 2)
    assert sorted(str(CODEC.decode(r.value).event_id) for r in records) == sorted(event_ids)

    tailed = auterity(namespace, "tail", topic, "--limit", "2")
    lines = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert sorted(line["event_id"] for line in lines) == sorted(event_ids)
    assert lines[0]["text"] == good["text"]


def test_demo_runs_end_to_end_on_the_embedded_broker(namespace: Namespace) -> None:
    env = {k: v for k, v in namespace.env().items() if k != "AUTERITY_BOOTSTRAP_SERVERS"}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--per-topic", "2"], cwd=ROOT, capture_output=True,
        text=True, timeout=240,
        env={**env, "AUTERITY_BROKER_PORT": str(free_port()), "AUTERITY_WEB_PORT": str(free_port()),
             "COLUMNS": "160"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "demo summary" in result.stdout
    assert "documents.received.dlq" in result.stdout  # the two malformed samples were dead-lettered
    assert "AI operations" in result.stdout
