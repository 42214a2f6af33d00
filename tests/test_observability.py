"""Dashboards and alerts against a real Prometheus: the rules pass promtool, and every PromQL expression of every
Grafana panel and every rule parses and returns data once Prometheus has scraped a worker that handled chats,
a scan, a call, agent tasks and a malformed event."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from schemas.models import AgentTask, CallRecorded, ConversationMessage, DocumentReceived
from tests.conftest import ROOT, Namespace, free_port
from tests.kafka_helpers import collect, publish, publish_raw

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "auterity.rules.yml"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
SAMPLES = ROOT / "streams" / "samples"
DEALER = "dealer-riverside-ford"

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the Debian prometheus package "
                                "(the README's test command installs it)")


def panel_expressions() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found += [(f"{path.stem}: {panel['title']}", target["expr"]) for target in panel["targets"]]
    return found


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_the_rules_pass_promtool_and_a_broken_rule_does_not(tmp_path: Path) -> None:
    ok = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert ok.returncode == 0 and "SUCCESS: 11 rules found" in ok.stdout, ok.stdout + ok.stderr
    broken = tmp_path / "broken.yml"
    text = RULES.read_text()
    assert "increase(auterity_dead_letters_total[15m])" in text
    broken.write_text(text.replace("increase(auterity_dead_letters_total[15m])",
                                   "increase(auterity_dead_letters_total[15m]"))  # an unclosed parenthesis
    assert subprocess.run(["promtool", "check", "rules", str(broken)], capture_output=True).returncode != 0


def test_the_dashboards_are_provisioned_with_every_panel_on_prometheus() -> None:
    assert {p.stem for p in DASHBOARDS} == {"overview", "ai-operations", "pipelines"}
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "auterity.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] and all(p["datasource"]["uid"] == uid for p in board["panels"])
    labels_allowed = {"pipeline", "outcome", "stage", "model", "operation", "provider", "direction", "engine", "valid",
                      "le"}
    for _, expr in panel_expressions():  # bounded label sets: no event ids or free text as labels
        for group in (part.split(")")[0] for part in expr.split("by (")[1:]):
            assert {label.strip() for label in group.split(",")} <= labels_allowed, expr


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(target: str) -> str:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "auterity-worker", "static_configs": [{"targets": [target]}]}]}))
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed with the process below
        processes.append(subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError((tmp_path / "prometheus.log").read_text())

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def query(url: str, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    return answer


def test_every_panel_and_rule_returns_data_from_a_scraped_worker(namespace: Namespace, start_worker: Any,
                                                                 prometheus: Any) -> None:
    settings, topics = namespace.settings(), namespace.topics
    worker = start_worker()
    url = prometheus(worker.url.removeprefix("http://"))
    deadline = time.monotonic() + 30
    while query(url, 'up{job="auterity-worker"} == 1')["data"]["result"] == [] and time.monotonic() < deadline:
        time.sleep(0.5)

    scan, call = (SAMPLES / "repair-order.png").read_bytes(), (SAMPLES / "service-call.ogg").read_bytes()
    publish(settings, topics.conversations_messages, [
        ConversationMessage(dealer_id=DEALER, session_id=f"s-{i}", user_id="staff-1",
                            text="Text service customers 30 days before their oil change") for i in range(3)])
    publish(settings, topics.documents_received, [DocumentReceived(
        dealer_id=DEALER, document_id="RO-1", filename="ro.png", content_type="image/png", content=scan,
        sha256=hashlib.sha256(scan).hexdigest(), size_bytes=len(scan))])
    publish(settings, topics.calls_recorded, [CallRecorded(
        dealer_id=DEALER, call_id="c-1", content_type="audio/ogg", content=call,
        sha256=hashlib.sha256(call).hexdigest(), size_bytes=len(call))])
    publish(settings, topics.agents_tasks, [AgentTask(dealer_id=DEALER, task_id="t-1", workflow_id="wf-1",
                                                      task_type="company_lookup")])
    publish_raw(settings, topics.documents_received, [b"%PDF-1.7 not an avro event"])
    collect(settings, [topics.documents_analyzed, topics.calls_analyzed, topics.workflows_generated],
            until=lambda rs: {r.topic for r in rs} == {topics.documents_analyzed, topics.calls_analyzed,
                                                        topics.workflows_generated}, timeout_s=180)

    expressions = [*panel_expressions(), *((r.get("record") or r["alert"], r["expr"]) for r in rules())]
    missing: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the monitoring table trails the metrics topic; rules run every second
        missing = []
        for name, expr in expressions:
            answer = query(url, expr)
            assert answer["status"] == "success", f"{name}: {expr}: {answer}"  # it parses
            if name.startswith("Auterity"):  # an alert: its signal (left of the comparison) has data
                signal = expr.split(" > ")[0]
                if not query(url, signal)["data"]["result"]:
                    missing.append(f"{name}: {signal}")
            elif not answer["data"]["result"]:
                missing.append(f"{name}: {expr}")
        if not missing:
            break
        time.sleep(2)
    assert missing == []
