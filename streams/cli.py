"""The ``auterity`` command: run the broker and workers, publish, tail, inspect the DLQ, monitor, demo."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from connectors.broker import EmbeddedBroker
from schemas.errors import InvalidEvent
from schemas.models import (
    CallAnalysis,
    ConversationMessage,
    DocumentAnalysis,
    DocumentType,
    Event,
    GeneratedWorkflow,
    RequirementAnalysis,
)
from streams.settings import Settings, get_settings

if TYPE_CHECKING:
    from streams.runtime import Runtime

app = typer.Typer(help="Auterity Streams: event-driven AI pipelines for dealerships.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and replay dead letters.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
console = Console()
err = Console(stderr=True)


def run_worker(settings: Settings, build: Callable[[Settings], Runtime] | None = None) -> None:
    """Create missing topics, then run a Faust worker with every pipeline until interrupted."""
    from faust.worker import Worker

    from streams.app import build_worker
    from streams.topics import ensure_topics_sync

    ensure_topics_sync(settings)
    runtime = (build or build_worker)(settings)
    worker = Worker(runtime.app, loglevel=settings.log_level, quiet=True)
    worker.spinner = None  # Faust's spinner sets the root logger to DEBUG: every debug record then costs CPU
    worker.execute_from_commandline()


@app.command()
def broker() -> None:
    """Run the embedded Tansu broker on AUTERITY_BROKER_HOST:AUTERITY_BROKER_PORT until interrupted."""
    settings = get_settings()
    with EmbeddedBroker(settings.broker_host, settings.broker_port) as embedded:
        console.print(f"[green]Tansu broker ready[/] at {embedded.bootstrap_servers} (memory storage). "
                      "Ctrl-C stops it.")
        try:
            embedded.wait()
        except KeyboardInterrupt:
            console.print("stopping broker")


@app.command()
def worker() -> None:
    """Run a worker (all pipelines, /metrics and /monitoring) against the configured broker."""
    run_worker(get_settings())


@app.command()
def up() -> None:
    """Start the embedded broker (unless AUTERITY_BOOTSTRAP_SERVERS names a cluster) and a worker."""
    settings = get_settings()
    if settings.external_broker():
        run_worker(settings)
        return
    with EmbeddedBroker(settings.broker_host, settings.broker_port) as embedded:
        console.print(f"[green]Tansu broker ready[/] at {embedded.bootstrap_servers}")
        run_worker(settings)


def _read_json_events(source: str | None) -> list[dict[str, Any]]:
    text = sys.stdin.read() if source in (None, "-") else Path(source).read_text()
    text = text.strip()
    if text.startswith("["):
        loaded = json.loads(text)
        return list(loaded)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@app.command()
def publish(
    topic: Annotated[str, typer.Argument(help="Topic to publish to, e.g. conversations.messages.")],
    source: Annotated[str | None, typer.Argument(
        help="JSON file (object, array or JSON lines); - or none for stdin.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Event type when the topic carries several.")] = None,
) -> None:
    """Validate JSON events against the topic's schema, then produce them. Prints each event_id."""
    from schemas.models import EVENT_MODELS
    from streams.kafka import producer, send_event
    from streams.runtime import make_codec
    from streams.topics import TopicRegistry

    settings = get_settings()
    spec = TopicRegistry(settings)[topic]
    model: type[Event] = EVENT_MODELS[event_type] if event_type else spec.event_types[0]
    if model not in spec.event_types:
        raise typer.BadParameter(f"{topic} carries {', '.join(t.schema_name for t in spec.event_types)}")
    events: list[Event] = []
    for number, raw in enumerate(_read_json_events(source), start=1):
        try:
            events.append(model.model_validate(raw))
        except ValidationError as exc:
            err.print(f"[red]event {number} is not a valid {model.schema_name}:[/]\n{exc}")
            raise typer.Exit(2) from None
    codec = make_codec(settings)

    async def send_all() -> None:
        async with producer(settings) as client:
            sent = [await send_event(client, codec, topic, event) for event in events]
            await asyncio.gather(*sent)  # acknowledged by the broker before we report the ids
        for event in events:
            console.print(str(event.event_id))

    asyncio.run(send_all())


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="Topic to read.")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning/--new", help="Start at the oldest event.")] = True,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep waiting for new events.")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
) -> None:
    """Consume a topic, decode every event and print it as a JSON line."""
    from schemas.errors import EventError
    from streams.kafka import consumer, read_to_end
    from streams.runtime import make_codec

    settings = get_settings()
    codec = make_codec(settings)

    async def run() -> None:
        printed = 0
        async with consumer(settings, [topic], from_beginning=from_beginning) as client:
            records = client if follow else read_to_end(client)
            async for record in records:
                try:
                    event: Event = codec.decode(record.value or b"")
                    line = event.model_dump_json()
                except EventError as exc:
                    line = json.dumps({"undecodable": str(exc), "partition": record.partition,
                                       "offset": record.offset})
                print(line, flush=True)
                printed += 1
                if limit is not None and printed >= limit:
                    return

    asyncio.run(run())


