"""Which long-running Tieout processes are connected to the database, and where it is.

Every process names its connections `tieout-<process>` (`application_name`, set by
`tieout/bootstrap.py`), so `pg_stat_activity` tells whether a worker, the projector or the
API is running against this database, from any host; `tieout status` asks here.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import tuple_row

CONNECTION_PREFIX = "tieout-"
PROCESSES = ("worker", "projector", "api")

CONNECTED = """
SELECT application_name, count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = ANY(%s)
GROUP BY application_name
"""
SERVER = "SELECT current_database(), current_setting('server_version')"


@dataclass(frozen=True)
class Activity:
    """The database's name and version, and the connections each kind of process holds."""

    database: str
    server_version: str
    connections: dict[str, int]

    def running(self, process: str) -> bool:
        return self.connections.get(process, 0) > 0


class ActivityQueries:
    """Reads `pg_stat_activity` over the container's pool."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def activity(self) -> Activity:
        names = [f"{CONNECTION_PREFIX}{process}" for process in PROCESSES]
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            rows = curs.execute(CONNECTED, (names,)).fetchall()
            server = curs.execute(SERVER).fetchone()
        connections = dict.fromkeys(PROCESSES, 0)
        for name, count in rows:
            connections[str(name).removeprefix(CONNECTION_PREFIX)] = int(count)
        database, version = server or ("?", "?")
        return Activity(str(database), str(version), connections)
