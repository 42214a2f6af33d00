"""The monitoring aggregate: exact totals, and quantiles the way Prometheus' histogram_quantile computes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from processors.monitoring import OperationStats, window_start
from schemas.models import AIOperationMetric


def metric(latency_ms: float, success: bool = True, tokens: int = 10, cost: float = 0.001) -> AIOperationMetric:
    return AIOperationMetric(dealer_id="dealer-1", source_event_id=uuid.uuid4(), processor="nlp",
                             operation_type="requirement_analysis", pipeline="requirements", model="gpt-4o-mini",
                             provider="openai", input_tokens=tokens, output_tokens=tokens // 2, cost_usd=cost,
                             latency_ms=latency_ms, success=success,
                             error_class=None if success else "RateLimitError")


def test_totals_are_exact() -> None:
    stats = OperationStats(model="gpt-4o-mini", operation_type="requirement_analysis")
    for i in range(10):
        stats.add(metric(100.0, success=i % 5 != 0))
    assert (stats.count, stats.errors, stats.input_tokens, stats.output_tokens) == (10, 2, 100, 50)
    assert abs(stats.cost_usd - 0.01) < 1e-12
    assert stats.error_rate == 0.2
    assert OperationStats.from_dict(stats.to_dict()) == stats


def test_quantiles_interpolate_inside_buckets() -> None:
    stats = OperationStats(model="m", operation_type="o")
    for _ in range(90):
        stats.add(metric(20.0))   # bucket (10, 25]
    for _ in range(10):
        stats.add(metric(700.0))  # bucket (500, 1000]
    assert stats.quantile(0.5) == 10 + 15 * 50 / 90
    assert stats.quantile(0.95) == 500 + 500 * 5 / 10
    assert stats.quantile(0.99) == 500 + 500 * 9 / 10
    summary = stats.summary()
    assert summary["latency_ms"]["p50"] == round(10 + 15 * 50 / 90, 3)
    assert OperationStats(model="m", operation_type="o").quantile(0.5) is None


def test_slow_outliers_land_in_the_inf_bucket() -> None:
    stats = OperationStats(model="m", operation_type="o")
    stats.add(metric(120_000.0))
    assert stats.bucket_counts[-1] == 1
    assert stats.quantile(0.99) == 60000  # the highest finite bound, as Prometheus reports it


def test_window_start_is_aligned() -> None:
    moment = datetime(2026, 11, 26, 10, 17, 42, tzinfo=UTC)
    assert datetime.fromtimestamp(window_start(moment, 60), UTC) == datetime(2026, 11, 26, 10, 17, tzinfo=UTC)
