"""Where a job's rows live: staged while its batches arrive, published whole at completion.

`tieout_rm_decisions` and `tieout_rm_unmatched` are each partitioned by `own_partition`
(ADR 0014):

- the `_shared` partition (false) holds the rows of jobs under the threshold, in one
  table whose indexes lead with `job_id`;
- the `_own` partition (true) is partitioned by `job_id`: each larger job has a table of
  its own, with the same indexes less the `job_id` that every row shares.

As a job's `DecisionsRecorded` and `UnmatchedRecorded` batches are projected, their rows
are copied into staging tables of the job's own (`JobTable.table_for`), with no index,
which no query reads. When the job completes, in the transaction of its `JobCompleted`:

- a table of at least `own_rows` rows gets its indexes built, one sort each: PostgreSQL
  builds a btree from sorted input several times faster than it inserts the same entries
  one by one, which is what a COPY into an indexed table does. The table is then attached
  under `_own`; the CHECK constraint it was made with proves the partition bound, so
  attaching scans nothing.
- a smaller one's rows move into the shared table and it is dropped: the catalog grows by
  a partition only where the bulk build pays.

Either way a job's rows become visible all at once: a running, failed or cancelled job
shows none, never a part. Staged rows are kept until the job completes, since a redriven
job records only the batches its earlier attempts did not.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import polars as pl
import psycopg
from psycopg import Connection, Cursor, sql

from projections.copy_binary import binary_copy
from projections.names import DECISIONS_TABLE, STAGED_TABLE, UNMATCHED_TABLE, Lock

logger = logging.getLogger(__name__)

BUILD_MEMORY = "256MB"
"""maintenance_work_mem of a partition's index builds: a million rows sort in memory."""

BUILDERS = 2
"""Index builds of one job partition side by side, each on a connection of its own."""

MAX_VALUES = 8
"""A column with more distinct values in one job keeps its one index led by the column."""


@dataclass(frozen=True)
class ByValue:
    """An index led by a column of few values (status, rule, side), as a job's own
    partition has it instead: a partial index on `rest` for each value the job recorded,
    and one on (column, rest) for the values that reviews add later (`manual`).

    Sorting a million rows on a text column first costs three to four times a sort on a
    number, since nearly every comparison ties on the text and goes on to the next key; a
    partial index sorts only its value's rows, on the number. Each costs a scan of the
    table, which is why a column of more than `MAX_VALUES` values keeps its one index.
    Values in `skip` get no index of their own: the unfiltered order serves them, as it
    does `review_status = 'none'`, nearly every row of a job until it is reviewed.
    """

    suffix: str  # the entry of `JobTable.indexes` this replaces
    column: str
    rest: str  # the key after the column
    include: str = ""
    skip: tuple[str, ...] = ()
    default: str = ""  # the value staged rows hold when batches do not carry the column

    def statements(self, prefix: str, table: str, values: Sequence[str]) -> list[sql.Composed]:
        """The partial indexes of a job partition whose rows hold `values`."""
        column, rest = sql.Identifier(self.column), sql.SQL(self.rest)
        listed = sql.SQL(", ").join(sql.Literal(value) for value in sorted(values))
        own = [value for value in sorted(values) if value not in self.skip]
        wanted: list[tuple[str, sql.Composable, sql.Composable]] = [
            (str(number), rest, sql.SQL("{} = {}").format(column, sql.Literal(value)))
            for number, value in enumerate(own)
        ]
        wanted.append(
            (
                "other",
                sql.SQL("{}, {}").format(column, rest),
                sql.SQL("{} <> ALL(ARRAY[{}]::text[])").format(column, listed),
            )
        )
        include = sql.SQL(f" INCLUDE ({self.include})" if self.include else "")
        return [
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {name} ON {table} ({key}){include} WHERE {where}"
            ).format(
                name=sql.Identifier(f"{prefix}_{self.suffix}_{tag}"),
                table=sql.Identifier(table),
                key=key,
                include=include,
                where=where,
            )
            for tag, key, where in wanted
        ]


