"""OCR engines behind one interface: a page image in, text lines in reading order with confidences out.

PaddleOCR 3.x on ONNX Runtime is the default: the PP-OCRv6 small detection and recognition models shipped in
the ``rapidocr`` wheel, prepared once as PaddleOCR model directories (``processors.ocr.models``). Tesseract
(Debian ``tesseract-ocr``) is the second engine. ``FallbackOcr`` tries the other engine when the first one is
unsure of a page and keeps the better reading. Engines load once per worker and serialise their own calls.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image

from processors.ocr.fields import OcrLine

os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # models come from a package, never a hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EngineName = Literal["paddle", "tesseract"]
TESSERACT_TIMEOUT_S = 120
Box = tuple[float, float, float, float]


class OcrUnavailable(RuntimeError):
    """An engine cannot run here (its package or binary is missing); the message says what to install."""


@dataclass(frozen=True)
class PageReading:
    """One engine's reading of one page: lines top to bottom, each left to right."""

    lines: list[OcrLine]
    engine: str
    model: str

    @property
    def confidence(self) -> float:
        """Mean confidence weighted by characters (a confident page title must not hide an unreadable body)."""
        weights = [len(line.text) for line in self.lines]
        if not sum(weights):
            return 0.0
        return sum(line.confidence * w for line, w in zip(self.lines, weights, strict=True)) / sum(weights)

    @property
    def chars(self) -> int:
        return sum(len(line.text.strip()) for line in self.lines)


class OcrEngine(Protocol):
    """What the documents processor needs from an engine."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    def read(self, image: Image.Image) -> PageReading: ...


_LETTERS_WITH_ZERO = re.compile(r"(?<![\w.@])(?=[A-Za-z0]*[A-Za-z])(?=[A-Za-z]*0)[A-Za-z0]+(?![\w@])")
_UNDERSCORE_GAP = re.compile(r"(?<=[A-Za-z0-9:#])_+(?=[A-Za-z0-9(+$])")


def tidy(text: str) -> str:
    """Undo the usual slips of a recogniser trained on mixed scripts: full-width punctuation (U+FF1A -> ":",
    NFKC), a zero inside a word that is otherwise letters ("0ct" -> "Oct", "D0B" -> "DOB"; codes with other
    digits are left alone), and an underscore read for a wide gap ("DOB_12/11/2003"), except in e-mail addresses."""
    text = unicodedata.normalize("NFKC", text)
    if "@" not in text:
        text = _UNDERSCORE_GAP.sub(" ", text)
    text = _LETTERS_WITH_ZERO.sub(lambda m: m.group().replace("0", "O"), text)
    return " ".join(text.split())


def order_lines(pieces: Iterable[OcrLine]) -> list[OcrLine]:
    """Pieces of text (words or segments with boxes) grouped into printed rows by their vertical centres, rows
    top to bottom and pieces left to right, so two label/value pairs printed side by side read as one line."""
    rows: list[list[OcrLine]] = []
    for piece in sorted(pieces, key=lambda p: (p.box[1] + p.box[3]) / 2):
        centre = (piece.box[1] + piece.box[3]) / 2
        row = rows[-1] if rows else None
        if row is not None:
            top = statistics.median(p.box[1] for p in row)
            bottom = statistics.median(p.box[3] for p in row)
            if top <= centre <= bottom:
                row.append(piece)
                continue
        rows.append([piece])
    lines = []
    for row in rows:
        row.sort(key=lambda p: p.box[0])
        text = tidy(" ".join(p.text for p in row))
        if not text:
            continue
        weights = [max(1, len(p.text)) for p in row]
        confidence = sum(p.confidence * w for p, w in zip(row, weights, strict=True)) / sum(weights)
        box = (min(p.box[0] for p in row), min(p.box[1] for p in row),
               max(p.box[2] for p in row), max(p.box[3] for p in row))
        lines.append(OcrLine(text, round(confidence, 4), box))
    return lines


class PaddleEngine:
    """PaddleOCR's OCR pipeline with ``engine="onnxruntime"`` on prepared PP-OCRv6 small model directories."""

    name = "paddle"

    def __init__(self, model_root: Path, det_limit_side: int = 960, threads: int | None = None) -> None:
        from processors.ocr.models import prepare_paddle_models

        try:
            from paddleocr import PaddleOCR
        except ImportError as exc:  # pragma: no cover - the README's set-up installs it
            raise OcrUnavailable("PaddleOCR is not installed: run the README's set-up command") from exc
        models = prepare_paddle_models(model_root)
        self.model = f"{models.detection.name}+{models.recognition.name}"
        self._lock = threading.Lock()
        self._ocr = PaddleOCR(
            text_detection_model_name=models.detection.name, text_detection_model_dir=str(models.detection),
            text_recognition_model_name=models.recognition.name, text_recognition_model_dir=str(models.recognition),
            use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
            text_det_limit_side_len=det_limit_side, text_det_limit_type="max", engine="onnxruntime",
            # One line per recognition run: a batch is padded to its widest line, which costs memory and time
            # (35 pages: peak 919 MB and 0.99 s a page with PaddleOCR's 6, 547 MB and 0.89 s with 1).
            text_recognition_batch_size=1,
            # No memory arena and no memory patterns: page and line shapes change on every call, so both only
            # keep the largest buffers ever seen (peak RSS over the corpus: 1045 MB with them, 843 MB without,
            # at the same speed).
            engine_config={"intra_op_num_threads": threads or os.cpu_count() or 1, "inter_op_num_threads": 1,
                           "enable_cpu_mem_arena": False, "enable_mem_pattern": False},
        )

    def read(self, image: Image.Image) -> PageReading:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        with self._lock:  # one pipeline instance: its predictors keep per-call state
            result: Any = self._ocr.predict(bgr)[0]
        pieces = [OcrLine(str(text), float(score), _box(box))
                  for text, score, box in zip(result["rec_texts"], result["rec_scores"], result["rec_boxes"],
                                              strict=True)
                  if str(text).strip()]
        return PageReading(order_lines(pieces), self.name, self.model)


