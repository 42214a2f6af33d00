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
# What the labels of the business domains and of the workflow templates mean: a bare word ("service") is too
# vague for sentence embeddings, its description is not (6 of 6 test messages right, against 4 of 6 bare).
LABEL_MEANINGS = {
    "sales": "buying a new or used vehicle, a test drive, a trade-in, the price of a car",
    "service": "vehicle repair and maintenance: brakes, engine noise, oil change, warning lights, recalls",
    "parts": "ordering replacement parts and accessories, what is in stock",
    "finance": "loans, leases, credit applications, payments, warranties and protection products",
    "marketing": "campaigns, promotions and offers to many customers",
    "customer_support": "a customer's question, complaint or review about their experience",
    "all_green": "everything inspected is fine, nothing needs attention",
    "needs_attention_soon": "an item is wearing out and should be fixed in the coming months",
    "safety_critical": "a dangerous defect that must be fixed now: brakes, tires, steering, leaks",
    "praise": "the customer is happy and thanks the staff",
    "service_complaint": "unhappy with a repair, the service department or the wait",
    "sales_complaint": "unhappy with the salesperson or the buying experience",
    "pricing_complaint": "the price or the bill was too high or not as quoted",
    "positive": "happy, satisfied, pleased", "neutral": "matter-of-fact, neither happy nor unhappy",
    "negative": "unhappy, angry, disappointed",
    "service_question": "a question about a repair, maintenance or a service appointment",
    "sales_question": "a question about buying a vehicle, its price or availability",
    "parts_question": "a question about a part or accessory", "billing": "an invoice, a charge or a payment",
    "complaint": "the customer is unhappy and complains", "other": "something else",
}


class LocalAiSteps:
    """Handlers for the local provider: a request's JSON in, the answer's JSON out."""

    def __init__(self, embedder: Embedder) -> None:
        self.batcher = EmbeddingBatcher(embedder)

    async def classify(self, request_json: str) -> str:
        request = json.loads(request_json)
        labels: list[str] = request["labels"]
        text = await self.batcher.embed(str(request["text"])[:2000])
        vectors = np.stack([await self.batcher.embed(_meaning(label)) for label in labels])
        similarity = vectors @ text
        weights = np.exp((similarity - similarity.max()) / TEMPERATURE)
        best = int(similarity.argmax())
        return json.dumps({"label": labels[best], "confidence": round(float(weights[best] / weights.sum()), 4)})

    async def text(self, request_json: str) -> str:
        request = json.loads(request_json)
        parts = [str(request.get(key) or "").strip() for key in ("context", "instructions")]
        text = "\n\n".join(part for part in parts if part) or str(request.get("prompt") or "").strip()
        return json.dumps({"text": text or "(no context given)"})


def _meaning(label: str) -> str:
    words = label.replace("_", " ")
    meaning = LABEL_MEANINGS.get(label.lower())
    return f"{words}: {meaning}" if meaning else words
