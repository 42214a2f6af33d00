"""Nearest-exemplar classification of a message embedding, plus cue words.

Each label has labelled exemplar sentences (``data/exemplars.yaml``), embedded once. A message scores, per label,
the mean cosine similarity of its three nearest exemplars, plus a bonus for the label's cue words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from processors.ports import Embedder

EXEMPLARS = Path(__file__).with_name("data") / "exemplars.yaml"
NEAREST = 3
CUE_BONUS = 0.06
MAX_CUES = 3
REGRESSION_WEIGHT = 0.2


@dataclass(frozen=True)
class Scored:
    label: str
    confidence: float  # softmax share of the best label
    scores: Mapping[str, float]
    similarities: Mapping[str, float]  # before cue and context adjustments


class ExemplarClassifier:
    """One vocabulary (intents or domains): exemplar embeddings and cue patterns per label."""

    def __init__(self, labels: Mapping[str, Mapping[str, Any]], embedder: Embedder) -> None:
        self.labels = list(labels)
        texts = [(label, str(t)) for label, data in labels.items() for t in data["exemplars"]]
        self._matrix = embedder.embed([t for _, t in texts])  # every exemplar: one product per message
        owners = [owner for owner, _ in texts]
        self._slices = {label: slice(owners.index(label), len(owners) - owners[::-1].index(label))
                        for label in self.labels}  # exemplars are grouped by label
        self._cues = {label: _cue_pattern(data.get("cues", [])) for label, data in labels.items()}
        self._weights, self._bias = _softmax_regression(self._matrix, [self.labels.index(o) for o in owners],
                                                        len(self.labels))

    def similarities(self, vector: NDArray[np.float32]) -> dict[str, float]:
        sims = self._matrix @ vector
        result: dict[str, float] = {}
        for label, rows in self._slices.items():
            own = sims[rows]
            k = min(NEAREST, len(own))
            result[label] = float(np.partition(own, len(own) - k)[-k:].sum()) / k
        return result

    def cue_hits(self, text: str) -> dict[str, int]:
        return {label: len(pattern.findall(text)) if pattern else 0 for label, pattern in self._cues.items()}

    def classify(self, vector: NDArray[np.float32], text: str,
                 adjust: Mapping[str, float] | None = None) -> Scored:
        hits = self.cue_hits(text)
        similarities = self.similarities(vector)
        logits = vector @ self._weights + self._bias
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        scores = {label: sim + REGRESSION_WEIGHT * float(probabilities[i]) + CUE_BONUS * min(hits[label], MAX_CUES)
                  + (adjust or {}).get(label, 0.0) for i, (label, sim) in enumerate(similarities.items())}
        best = max(scores, key=lambda label: scores[label])
        values = np.array(list(scores.values()))
        shares = np.exp((values - values.max()) / 0.04)
        return Scored(best, float(shares.max() / shares.sum()), scores, similarities)


def _softmax_regression(features: NDArray[np.float32], targets: list[int], classes: int, l2: float = 0.01,
                        steps: int = 600, rate: float = 2.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A linear classifier over the exemplar embeddings (full-batch gradient descent, deterministic): it weighs
    the directions that separate labels, where nearest neighbours weigh the topic."""
    weights = np.zeros((features.shape[1], classes))
    bias = np.zeros(classes)
    onehot = np.eye(classes)[targets]
    for _ in range(steps):
        logits = features @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        gradient = (probabilities - onehot) / len(features)
        weights -= rate * (features.T @ gradient + l2 * weights)
        bias -= rate * gradient.sum(axis=0)
    return weights, bias


def _cue_pattern(cues: Sequence[str]) -> re.Pattern[str] | None:
    if not cues:
        return None
    alternation = "|".join(re.escape(c.lower()) for c in sorted(cues, key=len, reverse=True))
    return re.compile(r"(?<![\w])(" + alternation + r")(?![\w])", re.IGNORECASE)


@cache
def load_exemplars(path: Path = EXEMPLARS) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data
