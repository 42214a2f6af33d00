"""What every processor is: a named, broker-free function from one event to its results and their cost."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from schemas.models import Event

I_contra = TypeVar("I_contra", bound=Event, contravariant=True)


@dataclass(frozen=True)
class Usage:
    """What one AI operation used; becomes the AIOperationMetric the pipeline emits."""

    model: str
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """The events a processor produced for one input, and what producing them cost."""

    results: Sequence[Event]
    usage: Usage
    extra: Sequence[Event] = field(default_factory=tuple)  # e.g. AIAuditEvents, routed by type like results
    error_class: str | None = None  # set when the results report a failure (e.g. an unreadable recording)


class Processor(Protocol, Generic[I_contra]):
    """A processor: ``process`` may be a plain function (run in a thread when ``cpu_bound``) or a coroutine."""

    @property
    def name(self) -> str: ...

    @property
    def operation_type(self) -> str: ...

    @property
    def cpu_bound(self) -> bool: ...

    def process(self, event: I_contra) -> Outcome | Awaitable[Outcome]: ...
