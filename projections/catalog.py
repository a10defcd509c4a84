"""The API's list queries: pages of jobs and of audit events, and the job counts of
`/api/health`. Every page is keyset-paginated (a cursor names the last row
seen), so a deep page costs what the first one does.

Callers pass the projects the principal may see; these queries never decide access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import dict_row, tuple_row

from engine.ports import QueueEntry
from projections.audit_query import COLUMNS as AUDIT_COLUMNS
from projections.audit_query import AuditFilters
from projections.audit_rows import AuditRow
from projections.names import AUDIT_INDEX_TABLE, JOB_QUEUE_TABLE

JOB_PAGE = f"""
SELECT job_id, project_id, status, attempts, failures, worker, phase, rows_processed,
       rows_total, last_error,
       CASE WHEN status = 'running'
            THEN extract(epoch FROM now() - heartbeat_at)::float8 END AS heartbeat_age,
       created_at
FROM {JOB_QUEUE_TABLE}
WHERE project_id = ANY(%(projects)s)
  AND (cardinality(%(statuses)s::text[]) = 0 OR status = ANY(%(statuses)s::text[]))
  AND (%(after_time)s::timestamptz IS NULL
       OR (created_at, job_id) < (%(after_time)s::timestamptz, %(after_id)s::uuid))
ORDER BY created_at DESC, job_id DESC
LIMIT %(limit)s
"""

TODAY = "(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
JOB_COUNTS = f"""
SELECT
  count(*) FILTER (WHERE status = 'requested') AS pending,
  count(*) FILTER (WHERE status = 'running') AS running,
  count(*) FILTER (WHERE status = 'completed' AND finished_at >= {TODAY})
    AS completed_today,
  count(*) FILTER (WHERE status IN ('failed', 'dead_lettered')
                   AND updated_at >= {TODAY}) AS failed_today,
  count(*) FILTER (WHERE status = 'dead_lettered') AS dead_letters
FROM {JOB_QUEUE_TABLE}
"""


@dataclass(frozen=True)
class AuditPage:
    """Audit filters as the API takes them: the index's own filters, plus a stream and a
    cursor (the last notification id seen; pages run newest first)."""

    filters: AuditFilters
    aggregate_id: UUID | None = None
    before: int | None = None


class Catalog:
    """The API's list queries, over the container's connection pool."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def job_page(
        self,
        projects: list[UUID],
        statuses: tuple[str, ...],
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[QueueEntry]:
        """Jobs of these projects, newest first, after the cursor's (created_at, id)."""
        params = {
            "projects": projects,
            "statuses": list(statuses),
            "after_time": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        }
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(JOB_PAGE, params)
            return [QueueEntry(*row) for row in curs.fetchall()]

    def audit_page(
        self, projects: list[UUID], page: AuditPage, org: UUID | None = None
    ) -> list[AuditRow]:
        """Indexed events of these projects matching the filters, newest first; with `org`,
        also that organization's events that belong to no project (its users, API keys and
        its own stream), unless the filters name a project."""
        filters = page.filters
        org = None if filters.project_id else org
        scope = "project_id = ANY(%(projects)s)"
        if org is not None:
            scope = f"({scope} OR (project_id IS NULL AND org_id = %(org)s))"
        conditions = {
            scope: projects,
            "actor = %(actor)s": filters.actor,
            "event_type = %(event_type)s": filters.event_type,
            "request_id = %(request_id)s": filters.request_id,
            "project_id = %(project_id)s": filters.project_id,
            "occurred_at >= %(since)s": filters.since,
            "occurred_at < %(until)s": filters.until,
            "originator_id = %(aggregate_id)s": page.aggregate_id,
            "notification_id < %(before)s": page.before,
        }
        where = " AND ".join(sql for sql, value in conditions.items() if value is not None)
        sql = (
            f"SELECT {AUDIT_COLUMNS} FROM {AUDIT_INDEX_TABLE} WHERE {where}"
            " ORDER BY notification_id DESC LIMIT %(limit)s"
        )
        params: dict[str, Any] = {
            "projects": projects,
            "org": org,
            "actor": filters.actor,
            "event_type": filters.event_type,
            "request_id": filters.request_id,
            "project_id": filters.project_id,
            "since": filters.since,
            "until": filters.until,
            "aggregate_id": page.aggregate_id,
            "before": page.before,
            "limit": filters.limit,
        }
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            curs.execute(sql.encode(), params)
            return [AuditRow(**row) for row in curs.fetchall()]

    def job_counts(self) -> dict[str, int]:
        """Pending, running, completed today, failed today (UTC days) and dead letters."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            row = curs.execute(JOB_COUNTS).fetchone()
        return {key: int(value) for key, value in (row or {}).items()}
