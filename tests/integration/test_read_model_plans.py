"""Every read-model query uses an index: its plan on tables of over 100k rows has no
sequential scan of them, for each filter and with a cursor deep in the list.

The big job's rows are either in the shared partitions among other jobs' or in
partitions of their own (projections/job_partitions.py). A query with no LIMIT reads
the whole job (stats): on its own partition a sequential scan is the cheapest plan and
reads nothing else, so it is the one scan allowed there."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import polars as pl
import psycopg
import pytest

from projections.job_partitions import (
    DECISIONS,
    UNMATCHED,
    build_owed,
    owed_statements,
    publish,
    stage,
)
from projections.results_query import DecisionFilters, ResultQueries, UnmatchedFilters
from tieout.bootstrap import Container

ROWS = 100_000
OTHER_JOBS = 4  # the big job is a fifth of the decisions, as among many jobs
BIG = (
    "tieout_rm_decisions",
    "tieout_rm_unmatched",
    "tieout_rm_jobs",
    "tieout_rm_projects",
    "tieout_rm_sources",
)


class Explaining(ResultQueries):
    """The real queries, each also explained; the plans are kept."""

    plans: list[tuple[str, str]]

    def _fetch(self, sql: str, params: Any) -> list[dict[str, Any]]:
        rows = super()._fetch(sql, params)
        if sql.lstrip().upper().startswith("SELECT") and "cursor_key" not in sql:
            plan = super()._fetch("EXPLAIN (FORMAT TEXT) " + sql, params)
            self.plans.append((sql, "\n".join(str(next(iter(row.values()))) for row in plan)))
        return rows


def fill(url: str, own_partition: bool) -> UUID:
    """A job with ROWS decisions and ROWS unmatched items among four times as many of other
    jobs, and ROWS jobs, projects and sources; returns the big job's id. With
    `own_partition`, the job's rows are published into partitions of their own."""
    job = uuid4()
    owners = [job] + [uuid4() for _ in range(OTHER_JOBS)]
    n = pl.int_range(ROWS, dtype=pl.Int64)
    text = pl.col("n").cast(pl.String)
    decisions = pl.concat(
        pl.select(n.alias("n")).select(
            pl.lit(str(owner)).alias("job_id"),
            pl.col("n").alias("row_no"),
            ("g" + text).alias("group_id"),
            ("L" + text).alias("left_id"),
            ("R" + text).alias("right_id"),
            pl.col("n").mod(3).replace_strict({0: "exact", 1: "split", 2: "fuzzy"}).alias("rule"),
            (pl.col("n").mod(1000) / 1000).alias("confidence"),
            pl.when(pl.col("n").mod(7) == 0)
            .then(pl.lit("suggested"))
            .otherwise(pl.lit("matched"))
            .alias("status"),
            pl.lit("none").alias("review_status"),
            (pl.col("n").mod(500) + 0.5).alias("left_amount"),
            (pl.col("n").mod(500) + 0.5).alias("right_amount"),
            pl.lit(date(2021, 11, 1)).alias("left_date"),
            pl.lit(date(2021, 11, 2)).alias("right_date"),
        )
        for owner in owners
    )
    unmatched = pl.concat(
        pl.select(n.alias("n")).select(
            pl.lit(str(owner)).alias("job_id"),
            pl.col("n").alias("row_no"),
            pl.when(pl.col("n").mod(2) == 0)
            .then(pl.lit("right"))
            .otherwise(pl.lit("left"))
            .alias("side"),
            ("I" + text).alias("item_id"),
            pl.lit("no_candidate").alias("reason"),
            pl.col("n").mod(90).cast(pl.Float64).alias("amount"),
            (pl.lit(date(2021, 11, 1)) + pl.duration(days=pl.col("n").mod(400))).alias("item_date"),
        )
        for owner in owners
    )
    ids = [str(uuid4()) for _ in range(ROWS * 3)]
    project = ids[0]
    jobs = pl.DataFrame(
        {
            "job_id": [str(job), *ids[1:ROWS]],
            "project_id": [project if row % 1000 == 0 else ids[ROWS + row] for row in range(ROWS)],
        }
    ).with_columns(
        pl.lit("completed").alias("status"),
        pl.col("job_id").alias("left_source_id"),
        pl.col("job_id").alias("right_source_id"),
        pl.lit(1).alias("ruleset_version"),
        (pl.lit(datetime(2026, 1, 1, tzinfo=UTC)) + pl.duration(seconds=pl.int_range(ROWS))).alias(
            "created_at"
        ),
        pl.lit(1).alias("version"),
    )
    projects = jobs.select(
        pl.col("project_id"),
        ("project " + pl.int_range(ROWS).cast(pl.String).str.zfill(6)).alias("name"),
        pl.col("created_at"),
    ).unique("project_id", keep="first")
    sources = jobs.select(
        pl.Series(ids[2 * ROWS :]).alias("source_id"),
        pl.col("project_id"),
        pl.lit("s.csv").alias("name"),
        pl.lit("csv").alias("file_format"),
        pl.lit("h").alias("content_hash"),
        pl.lit("f").alias("file_hash"),
        pl.lit(10).alias("row_count"),
        pl.lit("[]").alias("columns"),
        pl.col("created_at").alias("registered_at"),
    )
    if own_partition:
        mine = pl.col("job_id") == str(job)
        with psycopg.connect(url) as conn, conn.cursor() as curs:
            stage(curs, DECISIONS, job, [decisions.filter(mine).select(DECISIONS.copied)])
            stage(curs, UNMATCHED, job, [unmatched.filter(mine).select(UNMATCHED.copied)])
            publish(curs, job, 1)
        decisions = decisions.filter(~mine)
        unmatched = unmatched.filter(~mine)
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        for table, frame in (
            ("tieout_rm_decisions", decisions),
            ("tieout_rm_unmatched", unmatched),
            ("tieout_rm_jobs", jobs),
            ("tieout_rm_projects", projects),
            ("tieout_rm_sources", sources),
        ):
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False)
            columns = ", ".join(frame.columns)
            with curs.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
    with psycopg.connect(url, autocommit=True) as conn:
        for table in BIG:
            conn.execute(f"VACUUM ANALYZE {table}")  # as autovacuum leaves a loaded table
    return job


