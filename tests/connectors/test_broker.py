"""The embedded Tansu broker starts, answers Kafka metadata requests, and stops cleanly."""

from __future__ import annotations

import pytest

from connectors.broker import BrokerNotReady, EmbeddedBroker, wait_for_broker
from tests.conftest import free_port


def test_start_probe_and_stop() -> None:
    port = free_port()
    with EmbeddedBroker(port=port) as broker:
        wait_for_broker(broker.bootstrap_servers, timeout_s=5)
    with pytest.raises(BrokerNotReady):
        wait_for_broker(f"127.0.0.1:{port}", timeout_s=1)


def test_a_second_broker_on_a_busy_port_fails_clearly(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerNotReady, match="already in use"):
        EmbeddedBroker(port=broker.port, ready_timeout_s=5).start()
