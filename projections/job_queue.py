"""The job queue table's queries (engine.ports.JobQueue on PostgreSQL)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import tuple_row

from engine.ports import JobProgress, QueueEntry, QueueStats
from projections.names import EVENTS_TABLE, JOB_QUEUE_TABLE

PICK = f"""
SELECT job_id FROM {JOB_QUEUE_TABLE}
WHERE status = %s AND available_at <= now()
ORDER BY available_at, created_at
LIMIT %s
FOR UPDATE SKIP LOCKED
"""

STALE = f"""
SELECT job_id FROM {JOB_QUEUE_TABLE}
WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => %s::float8)
ORDER BY heartbeat_at
LIMIT %s
"""

HEARTBEAT = f"""
UPDATE {JOB_QUEUE_TABLE}
SET heartbeat_at = now(), phase = %s, rows_processed = %s, rows_total = %s, updated_at = now()
WHERE job_id = %s AND lease_token = %s AND status = 'running'
"""

RECORDED = f"""
SELECT originator_id FROM {EVENTS_TABLE}
WHERE originator_id = ANY(%s) AND originator_version = 1
"""

ENTRY_COLUMNS = f"""
SELECT job_id, project_id, status, attempts, failures, worker, phase, rows_processed,
       rows_total, last_error,
       CASE WHEN status = 'running'
            THEN extract(epoch FROM now() - heartbeat_at)::float8 END AS heartbeat_age,
       created_at
FROM {JOB_QUEUE_TABLE}
"""

TOTALS = f"""
SELECT status, count(*) AS jobs, sum(attempts)::bigint AS attempts,
       sum(failures)::bigint AS failures, sum(takeovers)::bigint AS takeovers,
       sum(dead_letters)::bigint AS dead_letters,
       max(CASE WHEN status = 'running'
                THEN extract(epoch FROM now() - heartbeat_at)::float8 END) AS oldest_heartbeat
FROM {JOB_QUEUE_TABLE} GROUP BY status
"""

DURATIONS = f"""
SELECT width_bucket(seconds, %s::float8[]) AS bucket, count(*) AS jobs, sum(seconds) AS seconds
FROM (SELECT extract(epoch FROM finished_at - started_at)::float8 AS seconds
      FROM {JOB_QUEUE_TABLE} WHERE status = 'completed' AND started_at IS NOT NULL) AS done
GROUP BY bucket
"""


class PostgresJobQueue:
    """Reads and heartbeats on `tieout_job_queue`, over the event store's connection pool."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def claimable(self, limit: int) -> list[UUID]:
        return self._pick("requested", limit)

    def due_retries(self, limit: int) -> list[UUID]:
        return self._pick("failed", limit)

    def stale_leases(self, stale_for_seconds: float, limit: int) -> list[UUID]:
        return [row[0] for row in self._fetch(STALE, (stale_for_seconds, limit))]

    def heartbeat(self, job_id: UUID, lease_token: str, progress: JobProgress) -> bool:
        params = (progress.phase, progress.rows_processed, progress.rows_total, job_id)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(HEARTBEAT, (*params, lease_token))
            return curs.rowcount == 1

    def recorded(self, stream_ids: list[UUID]) -> set[UUID]:
        if not stream_ids:
            return set()
        return {row[0] for row in self._fetch(RECORDED, (stream_ids,))}

    def entry(self, job_id: UUID) -> QueueEntry | None:
        rows = self._fetch(ENTRY_COLUMNS + " WHERE job_id = %s", (job_id,))
        return _entry(rows[0]) if rows else None

    def entries(
        self, statuses: tuple[str, ...] = (), project_id: UUID | None = None, limit: int = 100
    ) -> list[QueueEntry]:
        query = (
            ENTRY_COLUMNS
            + " WHERE (cardinality(%s::text[]) = 0 OR status = ANY(%s::text[]))"
            + " AND (%s::uuid IS NULL OR project_id = %s::uuid)"
            + " ORDER BY created_at DESC, job_id LIMIT %s"
        )
        wanted = list(statuses)
        rows = self._fetch(query, (wanted, wanted, project_id, project_id, limit))
        return [_entry(row) for row in rows]

    def stats(self, duration_buckets: tuple[float, ...]) -> QueueStats:
        totals = self._fetch(TOTALS, ())
        counts = [0] * (len(duration_buckets) + 1)
        duration_sum = 0.0
        for bucket, count, seconds in self._fetch(DURATIONS, (list(duration_buckets),)):
            counts[bucket] += count
            duration_sum += seconds
        return QueueStats(
            jobs_by_status={row[0]: row[1] for row in totals},
            attempts=sum(row[2] for row in totals),
            failures=sum(row[3] for row in totals),
            takeovers=sum(row[4] for row in totals),
            dead_letters=sum(row[5] for row in totals),
            oldest_heartbeat_age_seconds=max((row[6] or 0.0 for row in totals), default=0.0),
            duration_bucket_counts=counts,
            duration_sum_seconds=duration_sum,
        )

    def _pick(self, status: str, limit: int) -> list[UUID]:
        # The row locks only keep two pickers from offering each other the same rows; the
        # claim itself is guarded again inside the save (QueueGuard, SKIP LOCKED).
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            rows = curs.execute(PICK, (status, limit)).fetchall()
        return [row[0] for row in rows]

    def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(query, params)
            return curs.fetchall()


def _entry(row: tuple[Any, ...]) -> QueueEntry:
    return QueueEntry(*row)
