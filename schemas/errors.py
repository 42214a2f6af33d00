"""Exceptions shared by every layer: what went wrong with an event, and whether trying again can help."""

from __future__ import annotations


class EventError(Exception):
    """Base class for a problem with one event; the pipeline records it in the DLQ."""


class UndecodableEvent(EventError):
    """The bytes are not an event we can read: wrong framing, unknown schema, truncated body."""


class InvalidEvent(EventError):
    """The event decoded but breaks the contract: a field is missing, of the wrong type or out of range."""


class TransientError(Exception):
    """A failure that may pass if retried (rate limit, timeout, a peer restarting); retried with backoff."""


class TaskError(Exception):
    """An attempt at a workflow task failed in a way another attempt may not (a peer down, a timeout)."""


class PermanentTaskError(TaskError):
    """A workflow task cannot succeed as given (missing or malformed input, a refused recipient): not retried."""


class SourceError(Exception):
    """An enrichment source failed (down, timed out, refused the key); the other sources' data is kept."""
