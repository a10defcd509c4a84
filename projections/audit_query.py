"""The auditor's queries over `tieout_audit_index`: who did what, when, on whose request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import dict_row, tuple_row

from engine.errors import BadInputError
from projections.audit_rows import AuditRow
from projections.names import (
    APPLICATION_NAME,
    AUDIT_INDEX_TABLE,
    AUDIT_INDEX_TRACKING_TABLE,
    EVENTS_TABLE,
)

MAX_LIMIT = 10_000

COLUMNS = (
    "notification_id, originator_id, originator_version, event_type, topic, "
    "actor, request_id, causation, occurred_at, project_id"
)


@dataclass(frozen=True)
class AuditFilters:
    """Every filter is optional; the ones given must all hold. `until` is exclusive."""

    actor: str | None = None
    event_type: str | None = None
    request_id: str | None = None
    project_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadInputError(f"limit: must be between 1 and {MAX_LIMIT}, not {self.limit}")
        if self.since and self.until and self.since >= self.until:
            raise BadInputError("since: must be before until")


def parse_filters(
    *,
    actor: str | None = None,
    event_type: str | None = None,
    request_id: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 100,
) -> AuditFilters:
    """Filters from text as a user types them; anything unparseable is bad input."""
    return AuditFilters(
        actor=actor,
        event_type=event_type,
        request_id=request_id,
        project_id=_parse_uuid(project, "project") if project else None,
        since=parse_time(since, "since") if since else None,
        until=parse_time(until, "until") if until else None,
        limit=limit,
    )


def parse_time(text: str, label: str) -> datetime:
    """ISO 8601 (`2026-11-23`, `2026-11-23T17:00`, `...+01:00`); without an offset, UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"{label}: {text!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AuditQueries:
    """The auditor's reads, over the container's connection pool."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def events(self, filters: AuditFilters) -> list[AuditRow]:
        """Indexed events matching the filters, newest first."""
        with self.datastore.get_connection() as conn:
            return query_audit(conn, filters)

    def lag(self) -> int:
        """Events in the log that the audit index does not hold yet."""
        with self.datastore.get_connection() as conn:
            return audit_index_lag(conn)


def query_audit(conn: psycopg.Connection[Any], filters: AuditFilters) -> list[AuditRow]:
    """Indexed events matching the filters, newest first."""
    sql, params = _select(filters)
    return _fetch(conn, sql, params)


def _select(filters: AuditFilters) -> tuple[str, dict[str, Any]]:
    conditions = {
        "actor = %(actor)s": filters.actor,
        "event_type = %(event_type)s": filters.event_type,
        "request_id = %(request_id)s": filters.request_id,
        "project_id = %(project_id)s": filters.project_id,
        "occurred_at >= %(since)s": filters.since,
        "occurred_at < %(until)s": filters.until,
    }
    where = [condition for condition, value in conditions.items() if value is not None]
    sql = f"SELECT {COLUMNS} FROM {AUDIT_INDEX_TABLE}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY occurred_at DESC, notification_id DESC LIMIT %(limit)s"
    params = {
        "actor": filters.actor,
        "event_type": filters.event_type,
        "request_id": filters.request_id,
        "project_id": filters.project_id,
        "since": filters.since,
        "until": filters.until,
        "limit": filters.limit,
    }
    return sql, params


def _fetch(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> list[AuditRow]:
    with conn.cursor(row_factory=dict_row) as curs:
        curs.execute(sql.encode(), params)
        return [AuditRow(**row) for row in curs.fetchall()]


def _parse_uuid(text: str, label: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise BadInputError(f"{label}: {text!r} is not a valid id") from None


def audit_index_lag(conn: psycopg.Connection[Any]) -> int:
    """Events in the log that the audit index does not hold yet (two cheap queries).

    Until a projector first runs, its tracking table does not exist: the whole log is lag.
    """
    with conn.cursor(row_factory=tuple_row) as curs:
        head = curs.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")
        behind = int(_first(head.fetchone()))
        exists = curs.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (AUDIT_INDEX_TRACKING_TABLE,)
        ).fetchone()
        if exists is None or not exists[0]:
            return behind
        position = curs.execute(
            f"SELECT coalesce(max(notification_id), 0) FROM {AUDIT_INDEX_TRACKING_TABLE} "
            "WHERE application_name = %s",
            (APPLICATION_NAME,),
        ).fetchone()
    return max(behind - int(_first(position)), 0)


def _first(row: tuple[Any, ...] | None) -> Any:
    return row[0] if row else 0
