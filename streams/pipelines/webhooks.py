"""The webhook sink: every result topic -> each dealer's configured endpoint, signed, retried, then the DLQ.

One consumer group per result topic (``webhooks-<topic>``), selected together as ``webhooks`` by
AUTERITY_PIPELINES. An event whose dealer has no endpoint, or whose topic the dealer did not ask for, is
skipped; one that is never accepted becomes a DeadLetter on ``<topic>.dlq`` with the reason, and
`auterity dlq replay <topic>` delivers it again once the endpoint is fixed.
"""

from __future__ import annotations

import httpx

from connectors.webhooks import DeliveryFailed, WebhookSender
from schemas.models import Event, FailureStage
from streams.pipeline import Outbox, StageError, wire_handler
from streams.runtime import Runtime
from streams.settings import WebhookSettings
from streams.topics import result_topics

GROUP = "webhooks"


class WebhookStep:
    """Delivers one result event to its dealer's endpoint."""

    def __init__(self, runtime: Runtime, topic: str, settings: WebhookSettings, sender: WebhookSender) -> None:
        self.topic, self.settings, self.sender = topic, settings, sender
        self._outcomes = runtime.metrics.webhook_deliveries
        self.name = f"{GROUP}-{topic}"

    async def __call__(self, event: Event, trace_headers: dict[str, bytes], outbox: Outbox) -> None:
        target = self.settings.targets.get(event.dealer_id)
        if target is None or (target.topics is not None and self.topic not in target.topics):
            self._outcomes.labels(self.name, "not_subscribed").inc()
            return
        try:
            await self.sender.deliver(target.url, target.secret.get_secret_value(), event_id=str(event.event_id),
                                      event_type=event.schema_name, body=event.model_dump_json().encode())
        except DeliveryFailed as exc:
            raise StageError(FailureStage.PROCESS, exc, exc.attempts) from exc
        self._outcomes.labels(self.name, "delivered").inc()


def wire(runtime: Runtime) -> None:
    settings = runtime.settings.webhooks
    if not settings.targets:
        return
    sender = WebhookSender(httpx.AsyncClient(timeout=settings.timeout_s), settings.attempts,
                           settings.initial_backoff_s, settings.max_backoff_s)
    for topic in result_topics(runtime.settings.topics):
        step = WebhookStep(runtime, topic, settings, sender)
        wire_handler(runtime, step.name, topic, step, group=GROUP, concurrency=settings.concurrency)
