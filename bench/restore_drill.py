"""Restore drill: lose the database, get everything back, and time it against pg_dump.

A log holding a job of N decisions (recorded as a worker records them) -> a full snapshot
-> incremental snapshots while another job keeps recording -> restore into a fresh
database -> the same log, chain head and read models. The same database is also dumped
with `pg_dump -Fc` and loaded with `pg_restore`, side by side.

    TIEOUT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python bench/restore_drill.py [--decisions 1000000]

It creates and drops its scratch databases on that server (the embedded one when unset).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.domain.decisions import DECISIONS
from engine.domain.meta import event_meta
from engine.domain.queue import QueueGuard
from engine.worker.recording import Recorder
from projections.projector import catch_up
from tieout import backups
from tieout.bootstrap import Container, bootstrap, database_url
from tieout.settings import Settings, load_settings

META = event_meta(actor="service:bench", causation="bench.restore_drill")
MB = 1_000_000
# Columns that differ by nature between a database and its restore: when a row was written.
VOLATILE = {"tieout_chain_seals": "notification_id, ordinal, hash, key_id, signature"}
# Tables that are not derived from the log: the drill's jobs are queue rows written by hand
# (their decisions are recorded without a Job stream to rebuild the row from), and the
# results read model's cursor key is a random secret each database makes for itself.
NOT_FROM_THE_LOG = {"tieout_job_queue", "tieout_rm_cursor_key"}


def decision_frame(count: int, seed: int = 7) -> pl.DataFrame:
    """`count` decisions shaped as the matcher makes them (ids, rule, confidence, scores)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(count)
    confidence = rng.uniform(0.6, 1.0, count).round(6)
    return pl.DataFrame(
        {
            "left_id": pl.Series(ids).cast(pl.String),
            "right_id": pl.Series(rng.permutation(ids)).cast(pl.String),
            "group_id": pl.Series(ids).cast(pl.String),
            "rule": rng.choice(["exact-reference", "amount-and-date", "fuzzy"], count),
            "confidence": confidence,
            "status": np.where(confidence > 0.9, "matched", "suggested"),
            "scores": [[score, 1.0] for score in confidence.tolist()],
        }
    )


def record_job(container: Container, frame: pl.DataFrame, batch_size: int = 5000) -> None:
    """Record `frame` as a running job's decisions, under its lease, as a worker does."""
    project = container.app.create_project(f"drill {uuid.uuid4().hex[:6]}", META)
    job_id, token = uuid.uuid4(), uuid.uuid4().hex
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tieout_job_queue (job_id, project_id, status, lease_token)"
            " VALUES (%s, %s, 'running', %s)",
            (job_id, project, token),
        )
    guard = QueueGuard(job_id, "running", token)
    Recorder(container.app, container.queue, guard, batch_size, META).record(
        DECISIONS, frame, lambda _rows: None
    )


def table_hashes(url: str) -> dict[str, str]:
    """Every table's rows, hashed in a stable order (volatile columns left out)."""
    hashes = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
        for (table,) in tables:
            columns = VOLATILE.get(table, "t.*")
            found = conn.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, ',' ORDER BY"
                f" r::text)), '') FROM (SELECT {columns} FROM {table} t) r"
            ).fetchone()
            hashes[table] = str(found[0]) if found else ""
    return hashes


@dataclass
class Drill:
    decisions: int
    log_mb: float = 0.0
    full_seconds: float = 0.0
    full_mb: float = 0.0
    incrementals: list[tuple[int, float]] = field(default_factory=list)
    restore: backups.Restored | None = None
    differing: list[str] = field(default_factory=list)
    pg_dump_seconds: float | None = None
    pg_dump_mb: float | None = None
    pg_dump_log_seconds: float | None = None
    pg_restore_seconds: float | None = None


