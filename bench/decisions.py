"""Benchmark: recording a million match decisions as events, as a worker does.

Decisions go through the real path: Recorder (engine/worker/recording.py) splits the
frame into batches of TIEOUT_DECISION_BATCH_SIZE, each batch one DecisionsRecorded event
(columnar JSON), several batches per transaction, each save under the lease guard. In the
same run, the same event store saves one small event per transaction, eventsourcing's
ordinary `app.save(aggregate)` pattern, and the figures are printed side by side.

    TIEOUT_DATABASE_URL=postgresql://... python bench/decisions.py [--decisions 1000000]

It creates and drops a scratch database on that server (the embedded one when unset).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from demo.datagen import generate_bank_ledger
from demo.narrated import demo_ruleset_text
from engine.domain.decisions import ARROW_FORMAT, DECISIONS, DecisionBatch, encode_rows
from engine.domain.meta import event_meta
from engine.domain.queue import QueueGuard
from engine.matching import match, parse_ruleset
from engine.worker.recording import Recorder
from tieout.bootstrap import Container, bootstrap, database_url
from tieout.settings import Settings, load_settings

META = event_meta(actor="service:bench", causation="bench.decisions")


def decisions(count: int, sample_rows: int = 100_000) -> pl.DataFrame:
    """`count` real decisions: the matcher's output on generated data, repeated with the
    ids made unique until there are enough (scores and confidences as the matcher makes
    them, which matters for how well they compress)."""
    pair = generate_bank_ledger(sample_rows)
    sample = match(pair.left, pair.right, parse_ruleset(demo_ruleset_text())).matches
    copies = -(-count // sample.height)
    ids = ("left_id", "right_id", "group_id")
    frames = [
        sample.with_columns(pl.col(name) + f"-{copy}" for name in ids) for copy in range(copies)
    ]
    return pl.concat(frames).head(count)


def running_job(container: Container) -> QueueGuard:
    """A claimed job to record under, so every save pays for the real lease guard."""
    app = container.app
    project = app.create_project("bench", META)
    job_id = uuid.uuid4()
    token = uuid.uuid4().hex
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tieout_job_queue (job_id, project_id, status, lease_token)"
            " VALUES (%s, %s, 'running', %s)",
            (job_id, project, token),
        )
    return QueueGuard(job_id, "running", token)


def batched_seconds(container: Container, frame: pl.DataFrame, batch_size: int) -> float:
    recorder = Recorder(container.app, container.queue, running_job(container), batch_size, META)
    started = time.perf_counter()
    recorder.record(DECISIONS, frame, lambda _rows: None)
    return time.perf_counter() - started


def one_per_save_rate(container: Container, frame: pl.DataFrame, events: int) -> float:
    """Events per second when each save (one transaction) holds one decision."""
    job = uuid.uuid4()
    rows = [encode_rows(frame.slice(number, 1)) for number in range(events)]
    started = time.perf_counter()
    for number, data in enumerate(rows):
        batch = DecisionBatch(job, number, number, 1, ARROW_FORMAT, data, META)
        container.app.save(batch)
    return events / (time.perf_counter() - started)


@contextmanager
def scratch_container(home: Path) -> Iterator[Container]:
    admin = database_url(load_settings())
    name = f"tieout_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(admin)
    parts["dbname"] = name
    container = bootstrap(Settings(home=home, database_url=make_conninfo("", **parts)))
    try:
        yield container
    finally:
        container.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=Settings().decision_batch_size)
    parser.add_argument("--one-per-save", type=int, default=1_000, help="saves to time")
    args = parser.parse_args()
    frame = decisions(args.decisions)
    with scratch_container(Path(".tieout")) as container:
        seconds = batched_seconds(container, frame, args.batch_size)
        single = one_per_save_rate(container, frame, args.one_per_save)
    report(args.decisions, args.batch_size, seconds, single)


def report(decisions: int, batch_size: int, seconds: float, single: float) -> None:
    events = -(-decisions // batch_size)
    rate = decisions / seconds
    print(f"decisions recorded:    {decisions:,} in {events:,} events of {batch_size:,}")
    print(f"batched:               {seconds:.2f} s ({rate:,.0f} decisions/s)")
    print(f"one decision per save: {single:,.0f} events/s = decisions/s (same store, same run)")
    print(
        f"speed-up:              {rate / single:,.0f}x (one per save would need"
        f" {decisions / single / 60:,.0f} min for as many decisions)"
    )


if __name__ == "__main__":
    main()
