"""How far each registered read model trails the log: what `/api/ready` and `tieout
status` report. Two cheap queries a projection, over the container's pool."""

from __future__ import annotations

from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import tuple_row

from projections.names import APPLICATION_NAME, EVENTS_TABLE
from projections.registry import ProjectionSpec


class ProjectionLags:
    """Events in the log that each projection does not hold yet."""

    def __init__(self, datastore: PostgresDatastore, specs: tuple[ProjectionSpec, ...]) -> None:
        self.datastore = datastore
        self.specs = specs

    def behind(self) -> dict[str, int]:
        """Per projection name. Before a projection first runs its tracking table may not
        exist: the whole log is then its lag."""
        found: dict[str, int] = {}
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(
                f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
            ).fetchone()
            head = int(row[0]) if row else 0
            for spec in self.specs:
                table = f"{spec.projection.name}_tracking"
                exists = curs.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
                position = 0
                if exists and exists[0]:
                    tracked = curs.execute(
                        f"SELECT coalesce(max(notification_id), 0) FROM {table} "
                        "WHERE application_name = %s",
                        (APPLICATION_NAME,),
                    ).fetchone()
                    position = int(tracked[0]) if tracked else 0
                found[spec.name] = max(head - position, 0)
        return found

    def most(self) -> int:
        """The largest lag of any projection (0: all caught up)."""
        return max(self.behind().values(), default=0)
