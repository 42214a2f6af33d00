"""Count, errors, tokens, cost and a fixed-bucket latency histogram for one (model, operation type).

Fixed buckets make aggregates mergeable across partitions and windows, and give p50/p95/p99 the way
Prometheus' ``histogram_quantile`` does (linear interpolation inside the bucket).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from schemas.models import AIOperationMetric

#: Upper bounds in milliseconds; the last bucket is +Inf.
LATENCY_BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
                                         math.inf)


def window_start(moment: datetime, width_s: int) -> int:
    """Start (epoch seconds) of the tumbling window of ``width_s`` seconds that contains ``moment``."""
    epoch = int(moment.timestamp())
    return epoch - epoch % width_s


@dataclass
class OperationStats:
    """Running aggregate; ``add`` one metric at a time, ``to_dict``/``from_dict`` for table storage."""

    model: str
    operation_type: str
    provider: str = ""
    count: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms_sum: float = 0.0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_MS))

    def add(self, metric: AIOperationMetric) -> None:
        self.provider = metric.provider
        self.count += 1
        self.errors += 0 if metric.success else 1
        self.input_tokens += metric.input_tokens
        self.output_tokens += metric.output_tokens
        self.cost_usd += metric.cost_usd
        self.latency_ms_sum += metric.latency_ms
        self.bucket_counts[next(i for i, le in enumerate(LATENCY_BUCKETS_MS) if metric.latency_ms <= le)] += 1

    def quantile(self, q: float) -> float | None:
        """Latency (ms) at quantile ``q`` estimated from the buckets; None without observations."""
        if self.count == 0:
            return None
        rank = q * self.count
        cumulative = 0
        lower = 0.0
        for upper, in_bucket in zip(LATENCY_BUCKETS_MS, self.bucket_counts, strict=True):
            if in_bucket and cumulative + in_bucket >= rank:
                if math.isinf(upper):
                    return lower  # like Prometheus: the highest finite bound
                return lower + (upper - lower) * (rank - cumulative) / in_bucket
            cumulative += in_bucket
            lower = upper
        return lower

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperationStats:
        return cls(**data)

    def summary(self) -> dict[str, Any]:
        """The JSON an ops engineer reads at /monitoring: totals plus derived rate and quantiles."""
        return {
            "model": self.model, "operation_type": self.operation_type, "provider": self.provider,
            "count": self.count, "errors": self.errors, "error_rate": round(self.error_rate, 4),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "latency_ms": {"mean": round(self.latency_ms_sum / self.count, 3) if self.count else None,
                           **{f"p{int(q * 100)}": _round(self.quantile(q)) for q in (0.5, 0.95, 0.99)}},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