@dlq_app.command("list")
def dlq_list(topic: Annotated[str, typer.Argument(help="Original topic, e.g. documents.received.")],
             as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False) -> None:
    """Show every dead letter of TOPIC with its stage and reason."""
    from streams.dlq import dead_letters
    from streams.runtime import make_codec

    settings = get_settings()
    codec = make_codec(settings)

    async def collect() -> list[Any]:
        return [entry async for entry in dead_letters(settings, topic, codec)]

    entries = asyncio.run(collect())
    if as_json:
        for entry in entries:
            print(entry.letter.model_dump_json(exclude={"original_value", "original_headers", "original_key"}))
        return
    table = Table(title=f"{topic}.dlq: {len(entries)} dead letters")
    for column in ("partition:offset", "failed at", "pipeline", "stage", "error", "attempts"):
        table.add_column(column)
    for entry in entries:
        letter = entry.letter
        table.add_row(f"{entry.partition}:{entry.offset}", letter.occurred_at.isoformat(timespec="seconds"),
                      letter.pipeline, letter.stage.value, f"{letter.error_class}: {letter.error_message[:120]}",
                      str(letter.attempts))
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="Original topic whose dead letters to replay.")],
    event_id: Annotated[list[str] | None, typer.Option("--event-id", help="Replay only these events.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be replayed.")] = False,
) -> None:
    """Put dead letters back on TOPIC (original key, bytes and headers); each entry is replayed once."""
    from streams.dlq import replay
    from streams.runtime import make_codec

    settings = get_settings()
    entries = asyncio.run(replay(settings, topic, make_codec(settings),
                                 event_ids=set(event_id) if event_id else None, dry_run=dry_run))
    verb = "would replay" if dry_run else "replayed"
    console.print(f"{verb} {len(entries)} dead letters onto {topic}")


def monitoring_table(snapshot: dict[str, Any]) -> Table:
    table = Table(title="AI operations (all time)")
    for column in ("model", "operation", "calls", "errors", "tokens in/out", "cost USD", "p50 ms", "p95 ms",
                   "p99 ms"):
        table.add_column(column, justify="right" if column not in ("model", "operation") else "left")
    for row in snapshot.get("totals", []):
        latency = row["latency_ms"]
        table.add_row(row["model"], row["operation_type"], str(row["count"]), str(row["errors"]),
                      f"{row['input_tokens']}/{row['output_tokens']}", f"{row['cost_usd']:.4f}",
                      *(f"{latency[p]:.1f}" if latency[p] is not None else "-" for p in ("p50", "p95", "p99")))
    return table


