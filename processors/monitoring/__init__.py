"""Aggregation of AIOperationMetric events per (model, operation type): totals and tumbling windows."""

from processors.monitoring.aggregate import LATENCY_BUCKETS_MS, OperationStats, window_start

__all__ = ["LATENCY_BUCKETS_MS", "OperationStats", "window_start"]