def owe_and_build(url: str, job: UUID) -> None:
    """The job's published partitions owe their review indexes, which `build_owed` builds,
    each once."""

    def connection() -> psycopg.Connection[Any]:
        return psycopg.connect(url)

    deferred = {
        f"{table.table_for(job).replace(table.parent, table.index_prefix, 1)}_{suffix}"
        for table in (DECISIONS, UNMATCHED)
        for suffix in table.deferred
    }
    assert len(deferred) == 5
    with connection() as conn:
        owed = owed_statements(conn)
    assert {re.findall(r"EXISTS (\w+)", statement)[0] for _, statement in owed} == deferred
    assert build_owed(connection) == len(deferred)
    with connection() as conn:
        assert owed_statements(conn) == []
        found = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = ANY(%s)", (list(deferred),)
        ).fetchone()
    assert found == (len(deferred),)
    assert build_owed(connection) == 0


WANTED = {
    repr(DecisionFilters(status="suggested")): {"status_1"},
    repr(DecisionFilters(rule="split")): {"rule_2"},
    repr(DecisionFilters(status="manual")): {"status_other"},
    repr(DecisionFilters(rule="manual")): {"rule_other"},
    repr(DecisionFilters(review_status="confirmed")): {"review_other"},
    "confidence": {"queue_confidence"},
    "amount": {"queue_amount"},
}
"""In a job's own partition, the index each of these pages is read by (values in order:
exact, fuzzy, split; matched, suggested)."""


def indexes_used(plans: list[tuple[str, str]], job: UUID) -> set[str]:
    """The indexes of the job's own decisions partition that `plans` read, less their
    prefix."""
    prefix = f"tieout_rmd_{job.hex}_"
    found = (re.findall(r"Scan(?: Backward)? using (\w+)", plan) for _, plan in plans)
    return {name.removeprefix(prefix) for names in found for name in names if prefix in name}


