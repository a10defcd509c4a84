"""The domain model: aggregates and the events they record."""

from engine.domain.base import TieoutAggregate
from engine.domain.decisions import DecisionBatch, UnmatchedBatch
from engine.domain.job import Job
from engine.domain.org import ApiKey, Organization, User
from engine.domain.project import Project
from engine.domain.review import Review
from engine.domain.source import Source

AGGREGATES: tuple[type[TieoutAggregate], ...] = (
    Project,
    Source,
    Job,
    DecisionBatch,
    UnmatchedBatch,
    Organization,
    User,
    ApiKey,
    Review,
)
"""Every aggregate whose events are stored; tests and docs check each of their events."""

# Per-aggregate bases the library generates; never triggered, so never stored.
_BASE_EVENT_NAMES = {"Event", "Created"}


def stored_event_classes() -> list[type[TieoutAggregate.Event]]:
    """Every event class an aggregate records, in a stable order (by qualified name)."""
    found = {
        value
        for aggregate in AGGREGATES
        for value in vars(aggregate).values()
        if isinstance(value, type)
        and issubclass(value, TieoutAggregate.Event)
        and value.__name__ not in _BASE_EVENT_NAMES
    }
    return sorted(found, key=lambda event: event.__qualname__)