@dataclass(frozen=True)
class JobTable:
    """A read model partitioned by job: its columns, staging order and indexes."""

    parent: str
    copied: tuple[str, ...]  # the columns a batch fills
    reviewed: tuple[str, ...]  # the columns reviews fill later (defaults at first)
    order: tuple[str, ...]  # rows are staged in the order most indexes share ("-c": c desc)
    indexes: tuple[tuple[str, str], ...]  # (suffix, "[UNIQUE ]INDEX {name} ON {table} ...")
    index_prefix: str  # short: index names stay within PostgreSQL's 63 bytes
    by_value: tuple[ByValue, ...] = ()  # how a job's own partition splits some indexes
    # the indexes of a job's own partition built after its publication (`build_owed`):
    # the review's, which no results page, export or stats query reads (ADR 0024)
    deferred: tuple[str, ...] = ()

    @property
    def shared(self) -> str:
        return f"{self.parent}_shared"

    @property
    def own(self) -> str:
        return f"{self.parent}_own"

    @property
    def staging_order(self) -> list[pl.Expr]:
        """`order` for polars: "-column" is the column negated, as the indexes key it."""
        return [pl.col(key[1:]).neg() if key.startswith("-") else pl.col(key) for key in self.order]

    def table_for(self, job_id: UUID) -> str:
        """The table of one job's rows: its staging table, then its own partition."""
        return f"{self.parent}_{job_id.hex}"

    def index_statements(
        self, table: str, values: dict[str, list[str]] | None = None, *, deferred: bool = False
    ) -> list[sql.Composed]:
        """CREATE INDEX statements of a job's partition named `table`, whose rows hold
        `values` of each `by_value` column: a column of known and few values gets its
        partial indexes, any other its one index, as the shared partition has it. Those
        built before the publication; with `deferred`, those built after it."""
        values = values or {}
        prefix = table.replace(self.parent, self.index_prefix, 1)
        split = {
            index.suffix: index
            for index in self.by_value
            if 0 < len(values.get(index.column, ())) <= MAX_VALUES
        }
        made: list[sql.Composed] = []
        for suffix, template in self.indexes:
            if (suffix in self.deferred) != deferred:
                continue
            if suffix in split:
                made.extend(split[suffix].statements(prefix, table, values[split[suffix].column]))
            else:
                named = template.replace("INDEX {name}", "INDEX IF NOT EXISTS {name}")
                statement = "CREATE " + named.format(name=f"{prefix}_{suffix}", table=table)
                made.append(sql.Composed([sql.SQL(statement)]))
        return made

    def key_values(self, rows: pl.DataFrame) -> list[str]:
        """The `by_value` columns' distinct values in `rows`, as "column=value"."""
        found: dict[str, None] = {}  # two indexes may split by one column: each pair once
        for index in self.by_value:
            if index.column in rows.columns:
                values = rows.get_column(index.column).drop_nulls().unique().to_list()
            else:
                values = [index.default]
            found |= dict.fromkeys(f"{index.column}={value}" for value in values)
        return sorted(found)


_QUEUED = "review_status = 'pending_approval' OR (status = 'suggested' AND review_status = 'none')"
_AMOUNT = "(-greatest(abs(coalesce(left_amount, 0)), abs(coalesce(right_amount, 0))))"

DECISIONS = JobTable(
    parent=DECISIONS_TABLE,
    copied=(
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
        "left_date",
        "right_date",
    ),
    reviewed=("review_status", "action_id", "reviewed_by", "reviewed_at"),
    order=("-confidence", "row_no"),  # the pages' key
    indexes=(
        ("row", "UNIQUE INDEX {name} ON {table} (row_no)"),
        ("confidence", "INDEX {name} ON {table} ((-confidence), row_no)"),
        ("status", "INDEX {name} ON {table} (status, (-confidence), row_no)"),
        ("rule", "INDEX {name} ON {table} (rule, (-confidence), row_no)"),
        ("review", "INDEX {name} ON {table} (review_status, (-confidence), row_no)"),
        ("group", "INDEX {name} ON {table} (group_id)"),
        (
            "queue_confidence",
            f"INDEX {{name}} ON {{table}} ((-confidence), row_no) WHERE {_QUEUED}",
        ),
        ("queue_amount", f"INDEX {{name}} ON {{table}} ({_AMOUNT}, row_no) WHERE {_QUEUED}"),
    ),
    index_prefix="tieout_rmd",
    by_value=(
        ByValue("status", "status", "(-confidence), row_no"),
        ByValue("rule", "rule", "(-confidence), row_no"),
        ByValue("review", "review_status", "(-confidence), row_no", skip=("none",), default="none"),
    ),
    deferred=("group", "queue_confidence", "queue_amount"),
)
"""One row per decision row; the shared partition's indexes are in migrations 0004-0005."""

