"""The analyst's read models: how fast decisions become queryable, and page latency.

    .venv/bin/python bench/read_models.py --rows 1000000 --pages-rows 10000000

In one process, on a fresh database (TIEOUT_DATABASE_URL, or the embedded server):

1. `match`: the matcher on the generated bank statement and ledger, and its three output
   files written, as `tieout match` does (the baseline);
2. `job`: the same inputs, registered as sources first (not counted), as a job:
   requested, run by an in-process worker (decisions recorded as events) with the
   projector alongside, then the read models caught up: what `tieout jobs run --wait`
   followed by `tieout results` costs;
3. `projection`: of that, the time from the job's `JobCompleted` event to its rows being
   queryable (the projector alongside may publish them before the wait returns);
4. `rebuild`: every read model emptied and replayed, in events/s and decisions/s;
5. `pages`: a job of `--pages-rows` synthetic decisions copied in, then random pages of
   100 with every filter and cursors at random depths; p50/p95/p99 latency.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import polars as pl
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from demo.datagen import generate_bank_ledger
from demo.narrated import demo_ruleset_text
from engine.domain.meta import event_meta
from engine.matching import match, parse_ruleset
from projections.job_partitions import DECISIONS, publish, stage
from projections.projector import catch_up, rebuild
from projections.results_query import DecisionFilters
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings
from tieout.workers import run_until_done

META = event_meta(actor="service:bench", causation="bench.read_models")


def fresh_database(scratch: Path) -> str | None:
    """A new database on TIEOUT_DATABASE_URL's server; None: use the embedded default."""
    url = os.environ.get("TIEOUT_DATABASE_URL")
    if not url:
        return None
    name = f"tieout_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    del scratch
    return make_conninfo("", **(conninfo_to_dict(url) | {"dbname": name}))


def drop_database(url: str) -> None:
    admin = os.environ["TIEOUT_DATABASE_URL"]
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def time_match(left: Path, right: Path, out: Path) -> float:
    started = time.perf_counter()
    ruleset = parse_ruleset(demo_ruleset_text())
    result = match(
        pl.read_csv(left, try_parse_dates=True), pl.read_csv(right, try_parse_dates=True), ruleset
    )
    out.mkdir(parents=True, exist_ok=True)
    result.matches.write_parquet(out / "matches.parquet")
    result.unmatched.write_parquet(out / "unmatched.parquet")
    return time.perf_counter() - started


def time_job(
    container: Container, left: Path, right: Path, alongside: bool = True
) -> tuple[UUID, float, float, int]:
    """What `tieout jobs run --wait` and the catch-up after it cost, on sources registered
    (and projected) before; returns (job, seconds in all, seconds of the catch-up,
    decisions). Without `alongside`, the projector does not run beside the worker: the
    read models take the whole job after it ends (the projection alone)."""
    app = container.app
    registering = time.perf_counter()
    project = app.create_project("bench", META)
    version = app.publish_ruleset(project, demo_ruleset_text(), META)
    left_id = app.register_source_file(project, left, META)
    right_id = app.register_source_file(project, right, META)
    catch_up(container.projections, 600)
    print(f"  sources registered in {time.perf_counter() - registering:.2f} s (not counted)")
    started = time.perf_counter()
    job_id = app.request_job(project, left_id, right_id, version, META)
    job = run_until_done(container, job_id, project_alongside=alongside)  # `jobs run --wait`
    behind = catch_up(container.projections, 600)
    done, queryable = time.perf_counter(), datetime.now(UTC)
    if behind:
        raise SystemExit(f"the read models are still {behind} events behind")
    # the review's indexes, built after the publication on the process's thread (ADR 0024)
    container.projections.owed.drain()
    print(f"  review indexes built {time.perf_counter() - done:.2f} s after queryable")
    # From the moment JobCompleted was made (a few ms before its commit; same clock): the
    # projector alongside may have published the rows before the job's wait returned.
    projecting = done - (queryable - job.modified_on).total_seconds()
    decisions = container.results.stats(job_id)["by_rule"]
    rows = sum(row["rows"] for row in decisions)
    print(f"  job status {job.status}, {rows:,} decision rows queryable")
    print_phases(container, job_id, started, done)
    return job_id, done - started, done - projecting, rows


def print_phases(container: Container, job_id: UUID, started: float, done: float) -> None:
    """Where the job's time went, from its events' timestamps: request to claim, claim to
    the first batch (loading and matching), the batches, the last batch to JobCompleted
    (the hashes the recording did not hide), then to queryable."""
    app = container.app
    stamps: dict[str, list[datetime]] = {}
    for event in app.repository.event_store.get(job_id):
        stamps.setdefault(type(event).__name__, []).append(cast("Any", event).timestamp)
    batches = sorted(
        cast("Any", app.mapper.to_domain_event(item)).timestamp
        for item in app.recorder.select_notifications(start=1, limit=100_000)
        if item.topic.endswith("DecisionsRecorded") or item.topic.endswith("UnmatchedRecorded")
    )
    requested, claimed = stamps["JobRequested"][0], stamps["JobClaimed"][-1]
    completed = stamps["JobCompleted"][-1]
    queryable = requested.timestamp() + (done - started)
    marks = [
        ("request to claim", requested.timestamp(), claimed.timestamp()),
        ("claim to first batch", claimed.timestamp(), batches[0].timestamp()),
        ("batches recorded", batches[0].timestamp(), batches[-1].timestamp()),
        ("last batch to JobCompleted", batches[-1].timestamp(), completed.timestamp()),
        ("JobCompleted to queryable", completed.timestamp(), queryable),
    ]
    print("  " + ", ".join(f"{name} {end - start:.2f} s" for name, start, end in marks))


