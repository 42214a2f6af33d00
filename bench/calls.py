"""Calls benchmark: quality and speed of the calls processor on the synthesised call corpus.

    .venv/bin/python -m bench.calls [--model-dir DIR] [--out bench/results/calls.json]

Builds the 12 calls of ``tests/calls_corpus.py`` (espeak-ng + sox), runs each through the same CallAnalyzer
the worker uses, and reports: WER against the script, speaker attribution on stereo calls (each recognised
word's speaker against the speaker of the line playing at that time), overall sentiment accuracy, action-item
recall and precision (a reference item is found when a produced item names its key words and, on stereo
calls, the right party), deadline accuracy, CPU seconds per audio second and the worker's peak memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import re
import resource
import statistics
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import jiwer

from processors.asr import EngineConfig, load_engine
from processors.calls import CallAnalyzer
from schemas.models import CallAnalysis, CallRecorded
from tests.calls_corpus import CALL_START, CALLS, BuiltCall, build

CONTRACTIONS = {"i'll": "i will", "i'm": "i am", "it's": "it is", "that's": "that is", "don't": "do not",
                "we'll": "we will", "you're": "you are", "what's": "what is", "i'd": "i would", "can't": "cannot",
                "we're": "we are", "there's": "there is", "i've": "i have", "you'll": "you will"}


def normalise(text: str) -> str:
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def attribution(built: BuiltCall, result: CallAnalysis) -> tuple[int, int]:
    """(words whose speaker is right, words that fall inside a reference line) on a stereo call."""
    right = total = 0
    for segment in result.segments:
        for word in segment.words:
            middle = (word.start + word.end) / 2
            line = next((line for line, (start, end) in zip(built.call.lines, built.line_times, strict=True)
                         if start - 0.3 <= middle <= end + 0.3), None)
            if line is not None:
                total += 1
                right += segment.speaker == line.speaker
    return right, total


def match_actions(built: BuiltCall, result: CallAnalysis, agent_id: str) -> dict[str, Any]:
    produced = [(normalise(a.task), "agent" if a.assignee == agent_id else a.assignee, a.deadline)
                for a in result.action_items]
    found, deadlines_right, deadlines_total, used = 0, 0, 0, set()
    for ref in built.call.actions:
        for index, (task, assignee, deadline) in enumerate(produced):
            words = set(task.split())
            hits = sum(1 for k in ref.keywords if k in words)
            if hits < math.ceil(len(ref.keywords) / 2) or (built.call.stereo and assignee != ref.assignee):
                continue
            found += 1
            used.add(index)
            if ref.deadline:
                deadlines_total += 1
                deadlines_right += deadline is not None and deadline.date().isoformat() == ref.deadline
            break
    return {"reference": len(built.call.actions), "found": found, "produced": len(produced),
            "produced_matched": len(used), "deadlines_right": deadlines_right, "deadlines_total": deadlines_total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=None, help="a CTranslate2 Whisper directory; default tiny.en")
    parser.add_argument("--out", type=Path, default=Path("bench/results/calls.json"))
    args = parser.parse_args()
    started = time.process_time()
    config = EngineConfig(model_dir=args.model_dir)
    load_started = time.perf_counter()
    engine = load_engine(config)
    load_s = time.perf_counter() - load_started
    analyzer = CallAnalyzer(partial(load_engine, config))
    agent_id = "bdc-7"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for call in CALLS:
            built = build(call, Path(tmp))
            data = built.path.read_bytes()
            event = CallRecorded(dealer_id="bench", call_id=call.name, content_type=call.content_type, content=data,
                                 sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), agent_id=agent_id,
                                 agent_channel=call.agent_channel, started_at=datetime.fromisoformat(CALL_START))
            cpu, wall = time.process_time(), time.perf_counter()
            result = analyzer.process(event).results[0]
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            assert isinstance(result, CallAnalysis) and result.error is None, result
            wer = jiwer.wer(normalise(built.reference_transcript()),
                            normalise(" ".join(s.text for s in result.segments)))
            right, total = attribution(built, result) if call.stereo else (0, 0)
            rows.append({
                "call": call.name, "format": f"{'stereo' if call.stereo else 'mono'} {call.rate} Hz {call.fmt}"
                + (" phone band" if call.phone_band else "") + (" noise" if call.noise else ""),
                "audio_s": round(result.duration_seconds or 0.0, 2), "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                "cpu_per_audio_s": round(cpu / (result.duration_seconds or 1.0), 4), "wer": round(wer, 4),
                "speaker_words_right": right, "speaker_words": total,
                "sentiment": result.sentiment, "sentiment_reference": call.sentiment,
                **match_actions(built, result, agent_id),
            })
            print(json.dumps(rows[-1]))
    stereo = [r for r in rows if r["speaker_words"]]
    audio = sum(r["audio_s"] for r in rows)
    summary = {
        "calls": len(rows), "audio_s": round(audio, 1), "model": engine.model, "model_load_s": round(load_s, 2),
        "wer_mean": round(statistics.mean(r["wer"] for r in rows), 4),
        "wer_median": round(statistics.median(r["wer"] for r in rows), 4),
        "wer_phone_band_mean": round(statistics.mean(r["wer"] for r in rows if "phone" in r["format"]), 4),
        "speaker_attribution_stereo": round(sum(r["speaker_words_right"] for r in stereo)
                                            / max(1, sum(r["speaker_words"] for r in stereo)), 4),
        "sentiment_accuracy": round(sum(r["sentiment"] == r["sentiment_reference"] for r in rows) / len(rows), 4),
        "action_item_recall": round(sum(r["found"] for r in rows) / sum(r["reference"] for r in rows), 4),
        "action_item_precision": round(sum(r["produced_matched"] for r in rows)
                                       / max(1, sum(r["produced"] for r in rows)), 4),
        "deadline_accuracy": round(sum(r["deadlines_right"] for r in rows)
                                   / max(1, sum(r["deadlines_total"] for r in rows)), 4),
        "cpu_per_audio_s_total": round(sum(r["cpu_s"] for r in rows) / audio, 4),
        "cpu_per_audio_s_median": round(statistics.median(r["cpu_per_audio_s"] for r in rows), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "process_cpu_s": round(time.process_time() - started, 1),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "calls": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