UNMATCHED = JobTable(
    parent=UNMATCHED_TABLE,
    copied=("job_id", "row_no", "side", "item_id", "reason", "amount", "item_date"),
    reviewed=("state", "reason_code", "note", "explained_by", "assignee"),
    order=("side", "item_date", "row_no"),
    indexes=(
        ("row", "UNIQUE INDEX {name} ON {table} (row_no)"),
        ("side", "INDEX {name} ON {table} (side, row_no)"),
        ("age", "INDEX {name} ON {table} (item_date, row_no)"),
        ("side_age", "INDEX {name} ON {table} (side, item_date, row_no) INCLUDE (amount)"),
        ("item", "UNIQUE INDEX {name} ON {table} (side, item_id)"),
        ("open", "INDEX {name} ON {table} (item_date, row_no) WHERE state = 'open'"),
    ),
    index_prefix="tieout_rmu",
    by_value=(
        ByValue("side", "side", "row_no"),
        ByValue("side_age", "side", "item_date, row_no", include="amount"),
    ),
    deferred=("item", "open"),
)
"""One row per open item; the shared partition's indexes are in migrations 0004-0005."""

JOB_TABLES = (DECISIONS, UNMATCHED)


def stage(curs: Cursor[Any], table: JobTable, job_id: UUID, frames: Sequence[pl.DataFrame]) -> None:
    """Copy rows of one job (frames of `table.copied`) into its staging table, made with
    the job's first batch."""
    rows = pl.concat(frames).sort(table.staging_order)
    name = table.table_for(job_id)
    found = curs.execute(
        f"INSERT INTO {STAGED_TABLE} AS s (table_name, job_id, rows, key_values) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (table_name) DO UPDATE SET "
        "rows = s.rows + EXCLUDED.rows, "
        "key_values = ARRAY(SELECT DISTINCT v FROM unnest(s.key_values || EXCLUDED.key_values) "
        "v ORDER BY v) "  # in order: a rebuilt read model equals the one it replaces
        "RETURNING s.xmax = 0 AS first",  # inserted, not updated: the job's first batch
        (name, job_id, rows.height, table.key_values(rows)),
    ).fetchone()
    if found is None or _value(found, "first"):
        curs.execute(_create_staging(table, job_id, name))
    columns = [column for column in table.copied if column != "job_id"]  # the default
    with curs.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
        for part in binary_copy(rows.select(columns)):
            copy.write(part)


def publish(curs: Cursor[Any], job_id: UUID, own_rows: int) -> dict[str, int]:
    """Make the staged rows of a completed job visible; returns the rows published into
    each read model (none for one the job recorded no rows of)."""
    published = {}
    for table in JOB_TABLES:
        name = table.table_for(job_id)
        found = curs.execute(
            f"DELETE FROM {STAGED_TABLE} WHERE table_name = %s RETURNING rows, key_values",
            (name,),
        ).fetchone()
        if found is None:
            continue
        rows = int(_value(found, "rows"))
        if rows >= own_rows:
            _attach(curs, table, job_id, name, _by_column(_value(found, "key_values", 1)))
        else:
            columns = ", ".join((*table.copied, *table.reviewed))
            curs.execute(
                f"INSERT INTO {table.shared} ({columns}) SELECT {columns} FROM {name} "
                f"ORDER BY {', '.join(table.order)}"
            )
            curs.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        published[table.parent] = rows
    return published


