"""The AI workflow steps through the project's own processors, as a worker builds them: a scan and a recording
from the blob store through the OCR and call processors, and text steps through the LLM router's offline
local model (real MiniLM embeddings for classification)."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.agents.base import BaseAgent, PermanentTaskError, TaskRequest
from streams.agents import build_agents
from streams.blobs import blob_store
from streams.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "streams" / "samples"


@pytest.fixture(scope="module")
def ai_agent(tmp_path_factory: pytest.TempPathFactory) -> tuple[BaseAgent, Settings]:
    work = tmp_path_factory.mktemp("agents")
    settings = Settings(vector_uri=str(work / "milvus.db"), blob_store=str(work / "blobs"),
                        agents={"crm_path": str(work / "crm.sqlite")})
    [agent] = [a for a in build_agents(settings) if a.agent_id == "ai-steps"]
    return agent, settings


def request(task_type: str, **inputs: object) -> TaskRequest:
    config = {"labels": "sales,service,parts", "prompt": "Summarise for the advisor"}
    return TaskRequest("step", task_type, "wf-1", "dealer-riverside-ford", config, inputs)


async def test_ocr_document_reads_a_scan_from_the_blob_store(ai_agent: tuple[BaseAgent, Settings]) -> None:
    agent, settings = ai_agent
    blob = blob_store(settings).put((SAMPLES / "repair-order.png").read_bytes(), ".png")
    output = (await agent.run(request("ocr_document", document=blob.uri))).output
    assert output["document_type"] == "repair_order" and output["fields"]["ro_number"]
    assert "REPAIR ORDER" in output["text"].upper()
    with pytest.raises(PermanentTaskError, match="is not a blob store URI"):
        await agent.run(request("ocr_document", document="file:///etc/passwd"))


async def test_transcribe_call_analyses_a_recording_from_the_blob_store(ai_agent: tuple[BaseAgent, Settings]) -> None:
    agent, settings = ai_agent
    blob = blob_store(settings).put((SAMPLES / "service-call.ogg").read_bytes(), ".ogg")
    output = (await agent.run(request("transcribe_call", recording=blob.uri))).output
    assert len(output["transcript"].split()) > 20 and output["sentiment"] in ("positive", "neutral", "negative")
    assert output["summary"]


async def test_text_steps_go_through_the_llm_router(ai_agent: tuple[BaseAgent, Settings]) -> None:
    agent, _ = ai_agent
    classified = await agent.run(request("ai_classify", text="My brakes squeal when I stop and the oil light is on"))
    assert classified.output["label"] == "service" and 0 < classified.output["confidence"] <= 1
    assert classified.model and classified.model.startswith("auterity-local")  # the router's offline model
    written = await agent.run(request("ai_text", context="Customer asks whether the blue Maverick is available"))
    assert "blue Maverick" in written.output["text"]
    with pytest.raises(PermanentTaskError, match="at least two comma-separated labels"):
        await agent.run(TaskRequest("step", "ai_classify", "wf-1", "d", {"labels": "only"}, {"text": "x"}))