@app.command()
def monitor(
    url: Annotated[str | None, typer.Option(help="Worker URL; default from AUTERITY_WEB_HOST/PORT.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one table and exit.")] = False,
) -> None:
    """Show the worker's monitoring table live in the terminal."""
    settings = get_settings()
    base = url or f"http://{settings.web_host}:{settings.web_port}"

    def fetch() -> Table:
        try:
            return monitoring_table(httpx.get(f"{base}/monitoring", timeout=5).json())
        except httpx.HTTPError as exc:
            return Table(title=f"worker at {base} not reachable: {exc}")

    if once:
        console.print(fetch())
        return
    with Live(fetch(), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(fetch())
        except KeyboardInterrupt:
            pass


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A call recording: WAV, MP3, OGG, ...")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the CallAnalysis JSON the stream would publish.")]
    = False,
    agent_channel: Annotated[int, typer.Option(help="Stereo channel carrying the dealership agent.")] = 0,
    agent_id: Annotated[str | None, typer.Option(help="The agent, as assignee of their action items.")] = None,
    started_at: Annotated[str | None, typer.Option(help="When the call started (ISO 8601); deadlines such as "
                                                   "'by Friday' are resolved against it. Default: now.")] = None,
) -> None:
    """Transcribe and analyse one call recording here, without a broker (exit code 1 if it cannot be analysed)."""
    from datetime import datetime

    from streams.pipelines.calls import call_analyzer, recorded_call

    settings = get_settings()
    event = recorded_call(settings, file.read_bytes(), call_id=file.stem, dealer_id="local", inline_only=True,
                          agent_channel=agent_channel, agent_id=agent_id,
                          started_at=datetime.fromisoformat(started_at) if started_at else None)
    analyzer = call_analyzer(settings)
    outcome = analyzer.process(event)
    result = (asyncio.run(outcome) if inspect.isawaitable(outcome) else outcome).results[0]
    assert isinstance(result, CallAnalysis)
    if as_json:
        print(result.model_dump_json())
    else:
        _print_call(result)
    raise typer.Exit(1 if result.error else 0)


def _print_call(result: CallAnalysis) -> None:
    if result.error:
        err.print(f"[red]{result.call_id}: {result.error}[/]")
        return
    console.print(f"[bold]{result.call_id}[/]: {result.duration_seconds:.1f} s, language {result.language}, "
                  f"sentiment {result.sentiment} ({result.sentiment_score:+.2f})")
    table = Table("start", "speaker", "sentiment", "text")
    for segment in result.segments:
        mood = f"{segment.sentiment:+.2f}" + (" [red]stress[/]" if segment.stress else "")
        table.add_row(f"{segment.start:6.1f}", segment.speaker, mood, segment.text)
    console.print(table)
    for item in result.action_items:
        due = f" by {item.deadline:%a %Y-%m-%d %H:%M} UTC" if item.deadline else ""
        console.print(f"  [cyan]action[/] ({item.priority}) {item.assignee or 'unassigned'}: {item.task}{due}")
    console.print(f"[bold]summary[/]: {result.summary}")


@app.command()
def ocr(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A scan: PNG, JPEG, TIFF or PDF.")],
    engine: Annotated[str | None, typer.Option(help="Read with paddle or tesseract alone; default "
                                               "AUTERITY_OCR__ENGINE (paddle) with the other engine as fallback.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the DocumentAnalysis JSON the stream would "
                                          "publish.")] = False,
    document_type: Annotated[DocumentType | None, typer.Option(help="The type the scanner says it is (a hint).")]
    = None,
) -> None:
    """Read one document here, without a broker (exit code 1 if it cannot be read)."""
    from processors.ocr.engines import EngineName
    from streams.pipelines.documents import document_analyzer, received_document

    if engine not in (None, "paddle", "tesseract"):
        raise typer.BadParameter(f"unknown engine {engine!r}: paddle or tesseract", param_hint="--engine")
    settings = get_settings()
    event = received_document(settings, file.read_bytes(), document_id=file.stem, dealer_id="local",
                              filename=file.name, inline_only=True, document_type_hint=document_type)
    result = document_analyzer(settings, cast(EngineName | None, engine)).process(event).results[0]
    assert isinstance(result, DocumentAnalysis)
    if as_json:
        print(result.model_dump_json())
    else:
        _print_document(result)
    raise typer.Exit(1 if result.error else 0)


def _print_document(result: DocumentAnalysis) -> None:
    if result.error:
        err.print(f"[red]{result.document_id}: {result.error}[/]")
        return
    confidence = f"{result.mean_confidence:.2f}" if result.mean_confidence is not None else "-"
    console.print(f"[bold]{result.document_id}[/]: {result.document_type}, {result.pages} page(s), "
                  f"read by {result.engine} (confidence {confidence})")
    table = Table("field", "value", "confidence")
    for name, value in result.fields.model_dump().items():
        if value is not None:
            table.add_row(name, str(value), f"{result.field_confidence.get(name, 0):.2f}")
    console.print(table)