def build_indexes(
    connection: Callable[[], AbstractContextManager[Connection[Any]]],
    job_id: UUID,
    own_rows: int,
    builders: int = BUILDERS,
    tables: Sequence[JobTable] = JOB_TABLES,
    beside_writer: bool = False,
) -> int:
    """Build the indexes of a completed job's staging tables that will be its own
    partitions, `builders` at a time on connections of their own; returns those built.

    `beside_writer`: the builds run while the projector goes on writing (a job's
    decision indexes, once its first unmatched batch shows its decisions all staged), so
    they do not take the write lock; the table's own lock (CREATE INDEX holds SHARE on it)
    keeps it from being published or dropped mid-build.

    Called before the transaction of the job's `JobCompleted`, once every batch of the job
    is committed: the builds then share the cores instead of running one after another
    inside that transaction, which finds them made (`IF NOT EXISTS`) and attaches. Each
    build holds the read models' write lock shared, so it never runs beside a writer, and
    first checks that the table is still staged: a rebuild or another projector may have
    published or dropped it meanwhile. A build that fails is left to the publication,
    which builds whatever is missing.
    """
    statements: list[tuple[str, str]] = []
    with connection() as conn:
        rows = conn.execute(
            f"SELECT table_name, rows, key_values FROM {STAGED_TABLE} WHERE job_id = %s",
            (job_id,),
        ).fetchall()
        staged = {str(_value(row, "table_name")): row for row in rows}
        for table in tables:
            name = table.table_for(job_id)
            found = staged.get(name)
            if found is not None and int(_value(found, "rows", 1)) >= own_rows:
                values = _by_column(_value(found, "key_values", 2))
                made = table.index_statements(name, values)
                statements += [(name, statement.as_string(conn)) for statement in made]
    if not statements:
        return 0

    def ready(conn: Connection[Any], name: str) -> bool:
        if not beside_writer:
            conn.execute(f"SELECT pg_advisory_xact_lock_shared({int(Lock.RESULTS_WRITE)})")
        still = conn.execute(
            f"SELECT 1 FROM {STAGED_TABLE} WHERE table_name = %s", (name,)
        ).fetchone()
        return still is not None

    # Whole-table indexes first: the long sorts start together, the short partial ones
    # fill in after.
    ordered = sorted(statements, key=lambda item: " WHERE " in item[1])
    return _build_side_by_side(connection, ordered, builders, ready, "left to the publication")


def owed_statements(conn: Connection[Any]) -> list[tuple[str, str]]:
    """(partition, CREATE INDEX statement) of every deferred index of the job partitions
    that does not exist yet: the catalog is the record of what is owed, so a build cut
    short by a crash, a failure or an exit is owed again."""
    wanted: list[tuple[str, str, str]] = []  # (partition, index, statement)
    for table in JOB_TABLES:
        found = conn.execute(
            "SELECT c.relname::text AS name FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            (table.own,),
        ).fetchall()
        for row in found:
            name = str(_value(row, "name"))
            prefix = name.replace(table.parent, table.index_prefix, 1)
            suffixes = [suffix for suffix, _ in table.indexes if suffix in table.deferred]
            statements = table.index_statements(name, deferred=True)  # in the same order
            wanted += [
                (name, f"{prefix}_{suffix}", statement.as_string(conn))
                for suffix, statement in zip(suffixes, statements, strict=True)
            ]
    if not wanted:
        return []
    missing = conn.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(quote_ident(name)) IS NULL",
        ([index for _, index, _ in wanted],),
    ).fetchall()
    owed = {str(_value(row, "name")) for row in missing}
    return [(table, statement) for table, index, statement in wanted if index in owed]


def build_owed(
    connection: Callable[[], AbstractContextManager[Connection[Any]]], builders: int = BUILDERS
) -> int:
    """Build every index `owed_statements` finds, `builders` at a time on connections of
    their own; returns those built.

    A build takes its partition's SHARE lock, so review writes to that job wait for it
    (each about a tenth to half a second on a million rows) while reads go on; it takes
    no lock of the read models' writer. A partition dropped meanwhile (a rebuild) is
    skipped; a build that fails stays owed, for the next call.
    """
    with connection() as conn:
        owed = owed_statements(conn)
    return _build_side_by_side(connection, owed, builders, lambda *_: True, "left owed")


def _build_side_by_side(
    connection: Callable[[], AbstractContextManager[Connection[Any]]],
    statements: Sequence[tuple[str, str]],
    builders: int,
    ready: Callable[[Connection[Any], str], bool],
    failed: str,
) -> int:
    """Run each (table, CREATE INDEX statement), in order, `builders` at a time, each in
    a transaction of its own on a connection of its own, if `ready` (called first in that
    transaction) says the table is still to be built; returns those built. A table gone
    meanwhile is skipped; another failure is logged (the build `failed`) and left."""
    queue = deque(statements)

    def build() -> int:
        built = 0
        while True:
            try:
                name, statement = queue.popleft()
            except IndexError:
                return built
            try:
                with connection() as conn, conn.transaction():
                    if not ready(conn, name):
                        continue
                    conn.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
                    conn.execute(statement.encode())
                    built += 1
            except psycopg.errors.UndefinedTable:
                logger.info("index build on %s skipped: the table is gone", name)
            except psycopg.Error as error:
                logger.warning("index build on %s %s: %s", name, failed, error)

    if not queue:
        return 0
    with ThreadPoolExecutor(builders, thread_name_prefix="index-build") as pool:
        return sum(pool.map(lambda _: build(), range(builders)))


