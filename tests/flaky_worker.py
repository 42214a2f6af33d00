"""A worker whose conversations pipeline runs a test processor that fails on purpose, to exercise the
retry and DLQ paths of the real pipeline helper on the real broker.

Message text decides: ``flaky:`` fails twice with a TransientError then succeeds; ``always-transient`` never
stops failing transiently; ``boom`` raises ValueError. With ``FLAKY_BROKEN=1`` every message fails, the way a
processor with a bug does until it is fixed and the DLQ replayed.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field

from processors.base import Outcome, Usage
from schemas.errors import TransientError
from schemas.models import ConversationMessage, RequirementAnalysis
from streams.app import add_monitoring
from streams.pipeline import wire_processor
from streams.runtime import Runtime, create_runtime
from streams.settings import Settings


@dataclass
class FlakyAnalyzer:
    name: str = "test.flaky"
    operation_type: str = "requirement_analysis"
    cpu_bound: bool = True  # also exercises the executor path
    failures: Counter[str] = field(default_factory=Counter)

    def process(self, event: ConversationMessage) -> Outcome:
        if os.environ.get("FLAKY_BROKEN") == "1":
            raise RuntimeError("analyzer bug: cannot handle any message")
        if event.text == "boom":
            raise ValueError("cannot analyse 'boom'")
        if event.text == "always-transient":
            raise TransientError("model endpoint keeps timing out")
        if event.text.startswith("flaky:") and self.failures[event.text] < 2:
            self.failures[event.text] += 1
            raise TransientError("rate limited, retry later")
        result = RequirementAnalysis(dealer_id=event.dealer_id, source_event_id=event.event_id,
                                     processor=self.name, session_id=event.session_id)
        return Outcome([result], Usage(model="test-model", provider="test", input_tokens=len(event.text)))


def build(settings: Settings) -> Runtime:
    runtime = create_runtime(settings)
    wire_processor(runtime, "flaky", settings.topics.conversations_messages, ConversationMessage, FlakyAnalyzer())
    add_monitoring(runtime)
    return runtime


if __name__ == "__main__":
    from streams.cli import run_worker
    from streams.settings import get_settings

    assert sys.argv[1:] == ["worker"]
    run_worker(get_settings(), build)
