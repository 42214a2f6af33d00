"""Shared fixtures: one real Tansu broker per test session, workers as real subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.broker import EmbeddedBroker
from streams.settings import Settings, TopicNames

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(port=free_port(), log_path=log) as embedded:
        yield embedded


@dataclass
class Namespace:
    """A private set of topic names and app id, so tests sharing the broker never see each other's events."""

    bootstrap: str
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")

    @property
    def topics(self) -> TopicNames:
        return TopicNames(**{name: f"{self.prefix}.{default}"
                             for name, default in TopicNames().model_dump().items()})

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "AUTERITY_BOOTSTRAP_SERVERS": self.bootstrap, "AUTERITY_APP_ID": f"{self.prefix}-app",
               "AUTERITY_LOG_LEVEL": "info", "PYTHONPATH": str(ROOT), "AUTERITY_VECTOR_URI": self.vector_uri}
        env.update({f"AUTERITY_TOPICS__{k.upper()}": v for k, v in self.topics.model_dump().items()})
        env.update(extra)
        return env

    @property
    def vector_uri(self) -> str:
        """milvus-lite allows one process per path: each namespace (and its worker) gets its own."""
        return str(Path(tempfile.gettempdir()) / "auterity-tests" / self.prefix / "milvus.db")

    def settings(self, **overrides: object) -> Settings:
        return Settings(bootstrap_servers=self.bootstrap, app_id=f"{self.prefix}-app", topics=self.topics,
                        **{"vector_uri": self.vector_uri, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def namespace(broker: EmbeddedBroker) -> Namespace:
    return Namespace(broker.bootstrap_servers)


class WorkerProcess:
    """``auterity worker`` (or another worker module) as a subprocess with its own web port."""

    def __init__(self, ns: Namespace, log_path: Path, module: str = "streams.cli", **env: str) -> None:
        self.ns, self.log_path, self.module = ns, log_path, module
        self.web_port = free_port()
        self.env = ns.env(AUTERITY_WEB_PORT=str(self.web_port), **env)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> WorkerProcess:
        args = [sys.executable, "-m", self.module, "worker"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the web server answers once the worker is up
            assert self.process.poll() is None, f"worker exited early:\n{self.log()}"
            try:
                httpx.get(f"{self.url}/monitoring", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.3)
        raise TimeoutError(f"worker did not start:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no goodbye, no final commit, like a crashed pod."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


@pytest.fixture
def start_worker(namespace: Namespace, tmp_path: Path) -> Iterator[object]:
    """Factory: ``start_worker(**env)`` starts a worker in this test's namespace; all are stopped after."""
    workers: list[WorkerProcess] = []

    def start(module: str = "streams.cli", **env: str) -> WorkerProcess:
        worker = WorkerProcess(namespace, tmp_path / f"worker-{len(workers)}.log", module, **env)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def call_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The synthesised call corpus (espeak-ng + sox), built once per session: name -> BuiltCall."""
    from tests.calls_corpus import build_all

    return {built.call.name: built for built in build_all(tmp_path_factory.mktemp("calls"))}


@pytest.fixture(scope="session")
def call_analyzer() -> Any:
    """The calls processor with the default engine (faster-whisper, tiny.en), loaded once per session."""
    from streams.pipelines.calls import call_analyzer

    return call_analyzer(Settings())


@pytest.fixture(scope="session")
def conversation_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the conversations processors: the offline router, a private milvus-lite path."""
    return Settings(vector_uri=str(tmp_path_factory.mktemp("milvus") / "templates.db"))


@pytest.fixture
def analyze(conversation_settings: Settings) -> Any:
    """``await analyze(text, session=..., store=...)``: the requirements processor on one message."""
    from processors.ports import MemoryContextStore
    from schemas.models import ConversationMessage
    from streams.pipelines.conversations import requirement_analyzer

    sessions = MemoryContextStore()

    async def run(text: str, session: str = "s1", dealer: str = "d1", role: str | None = None) -> Any:
        event = ConversationMessage(dealer_id=dealer, session_id=session, user_id="u1", user_role=role, text=text)
        return await requirement_analyzer(conversation_settings, sessions).process(event)

    return run


@pytest.fixture
def generator(conversation_settings: Settings) -> Any:
    """The workflow generator with an empty workflows table."""
    from processors.ports import MemoryContextStore
    from streams.pipelines.conversations import workflow_generator

    return workflow_generator(conversation_settings, MemoryContextStore())


GATEWAY_KEYS = {"dealer-riverside-ford": "ak_riverside-test-key", "dealer-lakeside-toyota": "ak_lakeside-test-key"}


@pytest.fixture
def start_gateway(namespace: Namespace, tmp_path: Path) -> Iterator[Callable[..., tuple[str, Any]]]:
    """Factory: ``start_gateway(**gateway_settings)`` runs the ingest gateway on uvicorn in a thread, in this
    test's namespace, with the GATEWAY_KEYS; returns (base URL, settings)."""
    import uvicorn

    from connectors.gateway import key_hash
    from streams.gateway import gateway_app
    from streams.settings import GatewaySettings
    from streams.topics import ensure_topics_sync

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**gateway: Any) -> tuple[str, Any]:
        settings = namespace.settings(blob_store=str(tmp_path / "blobs"), gateway=GatewaySettings(
            api_keys={key_hash(k): d for d, k in GATEWAY_KEYS.items()}, **gateway))
        ensure_topics_sync(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(gateway_app(settings), host="127.0.0.1", port=port,
                                               log_level="warning", timeout_keep_alive=2))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}", settings

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)