def _analyze_locally(text: str, dealer: str, session: str, role: str | None) -> tuple[Any, RequirementAnalysis]:
    """Analyse one message as the requirements pipeline would, with an in-memory session."""
    from processors.ports import MemoryContextStore
    from streams.pipelines.conversations import requirement_analyzer

    settings = get_settings()
    event = ConversationMessage(dealer_id=dealer, session_id=session, user_id="cli", user_role=role, text=text)
    try:
        outcome = asyncio.run(requirement_analyzer(settings, MemoryContextStore()).process(event))
    except InvalidEvent as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    analysis = outcome.results[0]
    assert isinstance(analysis, RequirementAnalysis)
    return settings, analysis


@app.command()
def analyze(
    text: Annotated[str, typer.Argument(help="What a staff member typed into the chat builder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the RequirementAnalysis JSON the stream would "
                                          "publish.")] = False,
    dealer: Annotated[str, typer.Option(help="Dealer id (tenant): its PII and model policies apply.")] = "local",
    role: Annotated[str | None, typer.Option(help="The user's role, for the model-access policy.")] = None,
) -> None:
    """Analyse one chat request here, without a broker (exit code 1 if it cannot be analysed)."""
    _, analysis = _analyze_locally(text, dealer, "cli", role)
    if as_json:
        print(analysis.model_dump_json())
    else:
        console.print(f"intent [bold]{analysis.intent}[/] ({analysis.confidence:.2f}), domain "
                      f"[bold]{analysis.business_domain}[/]" + (f" [red]{analysis.error}[/]" if analysis.error else ""))
        for entity in analysis.entities:
            console.print(f"  [cyan]{entity.type}[/] {entity.value} -> {entity.normalized}")
        for label, items in (("requirement", analysis.requirements), ("constraint", analysis.constraints),
                             ("success", analysis.success_criteria)):
            for item in items:
                console.print(f"  [green]{label}[/] {item}")
    raise typer.Exit(1 if analysis.error else 0)


@app.command()
def generate(
    text: Annotated[str, typer.Argument(help="What a staff member typed into the chat builder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the events the stream would publish on "
                                          "workflows.generated (a JSON array: the workflow, then its interface).")]
    = False,
    dealer: Annotated[str, typer.Option(help="Dealer id (tenant).")] = "local",
    role: Annotated[str | None, typer.Option(help="The user's role, for the model-access policy.")] = None,
) -> None:
    """Analyse a chat request and generate its workflow here, without a broker (exit code 1 if invalid)."""
    from processors.ports import MemoryContextStore
    from streams.pipelines.conversations import workflow_generator

    settings, analysis = _analyze_locally(text, dealer, "cli", role)
    results = workflow_generator(settings, MemoryContextStore()).process(analysis).results
    workflow = results[0]
    if as_json:
        print("[" + ",".join(r.model_dump_json() for r in results) + "]")
    elif isinstance(workflow, GeneratedWorkflow):
        state = "[green]valid[/]" if workflow.valid else "[red]invalid[/]"
        console.print(f"[bold]{workflow.name}[/] v{workflow.version} ({state}, template {workflow.template_id}, "
                      f"~${workflow.estimated_cost_usd:.4f}/run)")
        table = Table("phase", "step", "type", "inputs", "depends on")
        phase_of = {step: i for i, phase in enumerate(workflow.phases) for step in phase}
        for step in sorted(workflow.steps, key=lambda s: phase_of.get(s.step_id, 99)):
            table.add_row(str(phase_of.get(step.step_id, "-")), step.step_id, step.type.value,
                          ", ".join(f"{k}={v}" for k, v in step.inputs.items()), ", ".join(step.depends_on))
        console.print(table)
        for line in [*workflow.changes, *workflow.validation_errors]:
            console.print(f"  {line}")
    invalid = isinstance(workflow, GeneratedWorkflow) and not workflow.valid
    raise typer.Exit(1 if invalid else 0)