@contextmanager
def scratch_databases(admin: str, count: int) -> Iterator[list[str]]:
    names = [f"tieout_drill_{uuid.uuid4().hex[:8]}" for _ in range(count)]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(admin)
    try:
        yield [make_conninfo("", **(parts | {"dbname": name})) for name in names]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drill(
    admin: str, home: Path, decisions: int, *, incrementals: int = 3, pg_tools: bool = True
) -> Drill:
    """The whole drill on scratch databases of the server `admin` names."""
    result = Drill(decisions)
    with scratch_databases(admin, 3) as (source, target, pg_target):
        settings = Settings(home=home, database_url=source, backup_store=str(home / "backups"))
        built = bootstrap(settings)
        try:
            record_job(built, decision_frame(decisions))
            catch_up(built.projections, 600)
            result.log_mb = _log_bytes(source) / MB
            full = backups.create(built, full=True)
            result.full_seconds, result.full_mb = full.seconds, full.stored_bytes / MB
            if pg_tools:
                result.pg_dump_seconds, result.pg_dump_mb = _pg_dump(source, home / "db.dump")
                result.pg_dump_log_seconds, _ = _pg_dump(
                    source, home / "log.dump", "--table=tieout_events"
                )
            result.incrementals = _incrementals_under_load(built, decisions // 10, incrementals)
            catch_up(built.projections, 600)
        finally:
            built.close()
        result.restore = backups.restore(settings, target, None)
        before, after = table_hashes(source), table_hashes(target)
        result.differing = sorted(
            name
            for name in before
            if before[name] != after.get(name) and name not in NOT_FROM_THE_LOG
        )
        if pg_tools:
            result.pg_restore_seconds = _pg_restore(pg_target, home / "db.dump")
    return result


def _incrementals_under_load(built: Container, rows: int, count: int) -> list[tuple[int, float]]:
    """Incremental snapshots taken while another job records its decisions."""
    writer = threading.Thread(target=record_job, args=(built, decision_frame(rows, seed=8), 500))
    writer.start()
    taken = []
    for _ in range(count):
        manifest = backups.create(built, full=False)
        taken.append((manifest.events, manifest.seconds))
    writer.join()
    manifest = backups.create(built, full=False)  # what the writer added after the last one
    taken.append((manifest.events, manifest.seconds))
    return taken


def _log_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT sum(octet_length(state)) FROM tieout_events").fetchone()
    return int(found[0] or 0) if found else 0


def _pg_dump(url: str, path: Path, *options: str) -> tuple[float, float]:
    started = time.perf_counter()
    command = ["pg_dump", "-Fc", *options, "-d", url, "-f", str(path)]
    subprocess.run(command, check=True)  # noqa: S603
    return time.perf_counter() - started, path.stat().st_size / MB


def _pg_restore(url: str, path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["pg_restore", "-d", url, str(path)], check=True)  # noqa: S603, S607
    return time.perf_counter() - started


def report(done: Drill) -> None:
    restored = done.restore
    assert restored is not None  # noqa: S101 - drill() always restores
    print(f"log:               {done.decisions:,} decisions, {done.log_mb:.1f} MB of states")
    rate = done.log_mb / done.full_seconds
    print(f"full snapshot:     {done.full_seconds:.2f} s, {done.full_mb:.1f} MB ({rate:.0f} MB/s)")
    if done.pg_dump_seconds is not None:
        print(f"pg_dump -Fc:       {done.pg_dump_seconds:.2f} s, {done.pg_dump_mb:.1f} MB")
        print(f"  the log alone:   {done.pg_dump_log_seconds:.2f} s (--table=tieout_events)")
    for events, seconds in done.incrementals:
        print(
            f"incremental:       {events:,} events in {seconds:.2f} s (a job recording meanwhile)"
        )
    worst = max(seconds for _, seconds in done.incrementals)
    print(f"recovery point:    <= 60 s interval + {worst:.2f} s (the slowest incremental)")
    print(
        f"restore (RTO):     {restored.seconds:.2f} s = checks {restored.check_seconds:.2f}"
        f" + load {restored.load_seconds:.2f} + read-model rebuild {restored.rebuild_seconds:.2f}"
    )
    if done.pg_restore_seconds is not None:
        print(f"pg_restore:        {done.pg_restore_seconds:.2f} s")
    print(f"identical:         {'yes' if not done.differing else done.differing}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    args = parser.parse_args()
    if shutil.which("pg_dump") is None:
        parser.error("pg_dump and pg_restore are needed for the side-by-side figures")
    with tempfile.TemporaryDirectory(prefix="tieout-drill-") as home:
        report(drill(database_url(load_settings()), Path(home), args.decisions))


if __name__ == "__main__":
    main()
