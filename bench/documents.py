"""Documents benchmark: OCR quality and speed of each engine on the synthetic labelled corpus.

    .venv/bin/python -m bench.documents [--per-type 7] [--out bench/results/documents.json]

Renders the documents of ``tests/documents_corpus.py`` (five types, eight fonts, four layouts, every third page
degraded), reads every page with PaddleOCR (PP-OCRv6 small, ONNX Runtime), with Tesseract, and with the worker's
configuration (Paddle, Tesseract as fallback), and reports per engine:

- CER (character error rate: Levenshtein distance over the ground-truth length, lines joined by newlines,
  runs of spaces as one) on clean and on degraded pages;
- per-field exact match of the extracted fields against the ground truth, and document-type accuracy;
- seconds per page (median, p95), and the peak RSS of fresh processes that load the engines and read the
  corpus the way a worker does (``DocumentAnalyzer``);
- the peak RSS (VmHWM) of real workers on the embedded broker reading the corpus: one running only the
  documents pipeline, and one running every pipeline while it also answers 200 chat requests and transcribes
  3 calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from processors.ocr import FallbackOcr, OcrEngine, load_engine, load_pages
from processors.ocr.fields import understand
from tests.documents_corpus import FIELD_NAMES, SyntheticDocument, corpus

RSS_RUNS = 3
FORMATS = ("png", "jpeg", "tiff", "pdf")  # documents cycle through the formats a scanner or DMS sends


def text_of(lines: Any) -> str:
    return "\n".join(" ".join(str(line).split()) for line in lines)


def cer(read: str, truth: str) -> float:
    return Levenshtein.distance(read, truth) / max(1, len(truth))


def read_corpus(name: str, ocr: OcrEngine, docs: list[SyntheticDocument]) -> dict[str, Any]:
    """Every document through the engine: CER, fields, type and seconds per page."""
    errors: dict[str, list[tuple[int, int]]] = {"clean": [], "degraded": []}
    fields: dict[str, list[bool]] = defaultdict(list)
    types, seconds, misses = [], [], []
    for i, doc in enumerate(docs):
        fmt = "jpeg" if "jpeg" in doc.degradations else FORMATS[i % len(FORMATS)]
        started = time.perf_counter()
        [page] = load_pages(doc.encode(fmt))
        assert page.image is not None
        reading = ocr.read(page.image)
        seconds.append(time.perf_counter() - started)
        meaning = understand(reading.lines)
        read, truth = text_of(line.text for line in reading.lines), text_of(doc.lines)
        errors["degraded" if doc.degraded else "clean"].append((Levenshtein.distance(read, truth), len(truth)))
        types.append(meaning.document_type.value == doc.document_type)
        found = meaning.fields.model_dump()
        for field in FIELD_NAMES:
            if doc.fields[field] is not None:
                fields[field].append(found[field] == doc.fields[field])
                if found[field] != doc.fields[field]:
                    misses.append(f"{doc.doc_id} {field}: read {found[field]!r}, truth {doc.fields[field]!r}")
    ordered = sorted(seconds)
    return {
        "engine": name,
        "cer_clean": round(sum(e for e, _ in errors["clean"]) / sum(n for _, n in errors["clean"]), 5),
        "cer_degraded": round(sum(e for e, _ in errors["degraded"]) / sum(n for _, n in errors["degraded"]), 5),
        "cer_worst_page": round(max(e / n for e, n in errors["clean"] + errors["degraded"]), 5),
        "document_type_accuracy": round(sum(types) / len(types), 4),
        "field_exact_match": {f: round(sum(v) / len(v), 4) for f, v in sorted(fields.items())},
        "field_counts": {f: len(v) for f, v in sorted(fields.items())},
        "seconds_per_page_median": round(statistics.median(seconds), 3),
        "seconds_per_page_p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "misses": misses,
    }


def worker_peak_rss(docs: list[SyntheticDocument]) -> dict[str, Any]:
    """Fresh processes read the corpus from files through the worker's DocumentAnalyzer (Paddle, Tesseract as
    fallback): peak RSS (median and worst of three runs) and wall time per page."""
    folder = Path(tempfile.mkdtemp(prefix="auterity-docs-"))
    for doc in docs:
        (folder / f"{doc.doc_id}.png").write_bytes(doc.encode("png"))
    code = f"""
