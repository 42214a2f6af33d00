"""The offline local model's answers for the AI workflow steps, registered with the LLM router's local provider.

``ai_classify`` is real: the label nearest the text by MiniLM embeddings. ``ai_text`` does not write prose
offline: it returns the step's context with its instructions, so a workflow runs end to end on the embedded
defaults; configure a hosted model group (AUTERITY_LLM__CONFIG) for written text.
"""

from __future__ import annotations

import json

import numpy as np

from processors.nlp.rules import EmbeddingBatcher
from processors.ports import Embedder

TEMPERATURE = 0.05  # softmax temperature over cosine similarities: the confidence of the nearest label


class LocalAiSteps:
    """Handlers for the local provider: a request's JSON in, the answer's JSON out."""

    def __init__(self, embedder: Embedder) -> None:
        self.batcher = EmbeddingBatcher(embedder)

    async def classify(self, request_json: str) -> str:
        request = json.loads(request_json)
        labels: list[str] = request["labels"]
        text = await self.batcher.embed(str(request["text"])[:2000])
        vectors = np.stack([await self.batcher.embed(label.replace("_", " ")) for label in labels])
        similarity = vectors @ text
        weights = np.exp((similarity - similarity.max()) / TEMPERATURE)
        best = int(similarity.argmax())
        return json.dumps({"label": labels[best], "confidence": round(float(weights[best] / weights.sum()), 4)})

    async def text(self, request_json: str) -> str:
        request = json.loads(request_json)
        parts = [str(request.get(key) or "").strip() for key in ("context", "instructions")]
        text = "\n\n".join(part for part in parts if part) or str(request.get("prompt") or "").strip()
        return json.dumps({"text": text or "(no context given)"})
