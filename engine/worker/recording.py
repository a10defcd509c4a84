"""Recording a match result as batches of events, each batch exactly once.

Batches have deterministic stream ids, so a retried attempt (same inputs, same ruleset,
same deterministic matcher) rebuilds the same batches and skips those already in the log.
Several batches go into one save (one transaction) for throughput; every save carries the
lease guard, so a worker whose lease was taken over writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from uuid import UUID

import polars as pl

from engine.application import Tieout
from engine.domain.decisions import (
    ARROW_FORMAT,
    DECISIONS,
    DecisionBatch,
    UnmatchedBatch,
    batch_id,
    encode_rows,
)
from engine.domain.meta import EventMeta
from engine.domain.queue import QueueGuard
from engine.ports import JobQueue

BATCHES_PER_TRANSACTION = 10  # 50,000 decisions per transaction at the default batch size


@dataclass(frozen=True)
class Batch:
    """Rows `first_row .. first_row + rows.height` of a job's decisions or unmatched rows."""

    job_id: UUID
    kind: str
    number: int
    first_row: int
    rows: pl.DataFrame

    @property
    def stream_id(self) -> UUID:
        return batch_id(self.job_id, self.kind, self.number)

    def aggregate(self, meta: EventMeta) -> DecisionBatch | UnmatchedBatch:
        kind = DecisionBatch if self.kind == DECISIONS else UnmatchedBatch
        return kind(
            job_id=self.job_id,
            batch=self.number,
            first_row=self.first_row,
            rows=self.rows.height,
            format=ARROW_FORMAT,
            data=encode_rows(self.rows),
            meta=meta,
        )


@dataclass(frozen=True)
class Recorder:
    """Writes a job's batches under its lease."""

    app: Tieout
    queue: JobQueue
    guard: QueueGuard
    batch_size: int
    meta: EventMeta

    def record(self, kind: str, frame: pl.DataFrame, on_rows: Callable[[int], None]) -> int:
        """Record `frame` in batches; calls `on_rows(n)` after each save; returns the count."""
        batches = list(split(self.guard.job_id, kind, frame, self.batch_size))
        done = self.queue.recorded([batch.stream_id for batch in batches])
        pending = [batch for batch in batches if batch.stream_id not in done]
        on_rows(sum(batch.rows.height for batch in batches if batch.stream_id in done))
        chunks = [
            pending[start : start + BATCHES_PER_TRANSACTION]
            for start in range(0, len(pending), BATCHES_PER_TRANSACTION)
        ]
        # The next chunk is encoded (Arrow IPC, zstd: polars without the GIL) on a thread
        # of its own while this one is saved, which is mostly waiting on the database.
        with ThreadPoolExecutor(1, thread_name_prefix="batch-encoder") as encoder:
            upcoming = [encoder.submit(self._aggregates, chunk) for chunk in chunks[:1]]
            for number, chunk in enumerate(chunks):
                aggregates = upcoming.pop().result()
                if number + 1 < len(chunks):
                    upcoming.append(encoder.submit(self._aggregates, chunks[number + 1]))
                self.app.save_fenced(aggregates, guard=self.guard)
                on_rows(sum(batch.rows.height for batch in chunk))
        return len(batches)

    def _aggregates(self, chunk: list[Batch]) -> list[DecisionBatch | UnmatchedBatch]:
        return [batch.aggregate(self.meta) for batch in chunk]


def split(job_id: UUID, kind: str, frame: pl.DataFrame, size: int) -> Iterator[Batch]:
    for number, first_row in enumerate(range(0, frame.height, size)):
        yield Batch(job_id, kind, number, first_row, frame.slice(first_row, size))
