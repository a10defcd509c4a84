"""Where a job's decision rows live: staged while its batches arrive, published whole.

`tieout_rm_decisions` is partitioned by `own_partition` (ADR 0014):

- `tieout_rm_decisions_shared` (false) holds the rows of jobs under the threshold, in one
  table whose indexes lead with `job_id`;
- `tieout_rm_decisions_own` (true) is partitioned by `job_id`: each larger job has a
  table of its own, with the same indexes less the `job_id` that every row shares.

As a job's `DecisionsRecorded` batches are projected, their rows are copied into a
staging table of the job's own (`job_decisions_table`), with no index, which no query
reads. When the job completes, in the transaction of its `JobCompleted`:

- a job of at least `own_rows` decisions gets its indexes built on that table, one sort
  each: PostgreSQL builds a btree from sorted input several times faster than it inserts
  the same entries one by one, which is what a COPY into an indexed table does. The
  table is then attached to `tieout_rm_decisions_own`; the CHECK constraint it was made
  with proves the partition bound, so attaching scans nothing.
- a smaller job's rows move into the shared table and the staging table is dropped:
  the catalog grows by a partition only for jobs where the bulk build pays.

Either way a job's decisions become visible all at once: a running, failed or cancelled
job shows none, never a part. Staged rows are kept until the job completes, since a
redriven job records only the batches its earlier attempts did not.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import polars as pl
from psycopg import Cursor, sql

from projections.names import (
    DECISIONS_OWN_TABLE,
    DECISIONS_SHARED_TABLE,
    DECISIONS_STAGED_TABLE,
    DECISIONS_TABLE,
    job_decisions_table,
)

COPIED_COLUMNS = (
    "job_id",
    "row_no",
    "group_id",
    "left_id",
    "right_id",
    "rule",
    "confidence",
    "status",
    "left_amount",
    "right_amount",
)
"""The columns a decision batch fills; the review columns keep their defaults."""

ALL_COLUMNS = (
    *COPIED_COLUMNS,
    "review_status",
    "action_id",
    "reviewed_by",
    "reviewed_at",
)

_QUEUED = "review_status = 'pending_approval' OR (status = 'suggested' AND review_status = 'none')"
_AMOUNT = "(-greatest(abs(coalesce(left_amount, 0)), abs(coalesce(right_amount, 0))))"

OWN_INDEXES: tuple[tuple[str, str], ...] = (
    ("row", "UNIQUE INDEX {name} ON {table} (row_no)"),
    ("confidence", "INDEX {name} ON {table} ((-confidence), row_no)"),
    ("status", "INDEX {name} ON {table} (status, (-confidence), row_no)"),
    ("rule", "INDEX {name} ON {table} (rule, (-confidence), row_no)"),
    ("review", "INDEX {name} ON {table} (review_status, (-confidence), row_no)"),
    ("group", "INDEX {name} ON {table} (group_id)"),
    ("queue_confidence", f"INDEX {{name}} ON {{table}} ((-confidence), row_no) WHERE {_QUEUED}"),
    ("queue_amount", f"INDEX {{name}} ON {{table}} ({_AMOUNT}, row_no) WHERE {_QUEUED}"),
)
"""A job partition's indexes: the shared table's (0004 and 0005 migrations) less job_id."""

BUILD_MEMORY = "256MB"
"""maintenance_work_mem of a partition's index builds: a million rows sort in memory."""


def stage(curs: Cursor[Any], job_id: UUID, frames: Sequence[pl.DataFrame]) -> None:
    """Copy rows of `job_id`'s decisions (frames of COPIED_COLUMNS) into its staging
    table, made on the job's first batch."""
    rows = pl.concat(frames).sort(pl.col("confidence").neg(), pl.col("row_no"))
    table = job_decisions_table(job_id)
    known = curs.execute(
        f"INSERT INTO {DECISIONS_STAGED_TABLE} AS s (job_id, table_name, rows) "
        "VALUES (%s, %s, %s) ON CONFLICT (job_id) DO UPDATE SET rows = s.rows + EXCLUDED.rows "
        "RETURNING s.xmax = 0 AS first",  # inserted, not updated: the first batch
        (job_id, table, rows.height),
    ).fetchone()
    if known is None or _first(known):
        curs.execute(_create_staging(job_id, table))
    buffer = io.BytesIO()
    rows.select(COPIED_COLUMNS).write_csv(buffer, include_header=False, null_value="")
    with curs.copy(f"COPY {table} ({', '.join(COPIED_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())


def publish(curs: Cursor[Any], job_id: UUID, own_rows: int) -> int:
    """Make the staged decisions of a completed job visible; returns their count (0: the
    job recorded none)."""
    found = curs.execute(
        f"DELETE FROM {DECISIONS_STAGED_TABLE} WHERE job_id = %s RETURNING table_name, rows",
        (job_id,),
    ).fetchone()
    if found is None:
        return 0
    table, rows = _staged(found)
    if rows >= own_rows:
        curs.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
        for statement in own_index_statements(table):
            curs.execute(statement)
        curs.execute(f"ANALYZE {table}")
        curs.execute(
            sql.SQL("ALTER TABLE {own} ATTACH PARTITION {table} FOR VALUES IN ({job})").format(
                own=sql.Identifier(DECISIONS_OWN_TABLE),
                table=sql.Identifier(table),
                job=sql.Literal(str(job_id)),
            )
        )
        return rows
    columns = ", ".join(ALL_COLUMNS)
    curs.execute(
        f"INSERT INTO {DECISIONS_SHARED_TABLE} ({columns}) SELECT {columns} FROM {table} "
        "ORDER BY -confidence, row_no"
    )
    curs.execute(f"DROP TABLE {table}")
    return rows


def drop_all(curs: Cursor[Any]) -> None:
    """Drop every job partition and staging table (the read models are being rebuilt)."""
    attached = curs.execute(
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
        (DECISIONS_OWN_TABLE,),
    ).fetchall()
    staged = curs.execute(f"SELECT table_name FROM {DECISIONS_STAGED_TABLE}").fetchall()
    for row in [*attached, *staged]:
        name = next(iter(row.values())) if isinstance(row, dict) else row[0]
        curs.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(str(name))))


def own_index_statements(table: str) -> list[str]:
    """CREATE INDEX statements of a job partition named `table`."""
    prefix = table.replace(DECISIONS_TABLE, "tieout_rmd", 1)  # names within 63 bytes
    return [
        "CREATE " + template.format(name=f"{prefix}_{suffix}", table=table)
        for suffix, template in OWN_INDEXES
    ]


def _create_staging(job_id: UUID, table: str) -> sql.Composed:
    """A table shaped as the parent, with the constraint that makes attaching it free."""
    return sql.SQL(
        "CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS, "
        "CONSTRAINT {check} CHECK (own_partition AND job_id = {job})); "
        "ALTER TABLE {table} ALTER COLUMN own_partition SET DEFAULT true"
    ).format(
        table=sql.Identifier(table),
        parent=sql.Identifier(DECISIONS_TABLE),
        check=sql.Identifier(f"{table}_job"),
        job=sql.Literal(str(job_id)),
    )


def _first(row: Any) -> bool:
    return bool(row["first"] if isinstance(row, dict) else row[0])


def _staged(row: Any) -> tuple[str, int]:
    if isinstance(row, dict):
        return str(row["table_name"]), int(row["rows"])
    return str(row[0]), int(row[1])
