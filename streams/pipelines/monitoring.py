"""metrics.events -> the monitoring table: all-time totals and tumbling windows per (model, operation type).

The tables live in Faust (changelogged, so a restarted worker recovers them). Each metric event is counted
once: the pipeline de-duplicates on event_id like every other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from processors.monitoring import OperationStats, window_start
from processors.monitoring.alerts import AlertPolicy, assess
from schemas.models import AIOperationMetric
from streams.pipeline import Outbox, publish, wire_agent
from streams.runtime import Runtime


class MonitoringTable:
    """Totals keyed ``model|operation``; windows keyed ``model|operation|window_start``."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.policy = AlertPolicy(error_rate=settings.alert_error_rate, min_calls=settings.alert_min_calls,
                                  latency_factor=settings.alert_latency_factor,
                                  cost_per_window_usd=settings.alert_cost_per_window_usd)
        self.window_s, self.expiry_s = settings.monitoring_window_s, settings.monitoring_window_expiry_s
        partitions = runtime.topics[settings.topics.metrics_events].partitions
        table_options: dict[str, Any] = {"key_type": str, "value_type": bytes, "partitions": partitions}
        self.totals = runtime.app.Table("monitoring-totals", **table_options)
        self.windows = runtime.app.Table("monitoring-windows", **table_options)
        self.window_index = runtime.app.Table("monitoring-window-index", **table_options)
        wire_agent(runtime, "monitoring", settings.topics.metrics_events, AIOperationMetric, self.handle)

    async def handle(self, metric: AIOperationMetric, trace_headers: dict[str, bytes], outbox: Outbox) -> None:
        key = f"{metric.model}|{metric.operation_type}"
        self._add(self.totals, key, metric)
        start = window_start(metric.occurred_at, self.window_s)
        self._add(self.windows, f"{key}|{start}", metric)
        starts: list[int] = json.loads(self.window_index.get(key, b"[]"))
        if starts and start > max(starts):  # the latest window of this key has closed: judge it
            await self._judge(key, max(starts), trace_headers, outbox)
        if start not in starts:
            horizon = start - self.expiry_s
            for expired in [s for s in starts if s < horizon]:
                self.windows.pop(f"{key}|{expired}", None)
            self.window_index[key] = json.dumps(sorted([s for s in starts if s >= horizon] + [start])).encode()

    async def _judge(self, key: str, closed: int, trace_headers: dict[str, bytes], outbox: Outbox) -> None:
        """Publish the alerts (with their recommendations) of a closed window to the alerts topic."""
        raw = self.windows.get(f"{key}|{closed}")
        if raw is None:
            return
        totals = self.totals.get(key)
        others = [OperationStats.from_dict(json.loads(v)) for k, v in self.totals.items() if k != key]
        for alert in assess(OperationStats.from_dict(json.loads(raw)), closed,
                            OperationStats.from_dict(json.loads(totals)) if totals else None, others, self.policy):
            await publish(self.runtime, outbox, alert, trace_headers)

    @staticmethod
    def _add(table: Any, key: str, metric: AIOperationMetric) -> None:
        raw = table.get(key)
        stats = (OperationStats.from_dict(json.loads(raw)) if raw
                 else OperationStats(model=metric.model, operation_type=metric.operation_type))
        stats.add(metric)
        table[key] = json.dumps(stats.to_dict()).encode()

    def all_totals(self) -> Iterator[OperationStats]:
        for _, raw in sorted(self.totals.items()):
            yield OperationStats.from_dict(json.loads(raw))

    def snapshot(self) -> dict[str, Any]:
        """What /monitoring serves: totals and every kept window, newest first."""
        windows = []
        for key, raw in self.windows.items():
            start = int(key.rsplit("|", 1)[1])
            windows.append({"window_start": datetime.fromtimestamp(start, UTC).isoformat(),
                            "window_s": self.window_s, **OperationStats.from_dict(json.loads(raw)).summary()})
        windows.sort(key=lambda w: (w["window_start"], w["model"], w["operation_type"]), reverse=True)
        return {"totals": [s.summary() for s in self.all_totals()], "windows": windows}


def wire(runtime: Runtime) -> MonitoringTable:
    return MonitoringTable(runtime)
