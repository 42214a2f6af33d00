"""What a call transcript means: sentiment over time with stress markers, action items and a summary.

Rules and lexicons, no model download: VADER scores sentiment; cue phrases find commitments ("I'll send you
the quote") and requests ("can you call me back"); dateparser resolves deadlines against the call's start.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from dateparser.search import search_dates
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

Label = Literal["positive", "neutral", "negative"]
POSITIVE_AT, NEGATIVE_AT = 0.05, -0.05  # VADER's own thresholds
NEGATIVITY_WEIGHT = 2.0  # a complaint outweighs the polite "thanks" that ends most calls
STRESS_AT = -0.4

_STRESS = re.compile(r"\b(frustrat\w*|ridiculous|unacceptable|angry|upset|furious|(second|third|fourth) time|"
                     r"manager|lawyer|complain\w*|never again|waste of|terrible|worst|fed up|still (not|broken)|"
                     r"cancel\w*)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_COMMIT = re.compile(r"\b(?:i'll|i will|i'm going to|i am going to|we'll|we will|we're going to|we are going to|"
                     r"let me|i can|i'd like to)\s+(?P<task>[^.!?]+)", re.I)
_REQUEST = re.compile(r"\b(?:can you|could you|would you|will you|please|make sure (?:you|to)|don't forget to|"
                      r"remember to|you need to|you'll need to|i need you to|you should|you have to)\s+"
                      r"(?P<task>[^.!?]+)", re.I)
_FILLER = re.compile(r"^(?:(?:also|just|definitely|personally|then|go ahead and|make sure to|need to|"
                     r"please|quickly|actually)\s+)+", re.I)
ACTION_VERBS = frozenset((
    "send", "call", "email", "text", "book", "schedule", "reschedule", "check", "order", "get", "set", "arrange",
    "follow", "look", "reach", "put", "reserve", "confirm", "bring", "drop", "pick", "sign", "fax", "upload",
    "submit", "pay", "review", "update", "run", "ask", "talk", "transfer", "prepare", "waive", "cover", "refund",
    "process", "mail", "call-back", "phone", "contact", "note", "escalate", "approve", "file", "replace",
    "repair", "install", "deliver", "hold", "quote", "share", "forward", "fill", "give"
))
_AND = re.compile(r",?\s+and\s+(?:(?:i|we)(?:'ll|\s+will|\s+can)\s+)?", re.I)
_HIGH = re.compile(r"\b(urgent\w*|asap|as soon as possible|right away|immediately|today|tonight|right now|"
                   r"first thing)\b", re.I)
_LOW = re.compile(r"\b(no rush|no hurry|whenever|when you get a chance|sometime)\b", re.I)
_WHEN = re.compile(r"\b(today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                   r"next week|this week|morning|afternoon|evening|noon|\d{1,2}(:\d\d)?\s*[ap]\.?m\.?|"
                   r"in (an?|one|two|three|four|five|\d+) (hours?|days?|weeks?)|january|february|march|april|"
                   r"may|june|july|august|september|october|november|december)\b", re.I)
_TIME_OF_DAY = re.compile(r"\b(\d{1,2}(:\d\d)?\s*[ap]\.?m\.?|noon|morning|afternoon|evening|tonight|"
                          r"o'clock|in (an?|one|two|three|four|five|\d+) hours?|at \w+)\b", re.I)
_END_OF = re.compile(r"\bend of (the )?(day|week)\b", re.I)
_STOP = frozenset((
    "a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at", "for", "with", "by", "from", "up",
    "about", "into", "over", "after", "is", "are", "was", "were", "be", "been", "am", "i", "you", "he", "she",
    "it", "we", "they", "me", "my", "your", "our", "their", "this", "that", "these", "those", "there", "here",
    "what", "which", "who", "when", "where", "why", "how", "all", "any", "both", "each", "few", "more", "most",
    "other", "some", "such", "no", "nor", "not", "only", "own", "same", "than", "too", "very", "can", "will",
    "just", "don't", "should", "now", "yes", "yeah", "okay", "ok", "oh", "um", "uh", "hi", "hello", "thanks",
    "thank", "please", "well", "do", "does", "did", "have", "has", "had", "i'm", "you're", "it's", "that's",
    "i'll", "we'll", "let's"
))


@dataclass(frozen=True)
class Utterance:
    """A timed stretch of speech by one speaker (a transcript segment)."""

    start: float
    end: float
    speaker: str
    text: str


@dataclass(frozen=True)
class ScoredUtterance:
    utterance: Utterance
    sentiment: float
    stress: bool


@dataclass(frozen=True)
class Action:
    task: str
    assignee: str | None
    deadline: datetime | None
    priority: Literal["low", "normal", "high"]


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def score_sentiment(utterances: Sequence[Utterance]) -> list[ScoredUtterance]:
    """Each utterance's sentiment in -1..1 (VADER compound) and whether it carries stress markers."""
    vader = _vader()
    scored = []
    for u in utterances:
        compound = float(vader.polarity_scores(u.text)["compound"])
        scored.append(ScoredUtterance(u, round(compound, 4), compound <= STRESS_AT or bool(_STRESS.search(u.text))))
    return scored


