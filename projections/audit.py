"""The audit index projection: `tieout_audit_index`, one row per event of the log.

The projector (projections/projector.py) tails the log with a `ProjectionRunner` of
`TieoutLog`, `AuditIndexProjection` and `AuditIndexView`, built by the container. The view
writes each event's row in the same transaction as its tracking position, so a crash and
restart neither skips nor repeats an event. Rebuilds and catch-ups replay the log in
batches through the same `AuditIndexView.record` (`AuditIndexView.project`), which is many
times faster than an event per transaction (docs/adr/0006).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, Mapper, OperationalError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import retry

from projections.audit_rows import AuditEntry, TolerantMapper, event_entry
from projections.names import (
    APPLICATION_NAME,
    AUDIT_INDEX_TABLE,
    AUDIT_INDEX_TRACKING_TABLE,
    Lock,
)
from projections.tracking import begin_write, checked_position

VIEW_TABLE = AUDIT_INDEX_TABLE
TRACKING_TABLE = AUDIT_INDEX_TRACKING_TABLE
WRITE_LOCK = int(Lock.AUDIT_INDEX_WRITE)

INSERT = f"""
INSERT INTO {VIEW_TABLE} (
    notification_id, originator_id, originator_version, event_type, topic,
    actor, request_id, causation, occurred_at, project_id, org_id)
VALUES (
    %(notification_id)s, %(originator_id)s, %(originator_version)s, %(event_type)s, %(topic)s,
    %(actor)s, %(request_id)s, %(causation)s, %(occurred_at)s,
    coalesce(%(project_id)s::uuid, (
        SELECT project_id FROM {VIEW_TABLE}
        WHERE originator_id IN (%(originator_id)s, %(parent_id)s) AND project_id IS NOT NULL
        ORDER BY notification_id LIMIT 1)),
    coalesce(%(org_id)s::uuid, (
        SELECT org_id FROM {VIEW_TABLE}
        WHERE originator_id = %(originator_id)s AND originator_version = 1
          AND %(project_id)s::uuid IS NULL AND %(parent_id)s::uuid IS NULL)))
"""


class TieoutLog(Application[UUID]):
    """The Tieout event log, read-only, as the projection runner subscribes to it.

    `ProjectionRunner` builds its application as `application_class(env)`, but
    `engine.application.Tieout` also needs an object store for its commands. The projector
    runs no command: it only reads the log. So it subscribes through this application,
    which shares Tieout's name, hence its table (`tieout_events`) and the `application_name`
    of its tracking rows, and maps stored events without ever failing on one
    (`TolerantMapper`).
    """

    name = APPLICATION_NAME

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        datastore: Any = getattr(self.recorder, "datastore", None)
        if isinstance(datastore, PostgresDatastore) and datastore.enable_db_functions:
            msg = "POSTGRES_ENABLE_DB_FUNCTIONS is set: subscribers would miss events"
            raise RuntimeError(msg)

    def construct_mapper(self) -> Mapper[UUID]:
        plain: Mapper[UUID] = self.factory.mapper(transcoder=self.construct_transcoder())
        return TolerantMapper(plain.transcoder, plain.compressor, plain.cipher)


class AuditIndexView(PostgresTrackingRecorder):
    """The materialised view: `tieout_audit_index` and its tracking rows."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def record(self, entries: Sequence[AuditEntry], tracking: Tracking) -> int:
        """Write the rows of consecutive events and the tracking position, or nothing.

        Writers take turns (an advisory lock). Events at or before the tracked position are
        already indexed and skipped; an event the index has not reached yet is a gap, so
        the writer was overtaken by a rebuild and must restart. Returns rows written.
        """
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(begin_write(WRITE_LOCK), prepare=False)
            first = entries[0].row.notification_id
            position = checked_position(
                curs, TRACKING_TABLE, VIEW_TABLE, tracking.application_name, first
            )
            fresh = [entry for entry in entries if entry.row.notification_id > position]
            if not fresh:
                return 0
            if len(fresh) == 1:  # the runner's case: executemany's pipeline costs a round trip
                curs.execute(INSERT.encode(), _params(fresh[0]))
            else:
                curs.executemany(INSERT.encode(), [_params(entry) for entry in fresh])
            self._insert_tracking(curs, tracking)
        return len(fresh)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def reset(self, application: str) -> None:
        """Empty the index and forget its position, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            curs.execute(f"TRUNCATE {VIEW_TABLE}")
            curs.execute(
                f"DELETE FROM {TRACKING_TABLE} WHERE application_name = %s", (application,)
            )

    def position(self, application: str) -> int:
        """The last event the index holds (0: none)."""
        return self.max_tracking_id(application) or 0

    def project(self, events: Sequence[tuple[Any, int]], tracking: Tracking) -> int:
        """`record` the entries of consecutive (event, notification id) pairs."""
        entries = [event_entry(event, number) for event, number in events]
        return int(self.record(entries, tracking))


class AuditIndexProjection(Projection[AuditIndexView]):
    """Indexes every event, whatever its type."""

    name = AUDIT_INDEX_TABLE  # the view's table prefix: tieout_audit_index_tracking
    topics = ()  # all of them

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        entry = event_entry(domain_event, tracking.notification_id)
        self.view.record([entry], tracking)


def _params(entry: AuditEntry) -> dict[str, Any]:
    row = entry.row
    return {
        "notification_id": row.notification_id,
        "originator_id": row.originator_id,
        "originator_version": row.originator_version,
        "event_type": row.event_type,
        "topic": row.topic,
        "actor": row.actor,
        "request_id": row.request_id,
        "causation": row.causation,
        "occurred_at": row.occurred_at,
        "project_id": row.project_id,
        "parent_id": entry.parent_id,
        "org_id": entry.org_id,
    }
