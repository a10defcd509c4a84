"""A small completed job with every kind of decision, for the review tests.

Inputs: 12 exact pairs (matched), 8 near pairs (suggested: amounts a little apart,
descriptions alike), 2 splits (one left row = two right rows, matched), and 4 open items on
each side. Amounts grow with the row so that four-eyes thresholds can pick some.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import polars as pl

from engine.domain.job import RetryPolicy
from engine.domain.meta import event_meta
from engine.domain.review_baseline import Baseline
from engine.reviews import Reviews
from engine.worker.loop import Worker, WorkerConfig
from tieout.bootstrap import Container

META = event_meta(actor="cli:owner", causation="test")
RULES = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
      - {left: amount, right: amount, op: equals}
  - name: split
    kind: many_to_one
    when:
      - {left: reference, right: ref, op: equals}
    sum: {left: amount, right: amount, tolerance: 0.01}
  - name: near
    when:
      - {left: amount, right: amount, op: within, tolerance: 1.0}
      - {left: booked, right: posted, op: within_days, days: 3}
      - {left: description, right: memo, op: similar, scorer: token_set_ratio, min: 60}
    accept_at: 0.999
"""
EXACT, NEAR, SPLITS, OPEN = 12, 8, 2, 4
WORDS = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne")


@dataclass(frozen=True)
class ReviewJob:
    project_id: UUID
    job_id: UUID
    left_id: UUID
    right_id: UUID
    version: int


def write_inputs(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    day = date(2026, 11, 2)
    left: list[dict[str, object]] = []
    right: list[dict[str, object]] = []
    for n in range(EXACT):
        amount = 100.0 * (n + 1)
        left.append(_row(f"L{n}", f"R-{n}", amount, day, f"exact payment {n}"))
        right.append(_row(f"E{n}", f"R-{n}", amount, day, f"exact payment {n}"))
    for n in range(NEAR):
        amount = 37.0 + 1000.0 * n
        word = WORDS[n]
        left.append(_row(f"N{n}", f"X-{n}", amount, day, f"{word} invoice {n} paid"))
        right.append(
            _row(f"M{n}", f"Y-{n}", amount + 0.5, day + timedelta(days=1), f"{word} inv {n}")
        )
    for n in range(SPLITS):
        left.append(_row(f"S{n}", f"SP-{n}", 90.0 + n, day, f"split {n}"))
        right.append(_row(f"T{n}a", f"SP-{n}", 40.0 + n, day, f"part a {n}"))
        right.append(_row(f"T{n}b", f"SP-{n}", 50.0, day, f"part b {n}"))
    for n in range(OPEN):
        left.append(_row(f"U{n}", f"UL-{n}", 7.0 + 11000.0 * n, day, f"lonely left {n}"))
        right.append(
            _row(f"V{n}", f"VR-{n}", 3.0 + 13000.0 * n, day - timedelta(days=n), f"orphan {n}")
        )
    left_path, right_path = directory / "left.csv", directory / "right.csv"
    frame = pl.DataFrame(left)
    frame.rename({"id": "txn_id", "date": "booked", "text": "description"}).write_csv(left_path)
    pl.DataFrame(right).rename(
        {"id": "entry_id", "reference": "ref", "date": "posted", "text": "memo"}
    ).write_csv(right_path)
    return left_path, right_path


def _row(row_id: str, reference: str, amount: float, day: date, text: str) -> dict[str, object]:
    return {"id": row_id, "reference": reference, "amount": amount, "date": day, "text": text}


def register(container: Container, directory: Path) -> ReviewJob:
    """A project with the ruleset and both inputs, and one completed job on them."""
    app = container.app
    project = app.create_project("review", META)
    version = app.publish_ruleset(project, RULES, META)
    left, right = write_inputs(directory)
    left_id = app.register_source_file(project, left, META)
    right_id = app.register_source_file(project, right, META)
    job = ReviewJob(project, UUID(int=0), left_id, right_id, version)
    return new_job(container, job)


def new_job(container: Container, like: ReviewJob) -> ReviewJob:
    """Another completed job on the same inputs."""
    job_id = container.app.request_job(
        like.project_id, like.left_id, like.right_id, like.version, META
    )
    config = WorkerConfig(
        name="worker-review",
        concurrency=1,
        lease_seconds=5,
        heartbeat_seconds=1,
        poll_seconds=0.05,
        batch_size=10,
        policy=RetryPolicy(max_attempts=1, backoff_seconds=0, backoff_max_seconds=0),
    )
    assert Worker(container.app, container.queue, container.object_store, config).tick()
    return ReviewJob(like.project_id, job_id, like.left_id, like.right_id, like.version)


def baseline(container: Container, job: ReviewJob) -> Baseline:
    return Reviews(container.app).baseline(job.job_id)