def overall_sentiment(scored: Sequence[ScoredUtterance], customer: str = "customer") -> tuple[Label, float]:
    """How the call went for the customer: their utterances weighted by length (everyone's on a mono call)."""
    theirs = [s for s in scored if s.utterance.speaker == customer] or list(scored)
    weights = [max(1, len(s.utterance.text.split())) * (NEGATIVITY_WEIGHT if s.sentiment < 0 else 1.0)
               for s in theirs]
    if not theirs:
        return "neutral", 0.0
    score = sum(s.sentiment * w for s, w in zip(theirs, weights, strict=True)) / sum(weights)
    label: Label = "positive" if score >= POSITIVE_AT else "negative" if score <= NEGATIVE_AT else "neutral"
    return label, round(score, 4)


def extract_actions(scored: Sequence[ScoredUtterance], call_start: datetime, agent_label: str = "agent",
                    agent_id: str | None = None) -> list[Action]:
    """Commitments and requests with an action verb; the assignee is who committed or who was asked."""
    parties = {s.utterance.speaker for s in scored}
    actions: list[Action] = []
    for s in _turns(scored):
        for sentence in _SENTENCE.split(s.utterance.text):
            for pattern, own in ((_COMMIT, True), (_REQUEST, False)):
                match = pattern.search(sentence)
                tasks = [t for t in _split_tasks(match["task"]) if _verb(t) in ACTION_VERBS] if match else []
                if not tasks:
                    continue
                who = s.utterance.speaker if own else _other(s.utterance.speaker, parties)
                assignee = agent_id if who == agent_label and agent_id else who
                for task in tasks:
                    priority: Literal["low", "normal", "high"] = (
                        "high" if _HIGH.search(task) or s.stress else "low" if _LOW.search(sentence) else "normal")
                    actions.append(Action(task[0].upper() + task[1:], assignee,
                                          resolve_deadline(task, call_start),
                                          priority))
                break
    return _dedupe(actions)


def _verb(task: str) -> str:
    return task.split(" ", 1)[0].lower().strip(",") if task else ""


def _split_tasks(text: str) -> list[str]:
    """'email the quote by Friday, and I can hold the blue one' -> two tasks; 'check and fix it' stays one."""
    parts = [_FILLER.sub("", p.strip(" ,;:")).strip() for p in _AND.split(text)]
    tasks: list[str] = []
    for part in parts:
        if tasks and _verb(part) not in ACTION_VERBS:
            tasks[-1] = f"{tasks[-1]} and {part}"
        elif part:
            tasks.append(part)
    return tasks


def _turns(scored: Sequence[ScoredUtterance]) -> list[ScoredUtterance]:
    """Consecutive utterances of one speaker joined: ASR segments may split a sentence in two."""
    turns: list[ScoredUtterance] = []
    for s in scored:
        last = turns[-1] if turns else None
        if last is not None and last.utterance.speaker == s.utterance.speaker:
            u = last.utterance
            turns[-1] = ScoredUtterance(Utterance(u.start, s.utterance.end, u.speaker, f"{u.text} {s.utterance.text}"),
                                        min(last.sentiment, s.sentiment), last.stress or s.stress)
        else:
            turns.append(s)
    return turns


def _other(speaker: str, parties: set[str]) -> str | None:
    others = parties - {speaker}
    return next(iter(others)) if len(others) == 1 else None


def _dedupe(actions: list[Action]) -> list[Action]:
    seen: set[str] = set()
    unique = []
    for action in actions:
        key = " ".join(sorted(_content_words(action.task)))
        if key not in seen:
            seen.add(key)
            unique.append(action)
    return unique


def resolve_deadline(sentence: str, call_start: datetime) -> datetime | None:
    """The deadline a sentence names ("by Friday", "tomorrow at 10 am", "end of day"), after the call's start."""
    base = call_start.astimezone(UTC).replace(tzinfo=None)
    end_of = _END_OF.search(sentence)
    if end_of:
        day = base if end_of[2].lower() == "day" else base + timedelta(days=(4 - base.weekday()) % 7)
        return day.replace(hour=17, minute=0, second=0, microsecond=0, tzinfo=UTC)
    if not _WHEN.search(sentence):
        return None
    found = search_dates(sentence, languages=["en"], settings={
        "RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False})
    for phrase, when in found or ():
        if _WHEN.search(phrase) and when >= base - timedelta(minutes=1):
            if not _TIME_OF_DAY.search(phrase):  # "by Friday": the end of that business day
                when = when.replace(hour=17, minute=0, second=0, microsecond=0)
            return datetime.combine(when.date(), when.time(), UTC)
    return None


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP and len(w) > 1]


def summarize(utterances: Sequence[Utterance], actions: Sequence[Action], sentences: int = 3) -> str:
    """An extractive summary: the most central sentences (by shared content words), in call order."""
    candidates = [(i, u.speaker, sentence) for i, u in enumerate(utterances)
                  for sentence in _SENTENCE.split(u.text) if len(sentence.split()) >= 4]
    if not candidates:
        return " ".join(u.text for u in utterances)[:500]
    frequency = Counter(w for _, _, s in candidates for w in set(_content_words(s)))
    action_words = {w for a in actions for w in _content_words(a.task)}

    def score(sentence: str) -> float:
        words = _content_words(sentence)
        if not words:
            return 0.0
        central = sum(frequency[w] for w in words) / len(words)
        return central + (1.5 if action_words & set(words) else 0.0)

    ranked = sorted(range(len(candidates)), key=lambda k: score(candidates[k][2]), reverse=True)[:sentences]
    return " ".join(f"{candidates[k][1].replace('_', ' ').capitalize()}: {candidates[k][2]}" for k in sorted(ranked))
