"""What a closed monitoring window says to an ops engineer: Alert events with a recommendation.

When a (model, operation) window closes, it is judged against the policy and against the operation's all-time
totals: too many errors, a p95 latency well above its usual one, a window that cost too much. Each alert
carries a recommendation: a cheaper model that does the same operation about as reliably (from the other
models' totals), response caching when the cost comes from one model, or what to look at first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from processors.monitoring.aggregate import OperationStats
from schemas.models import Alert, Severity

FLEET = "fleet"  # alerts are about models and operations, not one dealer
ALERT_NAMESPACE = uuid.UUID("6f1b2c1e-4b8a-4c55-9d0e-0c5e1b7a9a31")


@dataclass(frozen=True)
class AlertPolicy:
    error_rate: float = 0.05  # of a window's calls
    critical_error_rate: float = 0.25
    min_calls: int = 20  # fewer calls in a window say too little
    latency_factor: float = 2.0  # window p95 against the all-time p95
    cost_per_window_usd: float = 5.0
    comparable_error_margin: float = 0.02  # a cheaper model may fail this much more often and still be advised


def assess(window: OperationStats, window_start_s: int, totals: OperationStats | None,
           others: Sequence[OperationStats], policy: AlertPolicy = AlertPolicy()) -> list[Alert]:
    """The alerts of one closed window; ``others`` are the all-time totals of the other (model, operation)s."""
    if window.count < policy.min_calls:
        return []
    alerts = []
    where = f"{window.operation_type} on {window.model}"
    when = datetime.fromtimestamp(window_start_s, UTC).isoformat()
    if window.error_rate > policy.error_rate:
        critical = window.error_rate > policy.critical_error_rate
        alerts.append(_alert(window, window_start_s, "error_rate", Severity.CRITICAL if critical else Severity.WARNING,
                             f"{where}: {window.errors} of {window.count} calls failed in the window from {when}",
                             window.error_rate, policy.error_rate,
                             _cheaper(window, others, policy, cheaper_only=False)
                             or "check the provider's status and the DLQ (`auterity dlq list`); the router's "
                                "fallback chain takes over while the model keeps failing"))
    p95, usual = window.quantile(0.95), totals.quantile(0.95) if totals else None
    if p95 is not None and usual and p95 > policy.latency_factor * usual:
        alerts.append(_alert(window, window_start_s, "latency_degradation", Severity.WARNING,
                             f"{where}: p95 latency {p95:.0f} ms in the window from {when}, usually {usual:.0f} ms",
                             p95, policy.latency_factor * usual,
                             "enable response caching for repeated requests, or move this operation to a faster "
                             "model group; check the provider's latency and this worker's CPU"))
    if window.cost_usd > policy.cost_per_window_usd:
        alerts.append(_alert(window, window_start_s, "cost", Severity.WARNING,
                             f"{where}: {window.cost_usd:.2f} USD in the window from {when}",
                             window.cost_usd, policy.cost_per_window_usd,
                             _cheaper(window, others, policy, cheaper_only=True)
                             or "enable response caching (the router's cache) for repeated prompts and lower the "
                                "dealers' daily budgets; no cheaper model does this operation as reliably"))
    return alerts


def _cheaper(window: OperationStats, others: Sequence[OperationStats], policy: AlertPolicy,
             cheaper_only: bool) -> str | None:
    """A model that does the same operation for less per call and about as reliably, if the totals show one."""
    per_call = window.cost_usd / window.count
    candidates = [o for o in others if o.operation_type == window.operation_type and o.model != window.model
                  and o.count >= policy.min_calls
                  and o.error_rate <= min(window.error_rate, policy.error_rate) + policy.comparable_error_margin
                  and (o.cost_usd / o.count < per_call or not cheaper_only)]
    if not candidates:
        return None
    best = min(candidates, key=lambda o: (o.cost_usd / o.count, o.error_rate))
    return (f"route {window.operation_type} to {best.model}: {best.cost_usd / best.count:.4f} USD per call and "
            f"{best.error_rate:.1%} errors, against {per_call:.4f} USD and {window.error_rate:.1%} here")


def _alert(window: OperationStats, start_s: int, kind: str, severity: Severity, message: str, value: float,
           threshold: float, recommendation: str) -> Alert:
    # One id per (model, operation, window, kind): a window judged again after a restart gives the same event.
    event_id = uuid.uuid5(ALERT_NAMESPACE, f"{window.model}|{window.operation_type}|{start_s}|{kind}")
    return Alert(event_id=event_id, dealer_id=FLEET, alert_type=kind, severity=severity, message=message,
                 model=window.model, operation_type=window.operation_type, value=round(value, 6),
                 threshold=round(threshold, 6), recommendation=recommendation)