@app.command(name="publish-call")
def publish_call(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A call recording.")],
    dealer: Annotated[str, typer.Option(help="The dealership (tenant).")],
    call_id: Annotated[str | None, typer.Option(help="Id in the phone system; default the file name.")] = None,
    agent_channel: Annotated[int, typer.Option(help="Stereo channel carrying the dealership agent.")] = 0,
    agent_id: Annotated[str | None, typer.Option(help="The dealership agent on the call.")] = None,
) -> None:
    """Publish a recording to calls.recorded: inline up to AUTERITY_CALL_INLINE_MAX_BYTES, else via the blob store."""
    from streams.kafka import producer, send_event
    from streams.pipelines.calls import recorded_call
    from streams.runtime import make_codec

    settings = get_settings()
    event = recorded_call(settings, file.read_bytes(), call_id=call_id or file.stem, dealer_id=dealer,
                          agent_channel=agent_channel, agent_id=agent_id)

    async def send() -> None:
        async with producer(settings) as client:
            await (await send_event(client, make_codec(settings), settings.topics.calls_recorded, event))

    asyncio.run(send())
    where = event.blob_uri or "inline"
    console.print(f"published call {event.call_id} ({event.size_bytes} bytes, {where}) as event {event.event_id}")


@app.command(name="publish-document")
def publish_document(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A scan: PNG, JPEG, TIFF or PDF.")],
    dealer: Annotated[str, typer.Option(help="The dealership (tenant).")],
    document_id: Annotated[str | None, typer.Option(help="Id in the DMS; default the file name.")] = None,
    source: Annotated[str, typer.Option(help="What sent it: scanner, dms, email, ...")] = "cli",
) -> None:
    """Publish a scan to documents.received: inline up to AUTERITY_DOCUMENT_INLINE_MAX_BYTES, else via the blob
    store."""
    from streams.kafka import producer, send_event
    from streams.pipelines.documents import received_document
    from streams.runtime import make_codec

    settings = get_settings()
    event = received_document(settings, file.read_bytes(), document_id=document_id or file.stem, dealer_id=dealer,
                              filename=file.name, source=source)

    async def send() -> None:
        async with producer(settings) as client:
            await (await send_event(client, make_codec(settings), settings.topics.documents_received, event))

    asyncio.run(send())
    where = event.blob_uri or "inline"
    console.print(f"published document {event.document_id} ({event.size_bytes} bytes, {where}) as event "
                  f"{event.event_id}")


def _trigger_data(inputs: list[str], inputs_json: Path | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(inputs_json.read_text()) if inputs_json else {}
    if not isinstance(data, dict):
        raise typer.BadParameter("--inputs-json must hold a JSON object")
    for item in inputs:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"--input takes NAME=VALUE, got {item!r}")
        data[name.strip()] = value
    return data


@app.command(name="run-workflow")
def run_workflow(
    workflow_id: Annotated[str, typer.Argument(help="A generated workflow's id (workflows.generated).")],
    inputs: Annotated[list[str], typer.Option("--input", "-i", help="A trigger field, NAME=VALUE; repeatable.")] = [],  # noqa: B006
    inputs_json: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                     help="The trigger's data as a JSON object.")] = None,
    file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Read the workflow from this JSON "
                                              "file (`auterity generate --json` output) instead of the topic.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Id of this run; default a new one.")] = None,
    dealer: Annotated[str | None, typer.Option(help="Run as this dealership; default the workflow's.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the run until its WorkflowResult.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow the run.")] = 300.0,
) -> None:
    """Turn a generated workflow into the agent tasks of one run and publish them to agents.tasks; with --wait
    (default) print each task's result and exit 0 only if the run succeeded."""
    from processors.agents.steps import missing_trigger_fields
    from streams.runs import WorkflowNotFound, find_workflow, follow_run, load_workflow_file, start_run

    settings = get_settings()
    trigger = _trigger_data(inputs, inputs_json)
    try:
        workflow = (load_workflow_file(file, workflow_id) if file
                    else asyncio.run(find_workflow(settings, workflow_id)))
        missing = missing_trigger_fields(workflow, trigger)
        if missing:
            err.print(f"[yellow]the trigger declares fields not given: {', '.join(missing)}[/]")
        run = asyncio.run(start_run(settings, workflow, trigger, run_id, dealer))
    except (WorkflowNotFound, ValueError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"run {run} of workflow {workflow.workflow_id} ({workflow.name}): {len(workflow.steps)} tasks "
                  f"published to {settings.topics.agents_tasks}")
    if not wait:
        return

    def show(result: Any) -> None:
        colour = {"succeeded": "green", "skipped": "yellow"}.get(result.status.value, "red")
        detail = result.error or (result.output_json or "")[:100]
        console.print(f"  [{colour}]{result.status.value:<9}[/] {result.task_id:<28} {result.agent_id or '':<20} "
                      f"{detail}")

    final = asyncio.run(follow_run(settings, workflow.workflow_id, run, timeout, show))
    if final is None:
        err.print(f"[red]no WorkflowResult within {timeout:g}s[/] (a wait or an approval may still be pending)")
        raise typer.Exit(1)
    console.print(f"run {run}: {final.status.value}" + (f" ({final.error})" if final.error else ""))
    raise typer.Exit(0 if final.status.value == "succeeded" else 1)