def drop_all(curs: Cursor[Any]) -> None:
    """Drop every job partition and staging table (the read models are being rebuilt)."""
    found = curs.execute(
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits "
        f"WHERE inhparent = ANY(%s::regclass[]) UNION ALL SELECT table_name FROM {STAGED_TABLE}",
        ([table.own for table in JOB_TABLES],),
    ).fetchall()
    for row in found:
        name = str(_value(row, "name"))
        curs.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    curs.execute(f"TRUNCATE {STAGED_TABLE}")


def unlogged_tables(curs: Cursor[Any]) -> list[str]:
    """The unlogged job tables: the staging tables and job partitions made since they are
    unlogged (ADR 0019), which crash recovery of the server empties."""
    found = curs.execute(
        "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = ANY(%s::regclass[]) AND c.relpersistence = 'u' "
        f"UNION SELECT s.table_name FROM {STAGED_TABLE} s "
        "JOIN pg_class c ON c.oid = to_regclass(quote_ident(s.table_name)) "
        "WHERE c.relpersistence = 'u'",
        ([table.own for table in JOB_TABLES],),
    ).fetchall()
    return sorted(str(_value(row, "name")) for row in found)


def _by_column(key_values: Sequence[str]) -> dict[str, list[str]]:
    """{"column": [values]} from the staged "column=value" strings."""
    found: dict[str, list[str]] = {}
    for pair in dict.fromkeys(key_values):
        column, _, value = pair.partition("=")
        found.setdefault(column, []).append(value)
    return found


def _attach(
    curs: Cursor[Any], table: JobTable, job_id: UUID, name: str, values: dict[str, list[str]]
) -> None:
    curs.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    for statement in table.index_statements(name, values):
        curs.execute(statement)
    # Statistics for the planner's choice among the partition's indexes: the few values of
    # status, rule and review status; a small sample says as much as the default's.
    curs.execute("SET LOCAL default_statistics_target = 10")
    curs.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    # A live partition now: reviews update its rows, so autovacuum looks after it.
    curs.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(sql.Identifier(name)))
    curs.execute(
        sql.SQL("ALTER TABLE {own} ATTACH PARTITION {name} FOR VALUES IN ({job})").format(
            own=sql.Identifier(table.own),
            name=sql.Identifier(name),
            job=sql.Literal(str(job_id)),
        )
    )


def _create_staging(table: JobTable, job_id: UUID, name: str) -> sql.Composed:
    """A table shaped as the parent, with the constraint that makes attaching it free.

    Unlogged, as the job's partition it becomes (ADR 0019): its COPY and index builds
    write no WAL, about a third of their cost. A crash of the server empties it, which
    the results view notices (its unlogged mark is gone) and repairs by replaying the log.

    Autovacuum leaves it alone while rows arrive: vacuuming a table that only grows, and
    that is indexed or moved when complete, takes CPU from the load for nothing. The job's
    id is the column's default, so batches are copied without it (about a quarter of
    each row's text).
    """
    return sql.SQL(
        "CREATE UNLOGGED TABLE {name} (LIKE {parent} INCLUDING DEFAULTS, "
        "CONSTRAINT {check} CHECK (own_partition AND job_id = {job})) "
        "WITH (autovacuum_enabled = false); "
        "ALTER TABLE {name} ALTER COLUMN own_partition SET DEFAULT true, "
        "ALTER COLUMN job_id SET DEFAULT {job}"
    ).format(
        name=sql.Identifier(name),
        parent=sql.Identifier(table.parent),
        check=sql.Identifier(f"{name}_job"),
        job=sql.Literal(str(job_id)),
    )


def _value(row: Any, name: str, position: int = 0) -> Any:
    """A row's value: the view's cursors give mappings, plain cursors tuples."""
    return row[name] if isinstance(row, dict) else row[position]
