"""The PostgreSQL event store with lease fencing: `engine.ports.FencedRecorder`.

`insert_fenced` appends events in the transaction that checks the job's queue row (locked
`FOR UPDATE`, so a concurrent save of the same job waits or, with `skip_locked`, fails at
once) and writes the row's new state. The check and the write happen before the events
table is locked, so the library's gap-free notification ids are kept (docs/adr/0001).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed

from engine.domain.job import ENDED, RUNNING
from engine.domain.queue import QueueGuard, QueueRow, guard_error
from projections.names import JOB_QUEUE_TABLE

GUARD = f"""
SELECT 1 FROM {JOB_QUEUE_TABLE}
WHERE job_id = %(job_id)s AND status = %(status)s
  AND (%(lease_token)s::text IS NULL OR lease_token = %(lease_token)s::text)
  AND (%(stale_for)s::float8 IS NULL
       OR heartbeat_at < now() - make_interval(secs => %(stale_for)s::float8))
"""

UPSERT = f"""
INSERT INTO {JOB_QUEUE_TABLE} AS q (
    job_id, project_id, status, attempts, failures, takeovers, dead_letters,
    lease_token, worker, last_error, available_at)
VALUES (
    %(job_id)s, %(project_id)s, %(status)s, %(attempts)s, %(failures)s, %(takeovers)s,
    %(dead_letters)s, %(lease_token)s, %(worker)s, %(last_error)s,
    now() + make_interval(secs => %(available_in)s::float8))
ON CONFLICT (job_id) DO UPDATE SET
    status = EXCLUDED.status,
    attempts = EXCLUDED.attempts,
    failures = EXCLUDED.failures,
    takeovers = EXCLUDED.takeovers,
    dead_letters = EXCLUDED.dead_letters,
    lease_token = EXCLUDED.lease_token,
    worker = EXCLUDED.worker,
    last_error = EXCLUDED.last_error,
    available_at = EXCLUDED.available_at,
    heartbeat_at = CASE WHEN %(claimed)s THEN now() ELSE q.heartbeat_at END,
    started_at = CASE WHEN %(claimed)s THEN now() ELSE q.started_at END,
    phase = CASE WHEN %(claimed)s THEN 'claimed'
                 WHEN EXCLUDED.status = 'running' THEN q.phase
                 ELSE EXCLUDED.status END,
    rows_processed = CASE WHEN %(claimed)s THEN 0 ELSE q.rows_processed END,
    finished_at = CASE WHEN %(ended)s THEN now() ELSE NULL END,
    updated_at = now()
"""


class PostgresFencedRecorder(PostgresApplicationRecorder):
    """PostgresApplicationRecorder (table lock and all) plus `insert_fenced`.

    Both inserts run without psycopg's pipeline mode: with the megabytes of a batch of
    decisions as one parameter, a pipelined save intermittently hung for good (client and
    server each waiting to read; psycopg/psycopg#685 describes the pattern). A save is one
    transaction of a few statements, so the pipeline saved nothing here. The suite runs
    the library's own `ApplicationRecorderTestCase` on this class.

    The events go to the server in PostgreSQL's binary format: in text, every byte of a
    batch's state is written as two hex digits and then escaped for the composite and its
    array by regular expressions, which cost more than the rest of a save together.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        text = self.insert_events_statement.as_string(None)
        if "unnest(%s::" not in text:
            msg = f"the library's INSERT has changed: {text}"
            raise RuntimeError(msg)
        binary = text.replace("unnest(%s::", "unnest(%b::")  # the one parameter, in binary
        self.insert_events_statement = Composed([SQL(binary)])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._insert(stored_events, None, None, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_fenced(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        guard: QueueGuard | None = None,
        row: QueueRow | None = None,
    ) -> Sequence[int] | None:
        return self._insert(stored_events, guard, row)

    def _insert(
        self,
        stored_events: Sequence[StoredEvent],
        guard: QueueGuard | None,
        row: QueueRow | None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            if guard is not None:
                check_guard(curs, guard)
            if row is not None:
                curs.execute(UPSERT, upsert_params(row))
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


def check_guard(curs: Cursor[DictRow], guard: QueueGuard) -> None:
    lock = " FOR UPDATE SKIP LOCKED" if guard.skip_locked else " FOR UPDATE"
    curs.execute(
        GUARD + lock,
        {
            "job_id": guard.job_id,
            "status": guard.status,
            "lease_token": guard.lease_token,
            "stale_for": guard.stale_for_seconds,
        },
    )
    if curs.fetchone() is None:
        raise guard_error(guard)


def upsert_params(row: QueueRow) -> dict[str, Any]:
    return {
        "job_id": row.job_id,
        "project_id": row.project_id,
        "status": row.status,
        "attempts": row.attempts,
        "failures": row.failures,
        "takeovers": row.takeovers,
        "dead_letters": row.dead_letters,
        "lease_token": row.lease_token,
        "worker": row.worker,
        "last_error": row.last_error,
        "available_in": row.available_in_seconds,
        "claimed": row.status == RUNNING,
        "ended": row.status in ENDED,
    }