def copy_decisions(url: str, rows: int) -> UUID:
    """A new completed job of `rows` synthetic decisions, copied straight into the read
    models."""
    job = uuid.uuid4()
    copy_synthetic_decisions(url, job, rows)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO tieout_rm_jobs (job_id, project_id, status, left_source_id, "
            "right_source_id, ruleset_version, created_at, version) "
            "VALUES (%s, %s, 'completed', %s, %s, 1, now(), 1)",
            (job, uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
        )
    return job


def copy_synthetic_decisions(url: str, job: UUID, rows: int) -> None:
    """`rows` synthetic decisions for `job` (replacing any it had), staged a million at a
    time and published into the job's own partition, as a completed job of that size is
    (projections/job_partitions.py)."""
    chunk = 1_000_000
    with psycopg.connect(url) as conn, conn.cursor() as curs:
        curs.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(DECISIONS.table_for(job)))
        )
        curs.execute("DELETE FROM tieout_rm_decisions WHERE job_id = %s", (job,))
        for start in range(0, rows, chunk):
            n = pl.int_range(start, min(start + chunk, rows), dtype=pl.Int64, eager=True)
            frame = pl.DataFrame({"row_no": n}).with_columns(
                pl.lit(str(job)).alias("job_id"),
                ("g" + pl.col("row_no").cast(pl.String)).alias("group_id"),
                ("L" + pl.col("row_no").cast(pl.String)).alias("left_id"),
                ("R" + pl.col("row_no").cast(pl.String)).alias("right_id"),
                pl.col("row_no")
                .mod(4)
                .replace_strict(
                    {0: "exact-reference", 1: "split-payments", 2: "amount-date", 3: "fuzzy"}
                )
                .alias("rule"),
                (pl.col("row_no").hash(7).mod(10_000) / 10_000).alias("confidence"),
                pl.when(pl.col("row_no").mod(9) == 0)
                .then(pl.lit("suggested"))
                .otherwise(pl.lit("matched"))
                .alias("status"),
                pl.lit(None, dtype=pl.Float64).alias("left_amount"),
                pl.lit(None, dtype=pl.Float64).alias("right_amount"),
                pl.lit(None, dtype=pl.Date).alias("left_date"),
                pl.lit(None, dtype=pl.Date).alias("right_date"),
            )
            stage(curs, DECISIONS, job, [frame.select(DECISIONS.copied)])
            conn.commit()
        publish(curs, job, 1)


def page_latencies(container: Container, job: UUID, samples: int) -> list[float]:
    """Milliseconds of random pages: every filter, cursors at random depths."""
    results = container.results
    rng = random.Random(7)
    filters = [
        DecisionFilters(),
        DecisionFilters(status="suggested"),
        DecisionFilters(rule="fuzzy"),
        DecisionFilters(min_confidence=0.3, max_confidence=0.6),
        DecisionFilters(status="matched", rule="exact-reference"),
    ]
    cursors: dict[int, list[str]] = {index: [] for index in range(len(filters))}
    timings = []
    for sample in range(samples):
        index = sample % len(filters)
        known = cursors[index]
        cursor = rng.choice(known) if known and rng.random() < 0.8 else None
        started = time.perf_counter()
        page = results.decisions(job, filters[index], 100, cursor)
        timings.append((time.perf_counter() - started) * 1000)
        if page.next_cursor:
            known.append(page.next_cursor)
            if rng.random() < 0.3:  # jump deep: a cursor far into the list
                depth = results.decisions(job, filters[index], 1000, page.next_cursor)
                if depth.next_cursor:
                    known.append(depth.next_cursor)
    return timings


def job_figures(container: Container, scratch: Path, rows: int, alongside: bool) -> None:
    """Figures 1-4: the match baseline, the job and its catch-up, the rebuild."""
    left, right = generate_bank_ledger(rows, seed=7).write_csv(scratch / "inputs")
    match_seconds = time_match(left, right, scratch / "out")
    _, job_seconds, projection_seconds, rows = time_job(container, left, right, alongside)
    print(f"match (baseline):           {match_seconds:8.2f} s")
    print(
        f"job + catch-up:             {job_seconds:8.2f} s  "
        f"({job_seconds / match_seconds:.2f}x match)"
    )
    print(f"JobCompleted to queryable:  {projection_seconds:8.2f} s  (from the JobCompleted event)")
    started = time.perf_counter()
    reports = rebuild(container.projections)
    seconds = time.perf_counter() - started
    events = max(report.events for report in reports)
    print(
        f"rebuild (all read models):  {seconds:8.2f} s  "
        f"({events / seconds:,.0f} events/s, {rows / seconds:,.0f} decision rows/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="bank rows of the job (0: skip it)"
    )
    parser.add_argument("--pages-rows", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument(
        "--projection-alone",
        action="store_true",
        help="no projector beside the worker: the read models take the job after it ends",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tieout-bench-rm-") as scratch_dir:
        scratch = Path(scratch_dir)
        url = fresh_database(scratch)
        settings = Settings(home=scratch / "home", database_url=url, log_level="ERROR")
        container = bootstrap(settings, process="bench")
        try:
            if args.rows:
                job_figures(container, scratch, args.rows, not args.projection_alone)
            if args.pages_rows:
                started = time.perf_counter()
                big = copy_decisions(container.database_url, args.pages_rows)
                print(
                    f"copied {args.pages_rows:,} decisions in {time.perf_counter() - started:.0f} s"
                )
                timings = page_latencies(container, big, args.samples)
                cuts = statistics.quantiles(timings, n=100)
                print(
                    f"results page (limit 100):   p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms, "
                    f"p99 {cuts[98]:.2f} ms over {len(timings)} pages"
                )
        finally:
            container.close()
            if url is not None:
                drop_database(url)


if __name__ == "__main__":
    main()
