"""PostgreSQL wiring: the eventsourcing environment, the schema lock, the migrations.

Only `tieout/bootstrap.py` calls these; every other module gets its connections from the
container that bootstrap builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg
from psycopg.conninfo import conninfo_to_dict

from projections.names import Lock


def eventsourcing_env(url: str, *, pool_size: int, create_tables: bool) -> dict[str, str]:
    """The environment `eventsourcing.postgres` reads, derived from a PostgreSQL URL.

    POSTGRES_ENABLE_DB_FUNCTIONS is never set: its insert function skips the table lock
    that keeps the notification sequence gap-free (docs/adr/0001).
    """
    parts = conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(parts.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(parts.get("port") or "5432"),
        "POSTGRES_USER": str(parts.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(parts.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "CREATE_TABLE": "y" if create_tables else "n",
    }


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Held while a process creates the event store's tables and migrates.

    eventsourcing's CREATE ... IF NOT EXISTS statements are not safe against a second
    process running them at the same moment ("tuple concurrently updated"), which is what
    several workers starting together would do.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (Lock.SCHEMA,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (Lock.SCHEMA,))


def migrate(url: str) -> None:
    """Apply every migration script in order; each is idempotent and runs under a lock."""
    scripts = sorted(
        (
            entry
            for entry in resources.files("projections.migrations").iterdir()
            if entry.name.endswith(".sql")
        ),
        key=lambda entry: entry.name,
    )
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (Lock.MIGRATIONS,))
        for script in scripts:
            conn.execute(script.read_text(encoding="utf-8").encode())
        conn.commit()
