"""A job's decisions and unmatched rows, recorded in batches outside the Job's stream.

Each batch is a one-event stream with a deterministic id, `uuid5(job, "decisions:N")`. The
matcher is deterministic, so a retried attempt rebuilds identical batches; a batch already
in the log is skipped, and a second write of one would violate (originator_id, version)
anyway. Columns are stored as lists (columnar JSON), thousands of rows per event.
"""

from __future__ import annotations

from uuid import UUID, uuid5

import polars as pl
from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta

DECISION_COLUMNS = ("left_id", "right_id", "group_id", "rule", "confidence", "status", "scores")
UNMATCHED_COLUMNS = ("side", "id", "reason")
DECISIONS = "decisions"
UNMATCHED = "unmatched"


def batch_id(job: UUID, kind: str, number: int) -> UUID:
    """The stream of batch `number` of a job's `decisions` or `unmatched` rows."""
    return uuid5(job, f"{kind}:{number}")


class DecisionBatch(TieoutAggregate):
    """Decisions `first_row ..` of one job: pairs or group rows with scores."""

    class DecisionsRecorded(TieoutAggregate.Created):
        job_id: UUID
        batch: int
        first_row: int
        columns: dict[str, list[object]]

    @staticmethod
    def create_id(job_id: UUID, batch: int) -> UUID:
        return batch_id(job_id, DECISIONS, batch)

    @event(DecisionsRecorded)
    def __init__(
        self,
        job_id: UUID,
        batch: int,
        first_row: int,
        columns: dict[str, list[object]],
        meta: EventMeta,
    ) -> None:
        del meta
        self.job_id = job_id
        self.batch = batch
        self.first_row = first_row
        self.columns = columns


class UnmatchedBatch(TieoutAggregate):
    """Rows of one job that no rule matched, with the reason."""

    class UnmatchedRecorded(TieoutAggregate.Created):
        job_id: UUID
        batch: int
        first_row: int
        columns: dict[str, list[object]]

    @staticmethod
    def create_id(job_id: UUID, batch: int) -> UUID:
        return batch_id(job_id, UNMATCHED, batch)

    @event(UnmatchedRecorded)
    def __init__(
        self,
        job_id: UUID,
        batch: int,
        first_row: int,
        columns: dict[str, list[object]],
        meta: EventMeta,
    ) -> None:
        del meta
        self.job_id = job_id
        self.batch = batch
        self.first_row = first_row
        self.columns = columns


def frame_columns(frame: pl.DataFrame, names: tuple[str, ...]) -> dict[str, list[object]]:
    """A frame's columns as plain lists, ready for JSON."""
    return {name: frame.get_column(name).to_list() for name in names}


def batches_frame(batches: list[dict[str, list[object]]], schema: pl.Schema) -> pl.DataFrame:
    """Rebuild a frame from recorded batches (in batch order)."""
    frames = [pl.DataFrame(columns, schema=schema) for columns in batches]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)
