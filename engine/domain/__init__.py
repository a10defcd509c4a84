"""The domain model: aggregates and the events they record."""

from engine.domain.base import TieoutAggregate
from engine.domain.decisions import DecisionBatch, UnmatchedBatch
from engine.domain.job import Job
from engine.domain.project import Project
from engine.domain.source import Source

AGGREGATES: tuple[type[TieoutAggregate], ...] = (
    Project,
    Source,
    Job,
    DecisionBatch,
    UnmatchedBatch,
)
"""Every aggregate whose events are stored; tests and docs check each of their events."""