class TesseractEngine:
    """Tesseract 5 (LSTM) through pytesseract: words with confidences, grouped into rows like Paddle's pieces."""

    name = "tesseract"

    def __init__(self, language: str = "eng") -> None:
        try:
            import pytesseract
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise OcrUnavailable("pytesseract is not installed: run the README's set-up command") from exc
        try:
            version = pytesseract.get_tesseract_version()
        except pytesseract.TesseractNotFoundError as exc:
            raise OcrUnavailable("the tesseract binary is missing: install the Debian package tesseract-ocr") from exc
        # One OpenMP thread: on a few cores Tesseract's default threading makes a page about 8x slower (3.6 s
        # against 0.43 s per page measured here), and the worker reads pages in parallel anyway. Only
        # pytesseract's child processes get this environment; the worker's own stays as it is.
        pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        self._tesseract = pytesseract
        self._language = language
        self.model = f"tesseract-{version}-{language}"

    def read(self, image: Image.Image) -> PageReading:
        try:
            data = self._tesseract.image_to_data(image.convert("L"), lang=self._language, config="--psm 3",
                                                 output_type=self._tesseract.Output.DICT, timeout=TESSERACT_TIMEOUT_S)
        except RuntimeError as exc:  # pytesseract's timeout: a page that hangs the engine counts as unread
            if "timeout" not in str(exc).lower():
                raise
            return PageReading([], self.name, self.model)
        pieces = [OcrLine(text, max(0.0, float(conf)) / 100.0,
                          (float(left), float(top), float(left + width), float(top + height)))
                  for text, conf, left, top, width, height in zip(
                      data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"],
                      strict=True)
                  if str(text).strip() and float(conf) >= 0]
        return PageReading(order_lines(pieces), self.name, self.model)


@dataclass
class FallbackOcr:
    """The first engine reads every page; a page it reads with a confidence under ``threshold`` (or not at all)
    is read again by the second, and the reading with the higher confidence wins."""

    first: OcrEngine
    second: OcrEngine | None = None
    threshold: float = 0.85

    @property
    def name(self) -> str:
        return self.first.name

    @property
    def model(self) -> str:
        return self.first.model

    def read(self, image: Image.Image) -> PageReading:
        reading = self.first.read(image)
        if self.second is None or (reading.chars and reading.confidence >= self.threshold):
            return reading
        other = self.second.read(image)
        return other if other.confidence > reading.confidence else reading


def _box(box: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in box)
    return x0, y0, x1, y1


@lru_cache(maxsize=4)
def load_engine(engine: EngineName, model_root: str, fallback: bool = True, det_limit_side: int = 960,
                threads: int | None = None, threshold: float = 0.85) -> FallbackOcr:
    """The OCR of a worker, built once per configuration: ``engine`` first and, with ``fallback``, the other
    engine when it is installed (a worker without Tesseract still reads with Paddle alone)."""
    def build(name: EngineName) -> OcrEngine:
        if name == "paddle":
            return PaddleEngine(Path(model_root), det_limit_side, threads)
        return TesseractEngine()

    first = build(engine)
    second: OcrEngine | None = None
    if fallback:
        try:
            second = build("tesseract" if engine == "paddle" else "paddle")
        except OcrUnavailable:
            second = None
    return FallbackOcr(first, second, threshold)
