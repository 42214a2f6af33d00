"""Prometheus exposition: pipeline counters, and the monitoring table exported as AI-operation metrics.

The AI-operation families are read from the monitoring table at scrape time (a custom collector), so
/metrics shows exactly what the table holds, survives worker restarts and never double counts a replayed event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.models import CallAnalysis, DocumentAnalysis, Event, GeneratedWorkflow


class OperationStatsView(Protocol):
    """What the collector reads from one aggregate (processors.monitoring.OperationStats fits)."""

    model: str
    operation_type: str
    provider: str
    count: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms_sum: float
    bucket_counts: list[int]


class OperationStatsCollector(Collector):
    """Yields counter and histogram families from the current aggregates."""

    def __init__(self, snapshot: Callable[[], Iterable[OperationStatsView]], buckets_ms: Sequence[float]) -> None:
        self._snapshot = snapshot
        self._buckets_s = [b / 1000.0 for b in buckets_ms]

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "operation", "provider"]
        calls = CounterMetricFamily("auterity_ai_operations", "AI operations run.", labels=labels)
        errors = CounterMetricFamily("auterity_ai_operation_errors", "AI operations that failed.", labels=labels)
        tokens = CounterMetricFamily("auterity_ai_tokens", "Tokens (or units) used by AI operations.",
                                     labels=[*labels, "direction"])
        cost = CounterMetricFamily("auterity_ai_cost_usd", "Cost of AI operations in US dollars.", labels=labels)
        latency = HistogramMetricFamily("auterity_ai_operation_latency_seconds", "Latency of AI operations.",
                                        labels=labels)
        for stats in self._snapshot():
            values = [stats.model, stats.operation_type, stats.provider]
            calls.add_metric(values, stats.count)
            errors.add_metric(values, stats.errors)
            tokens.add_metric([*values, "input"], stats.input_tokens)
            tokens.add_metric([*values, "output"], stats.output_tokens)
            cost.add_metric(values, stats.cost_usd)
            cumulative, buckets = 0, []
            for bound, count in zip(self._buckets_s, stats.bucket_counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if math.isinf(bound) else repr(bound), cumulative))
            latency.add_metric(values, buckets, stats.latency_ms_sum / 1000.0)
        yield from (calls, errors, tokens, cost, latency)


class PipelineMetrics:
    """Per-pipeline counters of what happened to each consumed event."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter("auterity_pipeline_events", "Events consumed by a pipeline, by outcome "
                              "(processed, duplicate, dead_lettered).", ["pipeline", "outcome"], registry=registry)
        self.dead_letters = Counter("auterity_dead_letters", "Events sent to a DLQ, by failure stage.",
                                    ["pipeline", "stage"], registry=registry)
        self.retries = Counter("auterity_processor_retries", "Retries after transient processor failures.",
                               ["pipeline"], registry=registry)
        self.batch_seconds = Histogram("auterity_pipeline_batch_seconds", "Time to handle one consumed batch "
                                       "(decode to outputs queued).", ["pipeline"], registry=registry,
                                       buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))
        self.consumer_lag = Gauge("auterity_consumer_lag_records", "Records on the pipeline's source topic not "
                                  "yet fetched by this worker (its assigned partitions).", ["pipeline"],
                                  registry=registry)
        self.end_to_end = Histogram("auterity_end_to_end_latency_seconds", "From an inbound event's occurred_at "
                                    "to its results being sent.", ["pipeline"], registry=registry,
                                    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900))
        self.ocr_pages = Counter("auterity_ocr_pages", "Document pages read, by engine.", ["engine"],
                                 registry=registry)
        self.ocr_confidence = Histogram("auterity_ocr_confidence_ratio", "Mean OCR confidence of a document.",
                                        ["engine"], registry=registry,
                                        buckets=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0))
        self.asr_audio = Counter("auterity_asr_audio_seconds", "Seconds of call audio transcribed.",
                                 registry=registry)
        self.asr_processing = Counter("auterity_asr_processing_seconds", "Seconds spent analysing calls (their "
                                      "ratio to audio seconds is the real-time factor).", registry=registry)
        self.webhook_deliveries = Counter("auterity_webhook_deliveries", "Result events the webhook sink handled, by "
                                          "outcome (delivered, not_subscribed; failures are dead letters).",
                                          ["pipeline", "outcome"], registry=registry)
        self.workflows = Counter("auterity_workflows_generated", "Workflows generated, by whether they validate.",
                                 ["valid"], registry=registry)

    def observe(self, pipeline: str, source: Event, results: Sequence[Event], seconds: float, now_s: float) -> None:
        """What a processor's results say beyond the AI-operation metric: pages, audio, workflows, latency."""
        self.end_to_end.labels(pipeline).observe(max(0.0, now_s - source.occurred_at.timestamp()))
        for result in results:
            if isinstance(result, DocumentAnalysis) and result.error is None and result.engine:
                self.ocr_pages.labels(result.engine).inc(result.pages)
                if result.mean_confidence is not None:
                    self.ocr_confidence.labels(result.engine).observe(result.mean_confidence)
            elif isinstance(result, CallAnalysis) and result.error is None and result.duration_seconds:
                self.asr_audio.inc(result.duration_seconds)
                self.asr_processing.inc(seconds)
            elif isinstance(result, GeneratedWorkflow):
                self.workflows.labels(str(result.valid).lower()).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
