"""The event log as backups see it: stored rows out in notification order, and back in.

Rows travel as they are stored (id, stream, version, topic, state bytes), never decoded, so
a restored log is byte-identical and its hash chain recomputes to the same seals. Built by
`tieout/bootstrap.py` over the container's pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from engine.commitment import LogRow
from engine.domain.job import Job
from engine.domain.source import Source
from projections.names import EVENTS_TABLE, Lock

FETCH_ROWS = 500
COLUMNS = "notification_id, originator_id, originator_version, topic, state"
TYPES = ("int8", "uuid", "int8", "text", "bytea")
JOB_REQUESTED = f"{Job.__module__}:{Job.JobRequested.__qualname__}"
SOURCE_REGISTERED = f"{Source.__module__}:{Source.SourceRegistered.__qualname__}"


class PostgresEventLog:
    """Reads and loads `tieout_events` rows for snapshots and restores."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def head(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            found = curs.execute(f"SELECT max(notification_id) AS head FROM {EVENTS_TABLE}")
            row = found.fetchone()
        return int(row["head"] or 0) if row else 0

    def rows(self, after: int, through: int) -> Iterator[LogRow]:
        """Stored rows with `after < notification_id <= through`, in order, fetched in slices
        on a server-side cursor (a decision batch can be megabytes)."""
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(name="tieout_snapshot_rows", binary=True) as curs,
        ):
            curs.itersize = FETCH_ROWS
            curs.execute(
                f"SELECT {COLUMNS} FROM {EVENTS_TABLE}"
                " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id",
                (after, through),
            )
            for found in curs:
                yield _log_row(found)

    @contextmanager
    def exclusive(self, lock: Lock) -> Iterator[bool]:
        """Hold a session advisory lock for the block if it is free; yields whether it was."""
        with self.datastore.get_connection() as conn:
            found = conn.execute("SELECT pg_try_advisory_lock(%s) AS held", (int(lock),))
            row = found.fetchone()
            held = bool(row and row["held"])
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (int(lock),))
                    conn.commit()

    def nonempty_table(self) -> str | None:
        """The name of a table of the database that holds a row, or None when none does."""
        with self.datastore.transaction(commit=False) as curs:
            tables = curs.execute(
                "SELECT schemaname, tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                " ORDER BY schemaname, tablename"
            ).fetchall()
            for table in tables:
                name = sql.Identifier(table["schemaname"], table["tablename"])
                query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS found").format(name)
                found = curs.execute(query).fetchone()
                if found and found["found"]:
                    return f"{table['schemaname']}.{table['tablename']}"
        return None

    def load(self, rows: Iterable[LogRow]) -> int:
        """COPY rows into the log in one transaction and move its id sequence past them."""
        loaded = 0
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            statement = f"COPY {EVENTS_TABLE} ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
            with curs.copy(statement) as copy:
                copy.set_types(list(TYPES))
                for row in rows:
                    copy.write_row(row)
                    loaded += 1
            curs.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'),"
                f" (SELECT coalesce(max(notification_id), 0) + 1 FROM {EVENTS_TABLE}), false)",
                (EVENTS_TABLE,),
            )
        return loaded

    def streams_of(self, topic: str) -> list[UUID]:
        """The streams whose first event has this topic (e.g. every job), in log order."""
        with self.datastore.transaction(commit=False) as curs:
            found = curs.execute(
                f"SELECT originator_id FROM {EVENTS_TABLE} WHERE topic = %s"
                " AND originator_version = 1 ORDER BY notification_id",
                (topic,),
            ).fetchall()
        return [UUID(str(row["originator_id"])) for row in found]


def _log_row(found: Any) -> LogRow:
    return LogRow(
        int(found["notification_id"]),
        UUID(str(found["originator_id"])),
        int(found["originator_version"]),
        found["topic"] or "",
        bytes(found["state"] or b""),
    )
