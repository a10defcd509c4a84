"""Where a job's rows live (projections/job_partitions.py): staged and invisible while they
arrive, then published whole, into the job's own partitions or the shared ones."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import polars as pl
import psycopg
import pytest
from eventsourcing.persistence import Tracking
from psycopg import sql
from review_helpers import META, register
from threads import Threads

from engine.domain.decisions import DecisionBatch, UnmatchedBatch
from engine.domain.job import Job
from engine.reviews import Reviews
from projections import results_view
from projections.database import migrate
from projections.job_partitions import (
    DECISIONS,
    JOB_TABLES,
    MAX_VALUES,
    UNMATCHED,
    JobTable,
    build_indexes,
    build_owed,
    owed_statements,
    publish,
    stage,
)
from projections.names import Lock
from projections.projector import catch_up, rebuild
from projections.results_query import DecisionFilters
from projections.results_view import DecisionsStaged, ResultsView, _cut
from tieout.bootstrap import Container
from tieout.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A job of 20 or more decision rows gets its own partition."""
    return settings.model_copy(update={"own_partition_rows": 20})


def homes(url: str, job_id: UUID, table: JobTable = DECISIONS) -> dict[str, int]:
    """The job's rows of one read model by the table that holds them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT tableoid::regclass::text, count(*) FROM {table.parent} "
            "WHERE job_id = %s GROUP BY 1",
            (job_id,),
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def staged(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM tieout_rm_staged").fetchone()
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
        pl.lit(None, dtype=pl.Date).alias("left_date"),
        pl.lit(None, dtype=pl.Date).alias("right_date"),
    )


def test_a_large_job_is_published_into_its_own_partition_with_every_row(
    container: Container, tmp_path: Path
) -> None:
    job = register(container, tmp_path)
    assert catch_up(container.projections, 60) == 0
    matches, unmatched = container.app.recorded_decisions(job.job_id)
    assert matches.height >= 20
    assert 0 < unmatched.height < 20  # under the threshold: in the shared table
    table = DECISIONS.table_for(job.job_id)
    assert homes(container.database_url, job.job_id) == {table: matches.height}
    items = homes(container.database_url, job.job_id, UNMATCHED)
    assert items == {"tieout_rm_unmatched_shared": unmatched.height}
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
    matches, unmatched = container.app.recorded_decisions(job.job_id)
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
    items = homes(container.database_url, job.job_id, UNMATCHED)
    assert items == {"tieout_rm_unmatched_shared": unmatched.height}
    with psycopg.connect(container.database_url) as conn:
        for table in JOB_TABLES:
            found = conn.execute("SELECT to_regclass(%s)", (table.table_for(job.job_id),))
            assert found.fetchone() == (None,)


def test_staged_rows_stay_invisible_until_the_job_is_published(container: Container) -> None:
    job_id = uuid4()
    url = container.database_url
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        frame = decisions(job_id, 50)
        stage(curs, DECISIONS, job_id, [frame.slice(0, 30)])
        stage(curs, DECISIONS, job_id, [frame.slice(30, 20)])
    assert homes(url, job_id) == {}
    assert staged(url) == 1
    assert options(url, DECISIONS.table_for(job_id)) == ["autovacuum_enabled=false"]
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        assert publish(curs, job_id, 50) == {"tieout_rm_decisions": 50}
        assert publish(curs, uuid4(), 50) == {}  # a job that recorded no rows
    assert homes(url, job_id) == {DECISIONS.table_for(job_id): 50}
    assert staged(url) == 0
    assert options(url, DECISIONS.table_for(job_id)) is None  # autovacuum tends it now


def options(url: str, table: str) -> list[str] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,))
        found = row.fetchone()
    assert found is not None
    return found[0]  # type: ignore[no-any-return]


def two_sided(frame: pl.DataFrame) -> pl.DataFrame:
    """Decision rows as unmatched items, half of them on each side."""
    return frame.select(
        "job_id",
        "row_no",
        pl.when(pl.col("row_no").mod(2) == 0)
        .then(pl.lit("left"))
        .otherwise(pl.lit("right"))
        .alias("side"),
        pl.col("left_id").alias("item_id"),
        pl.lit("no_candidate").alias("reason"),
        pl.col("left_amount").alias("amount"),
        pl.lit(None, dtype=pl.Date).alias("item_date"),
    )


def published_indexes(
    url: str, table: JobTable, frames: list[pl.DataFrame]
) -> tuple[dict[str, str], dict[str, str]]:
    """(shared, own) index shapes by suffix, of a job staged as `frames`, published, and
    given the review indexes it then owes."""
    job_id = uuid4()
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        for frame in frames:
            stage(curs, table, job_id, [frame])
        publish(curs, job_id, 1)
    assert build_owed(lambda: psycopg.connect(url)) == len(table.deferred)
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        rows = curs.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            ([table.shared, table.table_for(job_id)],),
        ).fetchall()
    shared = {
        index.removeprefix(f"{table.shared}_"): _shape(defn.replace("job_id, ", ""))
        for name, index, defn in rows
        if name == table.shared
    }
    prefix = f"{table.index_prefix}_{job_id.hex}_"
    own = {
        index.removeprefix(prefix): _shape(defn)
        for name, index, defn in rows
        if name != table.shared
    }
    return shared, own


@pytest.mark.parametrize("batches", [1, 2])
@pytest.mark.parametrize("table", JOB_TABLES, ids=lambda table: table.parent)
def test_a_job_partition_has_the_shared_indexes_less_the_job(
    container: Container, table: JobTable, batches: int
) -> None:
    """The two index sets are written in two places (migrations, JobTable.indexes): equal,
    where the job's own partition splits an index by value (`ByValue`), as its partial
    indexes: one per value the job recorded, and one for any other value."""
    frame = decisions(uuid4(), 6).with_columns(
        pl.when(pl.col("row_no") < 2).then(pl.lit("fuzzy")).otherwise(pl.lit("exact")).alias("rule")
    )
    if table is UNMATCHED:
        frame = two_sided(frame)
    staged = [frame] if batches == 1 else [frame.head(3), frame.tail(3)]
    shared, own = published_indexes(container.database_url, table, staged)
    assert set(shared) == {suffix for suffix, _ in table.indexes}
    split = {index.suffix: index for index in table.by_value}
    assert {k: v for k, v in own.items() if k in shared} == {
        k: v for k, v in shared.items() if k not in split
    }
    values = {"status": ["matched"], "rule": ["exact", "fuzzy"], "side": ["left", "right"]}
    for suffix, index in split.items():
        recorded = sorted(values.get(index.column, [index.default]))
        wanted = [value for value in recorded if value not in index.skip]
        partial = {k: v for k, v in own.items() if re.fullmatch(rf"{suffix}_(\d+|other)", k)}
        assert sorted(partial) == sorted(
            [f"{suffix}_{n}" for n in range(len(wanted))] + [f"{suffix}_other"]
        ), own
        for number, value in enumerate(wanted):
            assert partial[f"{suffix}_{number}"].endswith(
                f"WHERE ({index.column} = '{value}'::text)"
            )
        assert f"{index.column} <> ALL (ARRAY[" in partial[f"{suffix}_other"]
        assert all(f"'{value}'::text" in partial[f"{suffix}_other"] for value in recorded)
    assert len(own) == len(shared) - len(split) + sum(
        len([v for v in values.get(i.column, [i.default]) if v not in i.skip]) + 1
        for i in table.by_value
    )


def test_a_column_of_many_values_keeps_its_one_index(container: Container) -> None:
    """Past MAX_VALUES rules, the partition has the rule index the shared one has."""
    frame = decisions(uuid4(), MAX_VALUES + 1).with_columns(
        ("rule-" + pl.col("row_no").cast(pl.String)).alias("rule")
    )
    shared, own = published_indexes(container.database_url, DECISIONS, [frame])
    assert own["rule"] == shared["rule"]
    assert not [suffix for suffix in own if suffix.startswith("rule_")]
    assert "status_0" in own  # one status: split as ever


def test_a_reviewed_row_of_another_value_is_found_by_its_filter(container: Container) -> None:
    """A value the job did not record (a manual match's `manual`) is in the `_other`
    partial index, and its filter finds it."""
    url = container.database_url
    job_id = uuid4()
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        stage(curs, DECISIONS, job_id, [decisions(job_id, 40)])
        publish(curs, job_id, 1)
        curs.execute(
            f"UPDATE {DECISIONS.parent} SET status = 'manual', rule = 'manual', "
            "review_status = 'confirmed' WHERE job_id = %s AND row_no = 7",
            (job_id,),
        )
    for filters in (
        DecisionFilters(status="manual"),
        DecisionFilters(rule="manual"),
        DecisionFilters(review_status="confirmed"),
    ):
        page = container.results.decisions(job_id, filters, 10)
        assert [item["row_no"] for item in page.items] == [7], filters
    page = container.results.decisions(job_id, DecisionFilters(review_status="none"), 100)
    assert len(page.items) == 39


def _shape(definition: str) -> str:
    """An index definition without its name and table: what it indexes, and where."""
    return re.sub(r"INDEX \w+ ON [\w.]+ ", "INDEX ON t ", definition)


def test_a_database_with_plain_read_model_tables_is_converted_and_rebuilt(
    container: Container,
) -> None:
    """A database made before the partitioning: its read models are emptied with their
    position (they are derived from the log), the tables made partitioned."""
    url = container.database_url
    with psycopg.connect(url) as conn:
        conn.execute(
            "DROP TABLE tieout_rm_decisions, tieout_rm_unmatched; "
            "CREATE TABLE tieout_rm_decisions (job_id uuid, row_no bigint); "
            "INSERT INTO tieout_rm_decisions VALUES (gen_random_uuid(), 0); "
            "CREATE TABLE tieout_rm_unmatched (job_id uuid, row_no bigint); "
            "INSERT INTO tieout_rm_projects VALUES (gen_random_uuid(), 'p', now()); "
            "INSERT INTO tieout_results_tracking VALUES ('Tieout', 42)"
        )
    migrate(url)
    migrate(url)  # and once more, as every start does: nothing changes
    with psycopg.connect(url) as conn:
        kinds = conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relname = ANY(%s) ORDER BY 1",
            (["tieout_rm_decisions", "tieout_rm_unmatched"],),
        ).fetchall()
        left = conn.execute(
            "SELECT (SELECT count(*) FROM tieout_rm_projects), "
            "(SELECT count(*) FROM tieout_results_tracking)"
        ).fetchone()
    assert kinds == [("tieout_rm_decisions", "p"), ("tieout_rm_unmatched", "p")]
    assert left == (0, 0)


def index_names(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))
        return {str(row[0]) for row in rows.fetchall()}


def test_indexes_built_side_by_side_are_the_ones_publication_makes(container: Container) -> None:
    """`build_indexes` makes every index of a job's large staging tables before the
    publication, which then finds them made and attaches: the same set as built in one
    transaction, each exactly once."""
    url = container.database_url
    built_first, in_one_go = uuid4(), uuid4()
    for job_id in (built_first, in_one_go):
        with psycopg.connect(url) as conn, conn.cursor() as curs:
            stage(curs, DECISIONS, job_id, [decisions(job_id, 40)])
            stage(curs, UNMATCHED, job_id, [two_sided(decisions(job_id, 40))])
    connect = container.results.datastore.get_connection
    made = build_indexes(connect, built_first, own_rows=1, builders=2)
    prebuilt = index_names(url, DECISIONS.table_for(built_first))
    assert made == len(prebuilt) + len(index_names(url, UNMATCHED.table_for(built_first)))
    # two whole (row, confidence), status and rule each one + other, review other; the
    # review's three (group, queue_*) are built after the publication
    assert len(prebuilt) == 7
    assert homes(url, built_first) == {}  # built, not published: still invisible
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        publish(curs, built_first, 1)
        publish(curs, in_one_go, 1)
    assert index_names(url, DECISIONS.table_for(built_first)) == prebuilt
    assert {name.replace(built_first.hex, "") for name in prebuilt} == {
        name.replace(in_one_go.hex, "") for name in index_names(url, DECISIONS.table_for(in_one_go))
    }
    assert homes(url, built_first) == {DECISIONS.table_for(built_first): 40}
    assert build_indexes(connect, built_first, own_rows=1) == 0  # published: nothing to do


def test_small_jobs_and_writers_are_left_alone(container: Container, threads: Threads) -> None:
    """Nothing is built for a job under the threshold, and no build runs while a writer
    of the read models holds their lock."""
    url = container.database_url
    small, large = uuid4(), uuid4()
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        stage(curs, DECISIONS, small, [decisions(small, 10)])
        stage(curs, DECISIONS, large, [decisions(large, 40)])
    connect = container.results.datastore.get_connection
    assert build_indexes(connect, small, own_rows=20) == 0
    assert index_names(url, DECISIONS.table_for(small)) == set()
    done: list[int] = []
    with psycopg.connect(url) as writer:
        writer.execute("SELECT pg_advisory_xact_lock(%s)", (int(Lock.RESULTS_WRITE),))
        builder = threads.start(lambda: done.append(build_indexes(connect, large, 20)))
        builder.join(timeout=1.0)
        threads.check()
        assert builder.is_alive()
        assert index_names(url, DECISIONS.table_for(large)) == set()
    threads.join(timeout=60)  # the writer committed: the builds go ahead
    assert done == [len(index_names(url, DECISIONS.table_for(large)))]
    assert done[0] > 0


def test_a_completion_opens_a_transaction_of_its_own() -> None:
    """The view cuts its events before each JobCompleted, each part with its own tracking,
    and before each job's first unmatched batch, after which its decisions are all in."""
    job_a, job_b = uuid4(), uuid4()
    completed = {job: Job.JobCompleted.__new__(Job.JobCompleted) for job in (job_a, job_b)}
    for job, event in completed.items():
        object.__setattr__(event, "originator_id", job)
    unmatched = []
    for batch in (0, 1):
        recorded = UnmatchedBatch.UnmatchedRecorded.__new__(UnmatchedBatch.UnmatchedRecorded)
        object.__setattr__(recorded, "job_id", job_b)
        object.__setattr__(recorded, "batch", batch)
        unmatched.append(recorded)
    other = object()
    events = [(other, 1), (completed[job_a], 2), (other, 3), (completed[job_b], 4)]
    parts = _cut(events, Tracking("Tieout", 4))
    found = [([n for _, n in part], through.notification_id, job) for part, through, job in parts]
    assert found == [([1], 1, None), ([2, 3], 3, job_a), ([4], 4, job_b)]
    only = _cut([(completed[job_a], 9)], Tracking("Tieout", 9))
    assert [(len(part), through.notification_id, job) for part, through, job in only] == [
        (1, 9, job_a)
    ]
    staged = [(other, 5), (unmatched[0], 6), (unmatched[1], 7), (completed[job_b], 8)]
    parts = _cut(staged, Tracking("Tieout", 8))
    found = [([n for _, n in part], through.notification_id, job) for part, through, job in parts]
    assert found == [([5], 5, None), ([6, 7], 7, DecisionsStaged(job_b)), ([8], 8, job_b)]
    later = _cut([(unmatched[1], 3)], Tracking("Tieout", 3))  # not the first: no cut
    assert [(len(part), job) for part, _, job in later] == [(1, None)]


def test_a_jobs_decision_indexes_build_once_its_open_items_begin(
    container: Container, tmp_path: Path
) -> None:
    """Projecting a job's first unmatched batch starts its decision indexes (every decision
    batch is before it in the log); the job stays invisible until its JobCompleted, whose
    publication finds the indexes made and attaches them as they are."""
    job = register(container, tmp_path)
    url = container.database_url
    table = DECISIONS.table_for(job.job_id)
    with container.projections.opened(container.projections.named("results")) as (log, view):
        assert isinstance(view, ResultsView)
        items = log.recorder.select_notifications(start=1, limit=10_000)
        events = [(log.mapper.to_domain_event(item), item.id) for item in items]
        kinds = [type(event) for event, _ in events]
        first_open = kinds.index(UnmatchedBatch.UnmatchedRecorded)
        assert DecisionBatch.DecisionsRecorded not in kinds[first_open:]
        done = kinds.index(Job.JobCompleted)
        view.project(events[:done], Tracking(log.name, events[done - 1][1]))
        view.finish_early_builds(job.job_id)
        early = index_names(url, table)
        assert len(early) >= 10  # as in test_indexes_built_side_by_side_..., and a rule more
        assert homes(url, job.job_id) == {}  # indexed, not published
        view.project(events[done:], Tracking(log.name, events[-1][1]))
    assert index_names(url, table) == early
    matches, _ = container.app.recorded_decisions(job.job_id)
    assert homes(url, job.job_id) == {table: matches.height}


def test_a_completed_jobs_open_item_indexes_build_beside_its_decision_indexes(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a job's JobCompleted the open items' indexes start while the decision indexes
    that began early are still building: the early build here waits until they have
    started, which a projector that finished the decision builds first never does."""
    items_started = threading.Event()
    waited: list[bool] = []

    def build(*args: Any, **kwargs: Any) -> int:
        tables = args[4] if len(args) > 4 else kwargs.get("tables", JOB_TABLES)
        if tables == (DECISIONS,):
            waited.append(items_started.wait(timeout=10))
        elif tables == (UNMATCHED,):
            items_started.set()
        return build_indexes(*args, **kwargs)

    monkeypatch.setattr(results_view, "build_indexes", build)
    # the job's 8 open items get a partition of their own too, with indexes to build
    monkeypatch.setattr(ResultsView, "own_partition_rows", 5)
    monkeypatch.setattr(ResultsView, "use_own_partition_rows", lambda *_: None)
    job = register(container, tmp_path)
    catch_up(container.projections, 60)
    assert waited == [True]
    url = container.database_url
    matches, unmatched = container.app.recorded_decisions(job.job_id)
    assert homes(url, job.job_id) == {DECISIONS.table_for(job.job_id): matches.height}
    assert homes(url, job.job_id, UNMATCHED) == {UNMATCHED.table_for(job.job_id): unmatched.height}
    assert len(index_names(url, UNMATCHED.table_for(job.job_id))) >= 6


def owed_indexes(url: str) -> set[str]:
    """The names of the indexes the job partitions owe (`owed_statements`)."""
    with psycopg.connect(url) as conn:
        owed = owed_statements(conn)
    return {re.findall(r"EXISTS (\w+)", statement)[0] for _, statement in owed}


def review_indexes(job_id: UUID) -> set[str]:
    prefix = DECISIONS.table_for(job_id).replace(DECISIONS.parent, DECISIONS.index_prefix, 1)
    return {f"{prefix}_{suffix}" for suffix in DECISIONS.deferred}


def test_a_published_job_gets_its_review_indexes_after_publication(
    container: Container, tmp_path: Path
) -> None:
    """The catch-up publishes the job; the review's indexes of its own partition follow on
    the process's thread (ADR 0024), which `close` and `drain` wait for."""
    job = register(container, tmp_path)
    assert catch_up(container.projections, 60) == 0
    assert list(homes(container.database_url, job.job_id)) == [DECISIONS.table_for(job.job_id)]
    assert container.projections.owed.drain(timeout=60)
    assert owed_indexes(container.database_url) == set()
    with psycopg.connect(container.database_url) as conn:
        found = conn.execute(
            "SELECT relname::text FROM pg_class WHERE relname = ANY(%s)",
            (sorted(review_indexes(job.job_id)),),
        ).fetchall()
    assert {name for (name,) in found} == review_indexes(job.job_id)


def test_builds_killed_midway_stay_owed_and_are_built_by_the_next_process(
    container: Container, tmp_path: Path
) -> None:
    """A builder killed with SIGKILL while its builds wait (on a review write's lock)
    commits none of them: they are still owed, and the next `build_owed` builds each."""
    job = register(container, tmp_path)
    assert catch_up(container.projections, 60) == 0
    assert container.projections.owed.drain(timeout=60)
    url = container.database_url
    with psycopg.connect(url, autocommit=True) as conn:
        for name in review_indexes(job.job_id):
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    assert owed_indexes(url) == review_indexes(job.job_id)
    holder = psycopg.connect(url)
    partition = sql.Identifier(DECISIONS.table_for(job.job_id))
    holder.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(partition))
    builder = subprocess.Popen(
        [sys.executable, "-c", BUILDER, url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    watcher = psycopg.connect(url, autocommit=True)  # the holder's view of the stats is
    try:  # frozen for its transaction
        waiting = 0
        for _ in range(300):
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'CREATE %%INDEX%%'"
            ).fetchone()
            waiting = int(row[0]) if row else 0
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "no build waited on the partition's lock"
    finally:
        os.kill(builder.pid, signal.SIGKILL)
        builder.wait(30)
        holder.rollback()
        holder.close()
        watcher.close()
    assert owed_indexes(url) == review_indexes(job.job_id)

    def connection() -> psycopg.Connection[Any]:
        return psycopg.connect(url)

    assert build_owed(connection) == len(DECISIONS.deferred)
    assert owed_indexes(url) == set()


BUILDER = (
    "import sys, psycopg\n"
    "from projections.job_partitions import build_owed\n"
    "build_owed(lambda: psycopg.connect(sys.argv[1]))\n"
)
