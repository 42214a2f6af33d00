"""The monitoring agent in a real worker: when a window closes with too many errors it publishes an Alert with a
recommendation to the alerts topic, once, even if the metrics arrive again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.codec import AvroCodec
from schemas.models import AIOperationMetric, Alert, Severity
from tests.conftest import Namespace
from tests.kafka_helpers import collect, publish

CODEC = AvroCodec()


def metric(model: str, at: datetime, success: bool, cost: float) -> AIOperationMetric:
    return AIOperationMetric(dealer_id="dealer-riverside-ford", source_event_id=uuid.uuid4(), processor="nlp",
                             operation_type="requirement_analysis", pipeline="requirements", model=model,
                             provider="openai", cost_usd=cost, latency_ms=250.0, success=success, occurred_at=at,
                             error_class=None if success else "RateLimitError")


def test_a_closed_window_with_errors_publishes_one_alert(namespace: Namespace, start_worker: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    start_worker(AUTERITY_MONITORING_WINDOW_S="60")
    earlier = datetime.now(UTC).replace(second=5, microsecond=0) - timedelta(minutes=5)
    failing = [metric("gpt-4o", earlier, success=i >= 12, cost=0.01) for i in range(40)]  # 30% errors
    reliable = [metric("gpt-4o-mini", earlier, success=True, cost=0.0006) for _ in range(40)]
    closing = metric("gpt-4o", earlier + timedelta(minutes=2), success=True, cost=0.01)  # a later window
    publish(settings, topics.metrics_events, [*reliable, *failing])
    publish(settings, topics.metrics_events, [closing])
    publish(settings, topics.metrics_events, failing[:5])  # redelivered metrics: counted and judged once

    records = collect(settings, [topics.alerts], until=lambda rs: len(rs) >= 1, timeout_s=60, settle_s=3.0)
    [alert] = [CODEC.decode(r.value, Alert) for r in records]
    assert (alert.alert_type, alert.severity, alert.model) == ("error_rate", Severity.CRITICAL, "gpt-4o")
    assert alert.value == 0.3 and "12 of 40 calls failed" in alert.message
    assert alert.recommendation is not None and "route requirement_analysis to gpt-4o-mini" in alert.recommendation
    assert records[0].key == b"error_rate"
