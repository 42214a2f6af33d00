"""Alerts of a closed monitoring window: error rate, latency degradation and cost, each with a recommendation
drawn from the other models' record (a cheaper model that does the operation as reliably, or caching)."""

from __future__ import annotations

import uuid

from processors.monitoring import OperationStats
from processors.monitoring.alerts import AlertPolicy, assess
from schemas.models import AIOperationMetric, Severity

START = 1_795_700_000


def stats(model: str, calls: int, errors: int = 0, latency_ms: float = 200.0, cost: float = 0.001,
          operation: str = "requirement_analysis") -> OperationStats:
    aggregate = OperationStats(model=model, operation_type=operation)
    for i in range(calls):
        aggregate.add(AIOperationMetric(
            dealer_id="dealer-1", source_event_id=uuid.uuid4(), processor="nlp", operation_type=operation,
            pipeline="requirements", model=model, provider="openai", cost_usd=cost, latency_ms=latency_ms,
            success=i >= errors))
    return aggregate


def test_a_quiet_healthy_window_raises_nothing() -> None:
    assert assess(stats("gpt-4o", 100), START, stats("gpt-4o", 1000), []) == []
    assert assess(stats("gpt-4o", 10, errors=10), START, None, []) == []  # too few calls to judge


def test_errors_raise_an_alert_naming_a_model_that_does_the_job_reliably() -> None:
    window = stats("gpt-4o", 100, errors=30, cost=0.01)
    others = [stats("gpt-4o-mini", 500, errors=2, cost=0.0006), stats("claude-haiku", 500, errors=100, cost=0.0002),
              stats("gpt-4o-mini", 500, operation="call_insights")]
    [alert] = assess(window, START, window, others)
    assert (alert.alert_type, alert.severity, alert.model, alert.operation_type) == (
        "error_rate", Severity.CRITICAL, "gpt-4o", "requirement_analysis")
    assert alert.value == 0.3 and alert.threshold == 0.05 and "30 of 100 calls failed" in alert.message
    assert alert.recommendation is not None and alert.recommendation.startswith("route requirement_analysis to "
                                                                                "gpt-4o-mini")


def test_a_slow_window_is_compared_with_the_operations_usual_p95() -> None:
    [alert] = assess(stats("gpt-4o", 50, latency_ms=4000.0), START, stats("gpt-4o", 5000, latency_ms=300.0), [])
    assert alert.alert_type == "latency_degradation" and alert.value > 2 * 300
    assert alert.recommendation is not None and "caching" in alert.recommendation


def test_cost_recommends_a_cheaper_model_or_else_caching() -> None:
    window = stats("gpt-4o", 1000, cost=0.01)  # 10 USD in the window
    [alert] = assess(window, START, window, [stats("gpt-4o-mini", 300, cost=0.0006)])
    assert alert.alert_type == "cost" and alert.value == 10.0
    assert alert.recommendation is not None and "gpt-4o-mini: 0.0006 USD per call" in alert.recommendation
    [alone] = assess(window, START, window, [stats("gpt-4o-mini", 300, errors=150, cost=0.0006)])
    assert alone.recommendation is not None and alone.recommendation.startswith("enable response caching")


def test_the_same_window_gives_the_same_alert_ids_and_the_policy_is_a_setting() -> None:
    window = stats("gpt-4o", 100, errors=10)
    assert [a.event_id for a in assess(window, START, None, [])] == [a.event_id for a in assess(window, START, None,
                                                                                                  [])]
    assert assess(window, START, None, [], AlertPolicy(error_rate=0.2)) == []
