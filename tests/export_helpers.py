"""A completed job whose export is far larger than any socket buffer, for tests of clients
that leave or stop reading part way."""

from __future__ import annotations

from uuid import UUID

import polars as pl
import psycopg

from projections.job_partitions import DECISIONS, publish, stage
from tieout.bootstrap import Container

LARGE_EXPORT_ROWS = 300_000  # some 20 MB of CSV


def make_export_large(container: Container, job: str, rows: int = LARGE_EXPORT_ROWS) -> None:
    """Replace the job's decision rows in the read models with `rows` synthetic ones."""
    n = pl.int_range(rows, dtype=pl.Int64, eager=True)
    text = n.cast(pl.String)
    frame = pl.DataFrame({"row_no": n}).select(
        pl.lit(job).alias("job_id"),
        pl.col("row_no"),
        ("g" + text).alias("group_id"),
        ("L" + text).alias("left_id"),
        ("R" + text).alias("right_id"),
        pl.lit("exact").alias("rule"),
        pl.lit(1.0).alias("confidence"),
        pl.lit("matched").alias("status"),
        pl.lit(12.5).alias("left_amount"),
        pl.lit(12.5).alias("right_amount"),
        pl.lit(None, dtype=pl.Date).alias("left_date"),
        pl.lit(None, dtype=pl.Date).alias("right_date"),
    )
    with psycopg.connect(container.database_url) as conn, conn.cursor() as curs:
        curs.execute("DELETE FROM tieout_rm_decisions WHERE job_id = %s", (job,))
        stage(curs, DECISIONS, UUID(job), [frame])
        publish(curs, UUID(job), 1)
