"""What every read model's writer does before it writes: take its turn, find its position.

A view's rows and its tracking position commit in one transaction (ADR 0006). Writers of
one view take turns (a transaction-level advisory lock). Events at or before the tracked
position are already applied and skipped; an event the view has not reached yet, with
events between, is a gap: the writer was overtaken by a rebuild and must restart.
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor

from projections.names import EVENTS_TABLE


class ProjectionResetError(Exception):
    """The view is behind where this writer thought it was (it was rebuilt meanwhile).

    The writer must start again from the view's position; nothing was written.
    """


def begin_write(lock: int) -> bytes:
    """The statements that open a view's write transaction, in one round trip.

    A view can always be derived again from the log, so its commits need not wait for the
    disk: a server crash may lose the last few, but rows and position together (one
    transaction, in WAL order), and the projector then redoes them. The log keeps the
    synchronous commits it is configured with.
    """
    return f"SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock({int(lock)})".encode()


def checked_position(
    curs: Cursor[Any], tracking_table: str, view_table: str, application: str, first: int
) -> int:
    """The view's position, after checking that `first` follows it (else a reset)."""
    found = curs.execute(
        f"""
        SELECT t.position,
               EXISTS (SELECT 1 FROM {EVENTS_TABLE} e
                       WHERE e.notification_id > coalesce(t.position, 0)
                         AND e.notification_id < %(first)s) AS gap
        FROM (SELECT max(notification_id) AS position FROM {tracking_table}
              WHERE application_name = %(application)s) t
        """,
        {"first": first, "application": application},
    ).fetchone()
    row = _as_mapping(found)
    position = int(row.get("position") or 0)
    if position < first and row.get("gap"):
        msg = f"{view_table} is at {position}, behind event {first}: restart from there"
        raise ProjectionResetError(msg)
    return position


def _as_mapping(found: Any) -> dict[str, Any]:
    if found is None:
        return {}
    if isinstance(found, dict):
        return found
    return {"position": found[0], "gap": found[1]}