import hashlib, json, time
from functools import partial
from pathlib import Path
from processors.ocr import DocumentAnalyzer, load_engine
from schemas.models import DocumentReceived
analyzer = DocumentAnalyzer(partial(load_engine, "paddle", "var/models", True))
files = sorted(Path({str(folder)!r}).glob("*.png"))
started = time.perf_counter()
for path in files:
    data = path.read_bytes()
    event = DocumentReceived(dealer_id="d", document_id=path.stem, filename=path.name, content_type="image/png",
                             content=data, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
    analyzer.process(event)
status = Path("/proc/self/status").read_text()  # VmHWM: ru_maxrss would count the parent's pages at fork
print(json.dumps({{"pages": len(files), "seconds": time.perf_counter() - started,
                  "peak_rss_mb": int(status.split("VmHWM:")[1].split()[0]) / 1024}}))
"""
    runs = []
    try:
        for _ in range(RSS_RUNS):  # glibc's per-thread heaps make the peak vary by a few hundred MB run to run
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(folder)
    peaks = sorted(run["peak_rss_mb"] for run in runs)
    return {"pages": runs[0]["pages"], "runs": len(runs),
            "seconds_per_page": round(statistics.median(run["seconds"] for run in runs) / runs[0]["pages"], 3),
            "peak_rss_mb_median": round(statistics.median(peaks), 1), "peak_rss_mb_max": round(peaks[-1], 1)}


def real_worker(docs: list[SyntheticDocument], pipelines: list[str] | None) -> dict[str, Any]:
    """A real worker on the embedded broker reads the corpus (scans over 512 KiB through the blob store); with
    every pipeline it also answers 200 chat requests and transcribes 3 calls meanwhile. Its peak RSS (VmHWM) is
    what a deployment must give each worker."""
    from bench.conversations import Worker, ensure, free_port, messages, results_consumer, topics
    from connectors.broker import EmbeddedBroker
    from schemas.codec import AvroCodec
    from streams.kafka import producer, send_event
    from streams.pipelines.calls import recorded_call
    from streams.pipelines.documents import received_document
    from streams.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="auterity-docs-worker-"))
    prefix = f"bdocs{os.getpid()}"
    names = topics(prefix)
    call = (Path(__file__).resolve().parents[1] / "streams" / "samples" / "service-call.ogg").read_bytes()
    try:
        with EmbeddedBroker(port=free_port(), log_path=workdir / "tansu.log") as broker:
            bootstrap = broker.bootstrap_servers
            settings = Settings(bootstrap_servers=bootstrap, topics=names, blob_store=str(workdir / "blobs"))
            asyncio.run(ensure(bootstrap, names))
            env = {"AUTERITY_BLOB_STORE": settings.blob_store}
            if pipelines is not None:
                env["AUTERITY_PIPELINES"] = json.dumps(pipelines)
            worker = Worker(bootstrap, prefix, workdir, "bench", **env).start()
            everything = pipelines is None
            try:
                scans = [received_document(settings, doc.encode("png"), document_id=doc.doc_id, dealer_id="d",
                                           filename=f"{doc.doc_id}.png") for doc in docs]
                calls = [recorded_call(settings, call, call_id=f"call-{i}", dealer_id="d")
                         for i in range(3 if everything else 0)]

                async def run() -> float:
                    consumer = await results_consumer(bootstrap, [names.documents_analyzed, names.calls_analyzed])
                    started = time.monotonic()
                    codec = AvroCodec()
                    async with producer(settings) as client:
                        sends = [await send_event(client, codec, names.documents_received, e) for e in scans]
                        sends += [await send_event(client, codec, names.calls_recorded, e) for e in calls]
                        sends += [await send_event(client, codec, names.conversations_messages, e)
                                  for e in messages(200 if everything else 0, "docs", True)]
                        await asyncio.gather(*sends)
                    seen = 0
                    try:
                        while seen < len(scans) + len(calls) and time.monotonic() - started < 900:
                            batches = await consumer.getmany(timeout_ms=1000)
                            seen += sum(len(records) for records in batches.values())
                    finally:
                        await consumer.stop()
                    return time.monotonic() - started

                elapsed = asyncio.run(run())
                return {"pipelines": pipelines or "all", "documents": len(scans), "calls": len(calls),
                        "chats": 200 if everything else 0, "seconds": round(elapsed, 1), **worker.memory_mb()}
            finally:
                worker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-type", type=int, default=7, help="documents per type (7 gives 35)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/documents.json"))
    args = parser.parse_args()
    docs = corpus(args.per_type)
    paddle = load_engine("paddle", "var/models", False)
    tesseract = load_engine("tesseract", "var/models", False)
    engines: list[tuple[str, OcrEngine]] = [
        ("paddle", paddle), ("tesseract", tesseract),
        ("paddle+tesseract fallback", FallbackOcr(paddle.first, tesseract.first))]
    results = []
    for name, engine in engines:
        engine.read(docs[0].image)  # warm-up: the first call builds the ONNX sessions' buffers
        results.append(read_corpus(name, engine, docs))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "misses"}), flush=True)
    report = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "corpus": {"documents": len(docs), "degraded": sum(d.degraded for d in docs),
                   "types": sorted({d.document_type for d in docs}), "fonts": sorted({d.font for d in docs})},
        "engines": results,
        "worker": worker_peak_rss(docs),
        "documents_worker": real_worker(docs, ["documents"]),
        "full_worker": real_worker(docs, None),
        "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    for part in ("worker", "documents_worker", "full_worker"):
        print(json.dumps(report[part]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
