"""Where a job's decisions live (projections/decision_partitions.py): staged and invisible
while they arrive, then published whole, into the job's own partition or the shared one."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID, uuid4

import polars as pl
import psycopg
import pytest
from review_helpers import META, register

from engine.reviews import Reviews
from projections.decision_partitions import COPIED_COLUMNS, own_index_statements, publish, stage
from projections.names import job_decisions_table
from projections.projector import catch_up, rebuild
from projections.results_query import DecisionFilters
from tieout.bootstrap import Container
from tieout.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A job of 20 or more decision rows gets its own partition."""
    return settings.model_copy(update={"own_partition_rows": 20})


def homes(url: str, job_id: UUID) -> dict[str, int]:
    """The job's decision rows by the table that holds them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tableoid::regclass::text, count(*) FROM tieout_rm_decisions "
            "WHERE job_id = %s GROUP BY 1",
            (job_id,),
        ).fetchall()
    return {str(table): int(count) for table, count in rows}


def staged(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM tieout_rm_decisions_staged").fetchone()
    return int(row[0]) if row else -1


def decisions(job_id: UUID, rows: int) -> pl.DataFrame:
    n = pl.int_range(rows, dtype=pl.Int64, eager=True)
    return pl.DataFrame({"row_no": n}).select(
        pl.lit(str(job_id)).alias("job_id"),
        pl.col("row_no"),
        ("g" + pl.col("row_no").cast(pl.String)).alias("group_id"),
        ("L" + pl.col("row_no").cast(pl.String)).alias("left_id"),
        ("R" + pl.col("row_no").cast(pl.String)).alias("right_id"),
        pl.lit("exact").alias("rule"),
        (pl.col("row_no") / rows).alias("confidence"),
        pl.lit("matched").alias("status"),
        pl.lit(1.5).alias("left_amount"),
        pl.lit(1.5).alias("right_amount"),
    )


def test_a_large_job_is_published_into_its_own_partition_with_every_row(
    container: Container, tmp_path: Path
) -> None:
    job = register(container, tmp_path)
    assert catch_up(container.projections, 60) == 0
    matches, _ = container.app.recorded_decisions(job.job_id)
    assert matches.height >= 20
    table = job_decisions_table(job.job_id)
    assert homes(container.database_url, job.job_id) == {table: matches.height}
    assert staged(container.database_url) == 0
    # A manual match adds rows to the job's own partition, not the shared one.
    reviews = Reviews(container.app)
    reviews.match(job.job_id, ["U1"], ["V1"], "same customer", META)
    assert catch_up(container.projections, 60) == 0
    assert homes(container.database_url, job.job_id) == {table: matches.height + 1}
    # A rebuild drops the partition and publishes it again, with the review applied.
    before = container.results.decisions(job.job_id, DecisionFilters(), 1000).items
    rebuild(container.projections)
    assert homes(container.database_url, job.job_id) == {table: matches.height + 1}
    assert container.results.decisions(job.job_id, DecisionFilters(), 1000).items == before


def test_a_small_job_shares_a_partition_and_leaves_no_table_behind(
    container: Container, settings: Settings, tmp_path: Path
) -> None:
    job = register(container, tmp_path)
    matches, _ = container.app.recorded_decisions(job.job_id)
    small = settings.model_copy(update={"own_partition_rows": matches.height + 1})
    projections = type(container.projections)(
        container.projections.env,
        container.projections.specs,
        "test",
        container.signer,
        small.own_partition_rows,
    )
    assert catch_up(projections, 60) == 0
    assert homes(container.database_url, job.job_id) == {
        "tieout_rm_decisions_shared": matches.height
    }
    with psycopg.connect(container.database_url) as conn:
        found = conn.execute(
            "SELECT to_regclass(%s)", (job_decisions_table(job.job_id),)
        ).fetchone()
    assert found == (None,)


def test_staged_rows_stay_invisible_until_the_job_is_published(container: Container) -> None:
    job_id = uuid4()
    url = container.database_url
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        frame = decisions(job_id, 50)
        stage(curs, job_id, [frame.slice(0, 30)])
        stage(curs, job_id, [frame.slice(30, 20)])
    assert homes(url, job_id) == {}
    assert staged(url) == 1
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        assert publish(curs, job_id, 50) == 50
        assert publish(curs, uuid4(), 50) == 0  # a job that recorded no decisions
    assert homes(url, job_id) == {job_decisions_table(job_id): 50}
    assert staged(url) == 0


def test_a_job_partition_has_the_shared_indexes_less_the_job(container: Container) -> None:
    """The two index sets are written in two places (migrations, OWN_INDEXES): equal."""
    job_id = uuid4()
    with psycopg.connect(container.database_url) as conn, conn.cursor() as curs:
        stage(curs, job_id, [decisions(job_id, 5).select(COPIED_COLUMNS)])
        publish(curs, job_id, 1)
        rows = curs.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            (["tieout_rm_decisions_shared", job_decisions_table(job_id)],),
        ).fetchall()
    shared = {_shape(defn.replace("job_id, ", "")) for table, defn in rows if "shared" in table}
    own = {_shape(defn) for table, defn in rows if "shared" not in table}
    assert len(shared) == len(own_index_statements("t")) == 8
    assert own == shared


def _shape(definition: str) -> str:
    """An index definition without its name and table: what it indexes, and where."""
    return re.sub(r"INDEX \w+ ON [\w.]+ ", "INDEX ON t ", definition)