def deep_cursor(queries: ResultQueries, fetch: Any) -> str:
    """A cursor ten pages deep (or the deepest there is): the plan must not depend on it."""
    page = fetch(1000, None)
    cursor = page.next_cursor
    assert cursor is not None
    for _ in range(10):
        page = fetch(1000, cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return str(cursor)


@pytest.mark.parametrize("own_partition", [False, True], ids=["shared", "own-partition"])
def test_no_query_scans_a_big_table(container: Container, own_partition: bool) -> None:
    job = fill(container.database_url, own_partition)
    datastore = container.results.datastore
    queries = Explaining(datastore)
    queries.plans = []
    decision_filters = [
        DecisionFilters(),
        DecisionFilters(status="suggested"),
        DecisionFilters(rule="split"),
        DecisionFilters(review_status="none"),
        DecisionFilters(min_confidence=0.2, max_confidence=0.4),
        DecisionFilters(status="matched", rule="fuzzy"),
    ]
    used: dict[str, set[str]] = {}  # a job's own partition: the indexes a query went by
    for filters in decision_filters:
        before = len(queries.plans)
        queries.decisions(job, filters, 100)
        used[repr(filters)] = indexes_used(queries.plans[before:], job)
        cursor = deep_cursor(queries, lambda n, c, f=filters: queries.decisions(job, f, n, c))
        queries.decisions(job, filters, 100, cursor)
    # values the job did not record, which reviews add: a job's own partition keeps them in
    # its `_other` partial indexes
    for filters in (
        DecisionFilters(status="manual"),
        DecisionFilters(rule="manual"),
        DecisionFilters(review_status="confirmed"),
    ):
        before = len(queries.plans)
        assert queries.decisions(job, filters, 100).items == []
        used[repr(filters)] = indexes_used(queries.plans[before:], job)
    as_of = date(2023, 1, 1)
    for open_filters in [
        UnmatchedFilters(as_of=as_of),
        UnmatchedFilters(side="left", as_of=as_of),
        UnmatchedFilters(age="8-30", as_of=as_of),
        UnmatchedFilters(side="right", age="90+", as_of=as_of),
    ]:
        first = queries.unmatched(job, open_filters, 100)
        if first.next_cursor:
            queries.unmatched(job, open_filters, 100, first.next_cursor)
    queries.stats(job, as_of)
    project = UUID(queries.job(job)["project_id"])
    queries.jobs(project)
    queries.jobs(status="completed")
    queries.projects(name="project 0001")
    queries.sources(project)
    next(queries.export_pages(job, "decisions", 1000))
    next(queries.export_pages(job, "unmatched", 1000))
    # the results are served before the review's indexes of a job's own partition are
    # built (ADR 0024): every query above went by the others; the review's follow
    if own_partition:
        owe_and_build(container.database_url, job)
    for order in ("confidence", "amount"):
        before = len(queries.plans)
        queued = queries.review_queue(job, order, 100)
        used[order] = indexes_used(queries.plans[before:], job)
        queries.review_queue(job, order, 100, queued.next_cursor)
    if own_partition:  # its partial indexes (ADR 0016)
        assert {key: names for key, names in used.items() if key in WANTED} == WANTED, used
    exceptions = queries.exception_queue(job, as_of, 100)
    queries.exception_queue(job, as_of, 100, exceptions.next_cursor)
    queries.review_stats(job)
    assert len(queries.plans) > 60
    partitions = {DECISIONS.table_for(job), UNMATCHED.table_for(job)}
    scanned = [
        (sql, plan, set(re.findall(r"Seq Scan on (\w+)", plan))) for sql, plan in queries.plans
    ]
    scans = [
        (sql.split("FROM")[1][:60], plan)
        for sql, plan, tables in scanned
        if tables & {*BIG, DECISIONS.shared, UNMATCHED.shared}
        or (tables & partitions and "LIMIT" in sql)
    ]
    assert scans == [], json.dumps(scans, indent=1)[:4000]
    whole_job = [sql for sql, _, tables in scanned if tables & partitions]
    assert bool(whole_job) == own_partition  # the stats of a job in its own partition
