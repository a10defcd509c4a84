"""The registry of projections: what `tieout projector`, `tieout serve` and the catch-up
commands keep up to date, and the shape every read model's view takes.

A projection is registered once here (`REGISTERED`); `tieout/bootstrap.py` builds its log,
view and runner (`Projections`), and `projections/projector.py` drives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner

from projections.audit import AuditIndexProjection, AuditIndexView
from projections.chain import ChainProjection, ChainView
from projections.results_view import ResultsProjection, ResultsView


class CatchUpView(Protocol):
    """A view that can be replayed in batches as well as fed by the runner."""

    def position(self, application: str) -> int:
        """The last event of the log the view holds (0: none)."""
        ...

    def reset(self, application: str) -> None:
        """Empty the view and forget its position, in one transaction."""
        ...

    def project(self, events: Sequence[tuple[Any, int]], tracking: Tracking) -> int:
        """Apply consecutive (domain event, notification id) pairs and record `tracking`,
        in one transaction; returns rows written. Already-projected events are skipped."""
        ...


@dataclass(frozen=True)
class ProjectionSpec:
    """One read model: its name (metrics label, CLI), its projection and its view class."""

    name: str
    projection: type[Projection[Any]]
    view: type[PostgresTrackingRecorder]


REGISTERED: tuple[ProjectionSpec, ...] = (
    ProjectionSpec("audit_index", AuditIndexProjection, AuditIndexView),
    ProjectionSpec("chain", ChainProjection, ChainView),
    ProjectionSpec("results", ResultsProjection, ResultsView),
)

Runner = ProjectionRunner[Application[UUID], Any]


class Projections(Protocol):
    """What the projector needs from the container: each projection's log, view and runner."""

    @property
    def specs(self) -> tuple[ProjectionSpec, ...]: ...

    def opened(
        self, spec: ProjectionSpec
    ) -> AbstractContextManager[tuple[Application[UUID], CatchUpView]]:
        """The log and the projection's view, open until the block ends."""
        ...

    def runner(self, spec: ProjectionSpec) -> Runner:
        """A new (not yet started) runner that tails the log into the view."""
        ...
