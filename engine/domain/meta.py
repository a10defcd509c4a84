"""Audit metadata carried by every event: who, on whose request, as part of which command.

Wall-clock time is the event's own `timestamp`. Metadata is a plain mapping of strings so
that it serializes without custom transcodings and auditors can filter on it in SQL.
"""

from __future__ import annotations

from typing import TypedDict


class EventMeta(TypedDict):
    """Who caused an event and why."""

    actor: str
    """The user (`user:alice@example.com`) or service (`service:worker-3`) that acted."""
    request_id: str
    """The X-Request-ID of the API request that caused it; empty from the CLI."""
    causation: str
    """The command that caused it, e.g. `projects.create`."""


def event_meta(actor: str, causation: str, request_id: str = "") -> EventMeta:
    """Metadata for the events one command causes."""
    return EventMeta(actor=actor, request_id=request_id, causation=causation)


def on_behalf_of(meta: EventMeta, request_id: str) -> EventMeta:
    """`meta` for work that carries on a request's command, such as a worker running the job
    an API request asked for: it keeps its own actor and causation, and names the original
    request unless it has a request of its own (a user's cancel is its own request)."""
    if meta["request_id"] or not request_id:
        return meta
    return EventMeta(actor=meta["actor"], request_id=request_id, causation=meta["causation"])
