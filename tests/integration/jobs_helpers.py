"""Helpers for job tests: registered inputs, a tick-by-tick worker, what was recorded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import polars as pl

from demo.datagen import generate_bank_ledger
from demo.narrated import demo_ruleset_text
from engine.domain.decisions import (
    DECISIONS,
    UNMATCHED,
    batch_id,
)
from engine.domain.job import Job, RetryPolicy
from engine.domain.meta import event_meta
from engine.ingest import load_source
from engine.matching import MatchResult, match
from engine.worker.loop import Worker, WorkerConfig
from tieout.bootstrap import Container

META = event_meta(actor="user:alice@example.com", causation="test")
BATCH_SIZE = 100


@dataclass(frozen=True)
class Inputs:
    project_id: UUID
    version: int
    left_id: UUID
    right_id: UUID
    directory: Path
    """Where left.csv and right.csv were written."""

    def request(self, container: Container, key: str = "") -> UUID:
        return container.app.request_job(
            self.project_id, self.left_id, self.right_id, self.version, META, key
        )


def register_inputs(container: Container, tmp_path: Path, rows: int = 600) -> Inputs:
    """A project, the demo ruleset and a generated bank statement and ledger."""
    app = container.app
    project = app.create_project("jobs", META)
    version = app.publish_ruleset(project, demo_ruleset_text(), META)
    left, right = generate_bank_ledger(rows, seed=3).write_csv(tmp_path / "inputs")
    return Inputs(
        project,
        version,
        app.register_source_file(project, left, META),
        app.register_source_file(project, right, META),
        left.parent,
    )


def worker(container: Container, max_attempts: int = 3, batch_size: int = BATCH_SIZE) -> Worker:
    """A worker driven tick by tick (no threads): lease 0.5 s, no retry backoff."""
    config = WorkerConfig(
        name="worker-test",
        concurrency=1,
        lease_seconds=0.5,
        heartbeat_seconds=0.1,
        poll_seconds=0.05,
        batch_size=batch_size,
        policy=RetryPolicy(max_attempts=max_attempts, backoff_seconds=0, backoff_max_seconds=0),
    )
    return Worker(container.app, container.queue, container.object_store, config)


def direct_match(container: Container, job: Job) -> MatchResult:
    """What `tieout match` gives on the job's inputs and ruleset."""
    app = container.app
    frames = [
        load_source(container.object_store, app.get_source(job.project_id, source).location)
        for source in (job.left_source_id, job.right_source_id)
    ]
    return match(frames[0], frames[1], app.get_ruleset(job.project_id, job.ruleset_version))


def recorded_frames(container: Container, job: Job) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The decisions and unmatched rows the job's batch streams hold, in order."""
    return container.app.recorded_decisions(job.id)


def event_names(container: Container, job_id: UUID) -> list[str]:
    return [type(event).__name__ for event in container.app.events.get(job_id)]


def batch_events(container: Container, job_id: UUID) -> int:
    """How many batch events of this job the whole log holds (duplicates included)."""
    notifications = container.app.recorder.select_notifications(start=None, limit=1_000_000)
    streams = {batch_id(job_id, kind, n) for kind in (DECISIONS, UNMATCHED) for n in range(999)}
    return sum(1 for n in notifications if n.originator_id in streams)
