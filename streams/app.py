"""Assemble a worker: the Faust app, every pipeline, the monitoring table and the web endpoints."""

from __future__ import annotations

from faust.web import Request, Response, View

from connectors.prometheus import OperationStatsCollector
from processors.monitoring import LATENCY_BUCKETS_MS
from streams.pipelines import agents, calls, conversations, documents, monitoring, webhooks
from streams.runtime import Runtime, create_runtime
from streams.settings import Settings


def build_worker(settings: Settings) -> Runtime:
    """A runtime with every pipeline wired; ``runtime.app`` is ready for a Faust worker."""
    runtime = create_runtime(settings)
    for module in (conversations, documents, calls, agents, webhooks):
        module.wire(runtime)
    add_monitoring(runtime)
    return runtime


def add_monitoring(runtime: Runtime) -> monitoring.MonitoringTable:
    """The monitoring table plus /metrics (Prometheus) and /monitoring (JSON) on the worker's web server."""
    table = monitoring.wire(runtime)
    runtime.metrics.registry.register(OperationStatsCollector(table.all_totals, LATENCY_BUCKETS_MS))
    app = runtime.app

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(runtime.metrics.exposition(),
                              content_type="text/plain; version=0.0.4")

    @app.page("/monitoring")
    class Monitoring(View):
        async def get(self, request: Request) -> Response:
            return self.json(table.snapshot())

    return table
