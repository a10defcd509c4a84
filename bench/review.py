"""Benchmark: confirming 100k suggested groups in one command, as batched events.

A completed job with `--groups` suggested one-to-one groups is recorded the way a worker
records one (a claimed job, DecisionsRecorded batches under its lease, JobCompleted), so
the command reads a real baseline. Then the real command runs as a user would:

    tieout review confirm JOB --all-suggested --min-confidence 0.5

and the figures are its wall-clock time (process start included), the events it recorded
and the transactions they took, then the time the read models take to apply them.

    TIEOUT_DATABASE_URL=postgresql://... python bench/review.py [--groups 100000]

It creates and drops a scratch database on that server (the embedded one when unset).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.domain.decisions import DECISIONS
from engine.domain.job import JobOutcome
from engine.domain.meta import event_meta
from engine.domain.queue import QueueGuard
from engine.domain.review import review_id
from engine.ingest import Upload
from engine.worker.recording import Recorder
from projections.projector import catch_up
from tieout.bootstrap import Container, bootstrap, database_url
from tieout.settings import Settings, load_settings

META = event_meta(actor="service:bench", causation="bench.review")
RULES = """
left: {id: id}
right: {id: id}
rules:
  - name: near
    when:
      - {left: amount, right: amount, op: within, tolerance: 1}
    accept_at: 0.99
"""
TIEOUT = str(Path(sys.executable).parent / "tieout")


def suggested(groups: int) -> pl.DataFrame:
    """`groups` suggested one-to-one decisions, confidences spread over 0.5-0.98."""
    n = pl.int_range(groups, dtype=pl.Int64)
    return pl.select(
        ("L" + n.cast(pl.String)).alias("left_id"),
        ("R" + n.cast(pl.String)).alias("right_id"),
        ("L" + n.cast(pl.String)).alias("group_id"),
        pl.lit("near").alias("rule"),
        (0.5 + (n % 49) / 100).alias("confidence"),
        pl.lit("suggested").alias("status"),
        pl.concat_list(0.5 + (n % 49) / 100).alias("scores"),
        (n % 997 + 0.25).alias("left_amount"),
        (n % 997 + 0.5).alias("right_amount"),
    )


def completed_job(container: Container, frame: pl.DataFrame) -> uuid.UUID:
    """A job recorded as a worker records one, with `frame` as its decisions."""
    app = container.app
    project = app.create_project("bench review", META)
    version = app.publish_ruleset(project, RULES, META)
    sources = []
    for side in ("left", "right"):
        data = f"id,amount\n{side}-1,1.0\n".encode()
        path = container.settings.home / f"{side}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with path.open("rb") as stream:
            sources.append(app.register_source(project, Upload(path.name, "csv", stream), META))
    job = app.request_job(project, sources[0], sources[1], version, META)
    token = uuid.uuid4().hex
    app.claim_job(job, "bench", token, 5_000, META)
    guard = QueueGuard(job, "running", token)
    batches = Recorder(app, container.queue, guard, 5_000, META).record(
        DECISIONS, frame, lambda _rows: None
    )
    counts: dict[str, Any] = {"matched": 0, "suggested": frame.height}
    counts |= {"unmatched_left": 0, "unmatched_right": 0}
    outcome = JobOutcome(counts, "bench", version, "bench", "bench", batches, 0)
    app.complete_job(job, token, outcome, META)
    return job


def confirm_all(env: dict[str, str], job: uuid.UUID, min_confidence: float) -> tuple[float, float]:
    """The command's wall-clock seconds and its CPU seconds (user + system): on a shared
    machine the second says what the command costs, the first what it waited too."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [TIEOUT, "review", "confirm", str(job), "--all-suggested"]
    command += ["--min-confidence", str(min_confidence), "--actor", "bench"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603 - our own CLI
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(done.stderr.strip())
    print(f"action: {done.stdout.strip().splitlines()[-1]}")
    return seconds, cpu


@contextmanager
def scratch(home: Path) -> Iterator[tuple[Container, str]]:
    admin = database_url(load_settings())
    name = f"tieout_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(admin)
    parts["dbname"] = name
    url = make_conninfo("", **parts)
    container = bootstrap(Settings(home=home, database_url=url, object_store=str(home / "o")))
    try:
        yield container, url
    finally:
        container.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def transactions(url: str, stream: uuid.UUID) -> tuple[int, int]:
    """The review stream's events, and the transactions that wrote them (PostgreSQL's
    xmin: rows a transaction inserted share it)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM tieout_events "
            "WHERE originator_id = %s",
            (stream,),
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--min-confidence", type=float, default=0.5)
    args = parser.parse_args()
    Path(".tieout").mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-review-", dir=".tieout") as scratch_home,
        scratch(Path(scratch_home)) as (container, url),
    ):
        home = Path(scratch_home)
        started = time.perf_counter()
        job = completed_job(container, suggested(args.groups))
        print(
            f"job {job}: {args.groups:,} suggested groups in {time.perf_counter() - started:.1f} s"
        )
        catch_up(container.projections, 600)
        env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
        env |= {"TIEOUT_DATABASE_URL": url, "TIEOUT_HOME": str(home)}
        env["TIEOUT_OBJECT_STORE"] = str(home / "o")
        seconds, cpu = confirm_all(env, job, args.min_confidence)
        events, writes = transactions(url, review_id(job))
        started = time.perf_counter()
        catch_up(container.projections, 600)
        projected = time.perf_counter() - started
        confirmed = container.results.review_stats(job)["groups"]["confirmed"]
    print(
        f"tieout review confirm --all-suggested: {seconds:.2f} s wall, {cpu:.2f} s CPU "
        f"(process start included; load average {os.getloadavg()[0]:.1f})"
    )
    print(f"review events: {events} in {writes} transaction(s)")
    print(f"read models: {confirmed:,} groups confirmed, applied in {projected:.2f} s")


if __name__ == "__main__":
    main()
