"""Agent orchestration in a real worker on the real broker, with real peers: an SMTP server (aiosmtpd), an SMS
gateway, an http_request endpoint and two enrichment APIs (local HTTP servers), and the CRM in SQLite.

A workflow generated from a chat request runs end to end through `auterity run-workflow`; an enrichment
source that is down leaves the others' data; a worker killed while its run waits for approval resumes
without sending the email again; bad input ends in a clear TaskResult or the DLQ, never a stuck run.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from schemas.codec import AvroCodec
from schemas.models import (
    AgentTask,
    ApprovalDecision,
    ConversationMessage,
    DeadLetter,
    GeneratedWorkflow,
    StepType,
    TaskResult,
    WorkflowResult,
    WorkflowStep,
    WorkflowTrigger,
)
from tests.agent_peers import http_peers, smtp_server, worker_env
from tests.conftest import ROOT, Namespace
from tests.kafka_helpers import collect, publish, publish_raw

CODEC = AvroCodec()
DEALER = "dealer-riverside-ford"
LEAD = {"lead_id": "L-2291", "customer_name": "Maria Lopez", "customer_email": "maria.lopez@example.com",
        "customer_phone": "+12535550142", "vehicle_of_interest": "2025 Ford Maverick XLT", "stock_number": "F2291",
        "lead_source": "website", "comments": "Is the blue Maverick still available? Could I test drive Saturday?"}


def cli(namespace: Namespace, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=namespace.env(**env), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def results(namespace: Namespace, until: Any, timeout_s: float = 90) -> list[TaskResult | WorkflowResult]:
    settings = namespace.settings()
    records = collect(settings, [namespace.topics.agents_results], until=lambda rs: until(
        [CODEC.decode(r.value) for r in rs]), timeout_s=timeout_s)
    return [CODEC.decode(r.value) for r in records]


def workflow(workflow_id: str, steps: list[WorkflowStep], fields: str) -> GeneratedWorkflow:
    return GeneratedWorkflow(dealer_id=DEALER, source_event_id="00000000-0000-4000-8000-000000000001",
                             processor="test", session_id="s-1", workflow_id=workflow_id, name=workflow_id,
                             trigger=WorkflowTrigger(type="manual", config={"fields": fields}), steps=steps, valid=True)


def test_a_generated_workflow_runs_end_to_end_through_agents(namespace: Namespace, start_worker: Any,
                                                             tmp_path: Path) -> None:
    crm_path = str(tmp_path / "crm.sqlite")
    with smtp_server() as (mailbox, smtp_port), http_peers() as peers:
        start_worker(**worker_env(peers, smtp_port, crm_path))
        # A staff member asks for the workflow in the chat builder; the conversations pipeline generates it.
        settings, topics = namespace.settings(), namespace.topics
        publish(settings, topics.conversations_messages, [ConversationMessage(
            dealer_id=DEALER, session_id="s-leads", user_id="staff-7", user_role="sales_manager",
            text="When a new lead comes in from our website, create it in the CRM, answer the customer by email "
                 "and text, and give a salesperson a call task")])
        generated: list[Any] = [CODEC.decode(r.value) for r in collect(
            settings, [topics.workflows_generated], until=lambda rs: len(rs) >= 2, timeout_s=90)]
        [lead_workflow] = [e for e in generated if isinstance(e, GeneratedWorkflow)]
        types = {step.type for step in lead_workflow.steps}
        assert lead_workflow.valid and {StepType.SEND_EMAIL, StepType.SEND_SMS, StepType.CRM_UPDATE} <= types

        inputs = [arg for name, value in LEAD.items() for arg in ("--input", f"{name}={value}")]
        run = cli(namespace, "run-workflow", lead_workflow.workflow_id,  # found on workflows.generated
                  "--run-id", "lead-L-2291", "--timeout", "120", *inputs)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "run lead-L-2291: succeeded" in run.stdout

        # The customer got one email and one text, through the real SMTP server and SMS gateway.
        assert len(mailbox.messages) == 1
        mail = mailbox.messages[0]
        assert mail["To"] == LEAD["customer_email"] and mail["From"] == "service@riverside-ford.example"
        assert mail["Message-ID"].endswith("@auterity>") and "Maverick" in mail.get_payload()
        assert [(m["to"], m["idempotency_key"].endswith("@auterity>")) for m in peers.sms] == [
            (LEAD["customer_phone"], True)]
        # The CRM holds the lead and the salesperson's task.
        with sqlite3.connect(crm_path) as db:
            assert db.execute("select count(*) from tasks where dealer_id = ?", (DEALER,)).fetchone()[0] == 1
            assert db.execute("select count(*) from records where dealer_id = ?", (DEALER,)).fetchone()[0] == 1

        # Enrichment with a source that is down: the CRM's and the other API's data, the failure noted.
        prospect = workflow("fleet-prospect", [
            WorkflowStep(step_id="lookup", type=StepType.ENRICH_COMPANY, name="Look the company up",
                         inputs={"company_name": "trigger.company"}),
            WorkflowStep(step_id="big_fleet", type=StepType.CONDITION, name="Only fleets over 100 people",
                         config={"expression": "value.employees > 100"}, inputs={"value": "lookup.company"},
                         depends_on=["lookup"]),
            WorkflowStep(step_id="sequence", type=StepType.GENERATE_EMAIL_SEQUENCE, name="Write the sequence",
                         config={"goal": "book a fleet consultation"},
                         inputs={"audience": "trigger.segment", "context": "lookup.company"}, depends_on=["big_fleet"]),
            WorkflowStep(step_id="notify", type=StepType.HTTP_REQUEST, name="Tell the fleet desk",
                         config={"url": f"{peers.url}/hook"}, inputs={"payload": "lookup.company"},
                         depends_on=["big_fleet"]),
        ], "company,segment")
        (tmp_path / "prospect.json").write_text(prospect.model_dump_json())
        run = cli(namespace, "run-workflow", "fleet-prospect", "--file", str(tmp_path / "prospect.json"),
                  "--input", "company=Harbor Fleet Services", "--input", "segment=fleet_prospect", "--run-id", "p1")
        assert run.returncode == 0, run.stdout + run.stderr
        by_task = {r.task_id: r for r in results(namespace, lambda rs: any(
            isinstance(r, WorkflowResult) and r.run_id == "p1" for r in rs)) if isinstance(r, TaskResult)
            and r.run_id == "p1"}
        lookup = json.loads(by_task["lookup"].output_json or "")
        company = lookup["company"]
        assert company["industry"] == "fleet management"  # from the CRM
        assert company["revenue_usd"] == 61_000_000  # from the API that answered
        assert sorted(lookup["sources"]) == ["crm", "fleetdata"] and list(lookup["sources_failed"]) == ["downdata"]
        assert "503" in lookup["sources_failed"]["downdata"]
        assert 0 < lookup["confidence"] < 1
        assert peers.enrichment_calls.get("down", 0) >= 1  # it was asked, and failed
        emails = json.loads(by_task["sequence"].output_json or "")["emails"]
        assert len(emails) == 3 and all(e["subject"] and e["body"] for e in emails)
        assert len(peers.hooks) == 1 and peers.hooks[0]["body"]["name"] == "Harbor Fleet Services"

        # Bad input: bytes that are no event and a decision for a run that does not exist go to the DLQ with the
        # reason; an unknown task type gets a failed TaskResult; the worker goes on.
        publish_raw(settings, topics.agents_tasks, [b"not an avro event"], key=b"wf-x")
        publish(settings, topics.agents_tasks, [
            ApprovalDecision(dealer_id=DEALER, workflow_id="no-such-workflow", task_id="approve", approved=True,
                             approver="sam"),
            AgentTask(dealer_id=DEALER, workflow_id="wf-bad", task_id="t1", task_type="teleport")])
        letters = [CODEC.decode(r.value, DeadLetter) for r in collect(
            settings, [f"{topics.agents_tasks}.dlq"], until=lambda rs: len(rs) >= 2, timeout_s=60)]
        reasons = sorted(f"{letter.stage.value}: {letter.error_message}" for letter in letters)
        assert reasons[0].startswith("decode: ")
        assert reasons[1] == "process: approval for workflow no-such-workflow, which has no tasks here"
        bad = [r for r in results(namespace, lambda rs: any(
            isinstance(r, WorkflowResult) and r.workflow_id == "wf-bad" for r in rs)) if r.workflow_id == "wf-bad"]
        assert isinstance(bad[0], TaskResult) and bad[0].status.value == "failed"
        assert (bad[0].error or "").startswith("unknown task type 'teleport'; this worker runs: ")


def test_a_killed_worker_resumes_the_run_without_sending_the_email_again(namespace: Namespace, start_worker: Any,
                                                                       tmp_path: Path) -> None:
    steps = [
        WorkflowStep(step_id="welcome", type=StepType.SEND_EMAIL, name="Send the welcome",
                     config={"subject": "Welcome to Riverside Ford"}, inputs={"to": "trigger.email",
                                                                              "body": "trigger.message"}),
        WorkflowStep(step_id="manager_ok", type=StepType.HUMAN_APPROVAL, name="Manager approves the offer",
                     config={"approver_role": "sales_manager"}, depends_on=["welcome"]),
        WorkflowStep(step_id="post_offer", type=StepType.HTTP_REQUEST, name="Send the offer to the DMS",
                     config={"url": "http://127.0.0.1/placeholder"}, inputs={"payload": "trigger.offer"},
                     depends_on=["manager_ok"]),
    ]
    crm_path = str(tmp_path / "crm.sqlite")
    with smtp_server() as (mailbox, smtp_port), http_peers() as peers:
        steps[2].config["url"] = f"{peers.url}/hook"
        path = tmp_path / "offer.json"
        path.write_text(workflow("offer", steps, "email,message,offer").model_dump_json())
        env = worker_env(peers, smtp_port, crm_path)
        first = start_worker(**env)
        run = cli(namespace, "run-workflow", "offer", "--file", str(path), "--run-id", "r1", "--no-wait",
                  "--input", "email=maria.lopez@example.com", "--input", "message=Thanks for visiting us today.",
                  "--input", "offer=0.9% APR for 60 months")
        assert run.returncode == 0, run.stderr
        results(namespace, lambda rs: any(isinstance(r, TaskResult) and r.task_id == "welcome" for r in rs))
        assert len(mailbox.messages) == 1
        time.sleep(1.0)  # the run now waits for the manager
        first.kill()  # SIGKILL while the run is paused

        second = start_worker(**env)
        approved = cli(namespace, "approve", "offer", "manager_ok", "--approver", "sam.rivera", "--dealer", DEALER,
                       "--run-id", "r1")
        assert approved.returncode == 0, approved.stderr
        final = [r for r in results(namespace, lambda rs: any(isinstance(r, WorkflowResult) for r in rs))
                 if isinstance(r, WorkflowResult)]
        assert final[0].status.value == "succeeded", final[0]
        assert len(mailbox.messages) == 1  # not sent again by the second worker
        assert len(peers.hooks) == 1 and peers.hooks[0]["body"] == "0.9% APR for 60 months"
        tasks = {r.task_id: r for r in results(namespace, lambda rs: any(
            isinstance(r, TaskResult) and r.task_id == "manager_ok" for r in rs)) if isinstance(r, TaskResult)}
        assert json.loads(tasks["manager_ok"].output_json or "") == {"approved": True, "approver": "sam.rivera"}
        assert second.process is not None and second.process.poll() is None


def test_run_workflow_says_why_it_cannot_start_a_run(namespace: Namespace, tmp_path: Path) -> None:
    missing = cli(namespace, "run-workflow", "no-such-workflow", "--no-wait", timeout=60)
    assert missing.returncode == 1
    assert f"no workflow no-such-workflow on {namespace.topics.workflows_generated}" in missing.stderr
    invalid = workflow("draft", [WorkflowStep(step_id="s", type=StepType.SEND_EMAIL, name="Send")], "email")
    path = tmp_path / "draft.json"
    path.write_text(invalid.model_copy(update={"valid": False, "validation_errors": [
        "send_email step 's' needs input 'to'"]}).model_dump_json())
    refused = cli(namespace, "run-workflow", "draft", "--file", str(path), "--no-wait", timeout=60)
    assert refused.returncode == 1 and "workflow draft is not valid: send_email step 's' needs input 'to'" in \
        refused.stderr.replace("\n", " ")
    bad_input = cli(namespace, "run-workflow", "draft", "--file", str(path), "--input", "email", timeout=60)
    assert bad_input.returncode == 2 and "NAME=VALUE" in bad_input.stderr