@app.command()
def approve(
    workflow_id: Annotated[str, typer.Argument(help="The paused run's workflow id.")],
    task_id: Annotated[str, typer.Argument(help="The human_approval task.")],
    approver: Annotated[str, typer.Option(help="Who decides.")],
    dealer: Annotated[str, typer.Option(help="The dealership (tenant).")],
    run_id: Annotated[str | None, typer.Option(help="The run, when the workflow runs more than once.")] = None,
    reject: Annotated[bool, typer.Option("--reject", help="Reject: the task fails and its dependents are skipped.")]
    = False,
    comment: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Publish an ApprovalDecision for a human_approval task; the paused run goes on (or stops) at once."""
    from schemas.models import ApprovalDecision
    from streams.runs import publish_decision

    decision = ApprovalDecision(dealer_id=dealer, workflow_id=workflow_id, run_id=run_id, task_id=task_id,
                                approved=not reject, approver=approver, comment=comment)
    asyncio.run(publish_decision(get_settings(), decision))
    console.print(f"{'rejected' if reject else 'approved'} {task_id} of {workflow_id}"
                  + (f" run {run_id}" if run_id else "") + f" (event {decision.event_id})")


@app.command()
def gateway() -> None:
    """The HTTP ingest gateway on AUTERITY_GATEWAY__HOST:PORT (OpenAPI at /docs and /openapi.json)."""
    from streams.gateway import serve

    serve(get_settings())


@app.command(name="gateway-key")
def gateway_key(dealer: Annotated[str, typer.Argument(help="The dealership the key publishes and reads as.")]) -> None:
    """Make an API key for DEALER: prints the key (shown once, never stored) and the entry to add to
    AUTERITY_GATEWAY__API_KEYS (the key's SHA-256 -> the dealer)."""
    from connectors.gateway import new_api_key

    key, digest = new_api_key()
    console.print(f"API key for {dealer} (store it now; it is not kept): [bold]{key}[/]")
    print(json.dumps({digest: dealer}))


@app.command(name="file-drop")
def file_drop(
    root: Annotated[Path | None, typer.Option(file_okay=False, help="The drop directory, one subdirectory per "
                                              "dealer id; default AUTERITY_FILE_DROP__ROOT (var/drop).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Publish what has settled after AUTERITY_FILE_DROP__SETTLE_S, "
                                       "then exit.")] = False,
) -> None:
    """Publish scans and recordings dropped in ROOT/<dealer_id>/ to documents.received and calls.recorded, each
    exactly once; published files move to processed/, unreadable ones to rejected/. Ctrl-C stops after the current
    file."""
    import logging
    import signal

    from streams.filedrop import run_file_drop

    settings = get_settings()
    options = settings.file_drop
    drop_root = root or Path(options.root)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)  # finish the file in hand: acknowledged, then moved
        return await run_file_drop(settings, drop_root, poll_s=options.poll_s, settle_s=options.settle_s, stop=stop,
                                   once=once)

    if not once:
        console.print(f"watching {drop_root.resolve()} every {options.poll_s:g} s for <dealer_id>/ scans and "
                      "recordings; Ctrl-C stops")
    published = asyncio.run(run())
    console.print(f"published {published} file{'' if published == 1 else 's'} from {drop_root}")


@app.command()
def demo(
    per_topic: Annotated[int, typer.Option(help="Sample events per inbound topic.")] = 6,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every result.")] = 120.0,
) -> None:
    """Start what is needed, publish a sample batch to every inbound topic, show results and the monitoring
    table as they arrive, and exit with a summary (exit code 1 if a result is missing)."""
    from streams.demo import run_demo

    ok = run_demo(get_settings(), per_topic=per_topic, timeout_s=timeout, console=console)
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
