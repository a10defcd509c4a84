"""A job's decisions and unmatched rows, recorded in batches outside the Job's stream.

Each batch is a one-event stream with a deterministic id, `uuid5(job, "decisions:N")`. The
matcher is deterministic, so a retried attempt rebuilds identical batches; a batch already
in the log is skipped, and a second write of one would violate (originator_id, version)
anyway.

A batch's rows travel as one Arrow IPC file (zstd-compressed, base64 in the event's JSON),
with the columns of `tieout match`'s matches.parquet plus `scores`, or of unmatched.parquet.
Columnar JSON lists were the first design; encoding a million decisions that way alone took
longer than the whole budget for recording them (docs/adr/0005).
"""

from __future__ import annotations

import base64
import io
from uuid import UUID, uuid5

import polars as pl
from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta

DECISIONS = "decisions"
UNMATCHED = "unmatched"
ARROW_FORMAT = "arrow-ipc+zstd;base64"


def batch_id(job: UUID, kind: str, number: int) -> UUID:
    """The stream of batch `number` of a job's `decisions` or `unmatched` rows."""
    return uuid5(job, f"{kind}:{number}")


def encode_rows(frame: pl.DataFrame) -> str:
    """A frame as base64 text of a zstd-compressed Arrow IPC file."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="zstd")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_rows(data: str) -> pl.DataFrame:
    """The frame `encode_rows` encoded."""
    return pl.read_ipc(io.BytesIO(base64.b64decode(data)))


class RowBatch(TieoutAggregate):
    """Rows `first_row .. first_row + rows` of one job's output, as an encoded frame."""

    def _hold(
        self,
        job_id: UUID,
        batch: int,
        first_row: int,
        rows: int,
        data_format: str,
        data: str,
    ) -> None:
        self.job_id = job_id
        self.batch = batch
        self.first_row = first_row
        self.rows = rows
        self.format = data_format
        self.data = data

    def frame(self) -> pl.DataFrame:
        return decode_rows(self.data)


class DecisionBatch(RowBatch):
    """Decisions of one job: pairs or group rows, scored."""

    class DecisionsRecorded(TieoutAggregate.Created):
        job_id: UUID
        batch: int
        first_row: int
        rows: int
        format: str
        data: str

    @staticmethod
    def create_id(job_id: UUID, batch: int) -> UUID:
        return batch_id(job_id, DECISIONS, batch)

    @event(DecisionsRecorded)
    def __init__(
        self,
        job_id: UUID,
        batch: int,
        first_row: int,
        rows: int,
        format: str,  # noqa: A002 - the event's field name, read by auditors
        data: str,
        meta: EventMeta,
    ) -> None:
        del meta
        self._hold(job_id, batch, first_row, rows, format, data)


class UnmatchedBatch(RowBatch):
    """Rows of one job that no rule matched, with the reason."""

    class UnmatchedRecorded(TieoutAggregate.Created):
        job_id: UUID
        batch: int
        first_row: int
        rows: int
        format: str
        data: str

    @staticmethod
    def create_id(job_id: UUID, batch: int) -> UUID:
        return batch_id(job_id, UNMATCHED, batch)

    @event(UnmatchedRecorded)
    def __init__(
        self,
        job_id: UUID,
        batch: int,
        first_row: int,
        rows: int,
        format: str,  # noqa: A002 - the event's field name, read by auditors
        data: str,
        meta: EventMeta,
    ) -> None:
        del meta
        self._hold(job_id, batch, first_row, rows, format, data)
