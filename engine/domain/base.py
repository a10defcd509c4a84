"""The aggregate base: every Tieout event carries `meta` (see engine.domain.meta)."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from engine.domain.meta import EventMeta


class TieoutAggregate(Aggregate):
    """An aggregate whose events all carry audit metadata."""

    class Event(Aggregate.Event):
        meta: EventMeta

    class Created(Event, Aggregate.Created):
        pass
