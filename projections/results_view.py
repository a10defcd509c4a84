"""The analyst's read models: projects, rulesets, sources, jobs, decisions, unmatched items.

`ResultsView.project` applies consecutive events in one transaction with its tracking
position (ADR 0006), so a crash and restart neither skips nor repeats an event. A
`DecisionsRecorded` or `UnmatchedRecorded` batch (thousands of rows in one event) is
decoded once and goes in with COPY; the rows of consecutive batches are gathered and
copied together. Rows carry `row_no`, their position in the job's recorded output, which
is unique and orders every query. Events of other types are skipped.

Decision and unmatched rows are staged per job and published whole when the job
completes (projections/job_partitions.py): a large job's indexes are then built in one
sort each instead of row by row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import polars as pl
from eventsourcing.persistence import InterfaceError, OperationalError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import retry
from psycopg import Cursor

from engine.domain.decisions import DecisionBatch, UnmatchedBatch, decode_rows
from engine.domain.job import (
    CANCELLED,
    COMPLETED,
    DEAD_LETTERED,
    FAILED,
    REQUESTED,
    RUNNING,
    Job,
)
from engine.domain.project import Project
from engine.domain.source import Source
from engine.matching.schemas import (
    CONFIDENCE,
    GROUP_ID,
    LEFT_ID,
    REASON,
    RIGHT_ID,
    RULE,
    SIDE,
    STATUS,
    UNMATCHED_ID,
)
from engine.worker.details import (
    AMOUNT,
    DATE,
    LEFT_AMOUNT,
    LEFT_DATE,
    RIGHT_AMOUNT,
    RIGHT_DATE,
)
from projections.job_partitions import (
    BUILDERS,
    DECISIONS,
    UNMATCHED,
    JobTable,
    build_indexes,
    build_owed,
    drop_all,
    publish,
    stage,
    unlogged_tables,
)
from projections.names import (
    JOBS_TABLE,
    PROJECTS_TABLE,
    RESULTS_PROJECTION,
    RESULTS_TABLES,
    RULESETS_TABLE,
    SOURCES_TABLE,
    UNLOGGED_MARK_TABLE,
    Lock,
)
from projections.review_view import REVIEW_HANDLERS
from projections.tracking import ProjectionResetError, begin_write, checked_position

logger = logging.getLogger(__name__)

# The detail columns (engine/worker/details.py) are absent from batches recorded before
# the worker added them, and then NULL here.


Event = Any


@dataclass
class _Batch:
    """What one write transaction applies: statements in order, then the COPYs, then the
    review events' statements (`after`), which change rows the COPYs may bring."""

    statements: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    staged: dict[tuple[JobTable, UUID], list[pl.DataFrame]] = field(default_factory=dict)
    completed: list[UUID] = field(default_factory=list)  # jobs whose decisions to publish
    after: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def rows(self) -> int:
        copied = sum(frame.height for frames in self.staged.values() for frame in frames)
        return len(self.statements) + copied + len(self.after)

    def stage(self, table: JobTable, job_id: UUID, frame: pl.DataFrame) -> None:
        self.staged.setdefault((table, job_id), []).append(frame)


class ResultsView(PostgresTrackingRecorder):
    """The read models' tables and their tracking rows (`tieout_results_tracking`)."""

    own_partition_rows = 50_000
    """A job of at least this many decisions gets a partition of its own (settings)."""

    def use_own_partition_rows(self, rows: int) -> None:
        self.own_partition_rows = rows

    index_builders = BUILDERS
    """A large job's partition indexes built side by side before its publication."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decoded: dict[int, pl.DataFrame] = {}  # notification id: its rows, decoded
        self._early: dict[UUID, Future[int]] = {}  # job: its decision indexes building
        self._early_builds: ThreadPoolExecutor | None = None
        self._owe: Callable[[], None] | None = None  # see use_owed_index_builds

    def prepare(self, events: Sequence[tuple[Event, int]]) -> None:
        """Decode the row batches among `events` ahead of `project`.

        A replay calls this from its reader thread for the next batch while the current
        one is written: polars decodes and reshapes without the GIL, while the writer
        mostly waits on the server's COPY. `project` takes what was decoded, and decodes
        what was not (the runner's single events).
        """
        for event, number in events:
            rows = ROWS.get(type(event))
            if rows is not None:
                self._decoded[number] = rows[1](event)

    def forget_prepared(self) -> None:
        """Drop what `prepare` decoded and no `project` took (a replay that stopped)."""
        self._decoded.clear()

    def project(self, events: Sequence[tuple[Event, int]], tracking: Tracking) -> int:
        """Apply consecutive (event, notification id) pairs and record `tracking`; events
        at or before the view's position are skipped. Returns rows written.

        Each `JobCompleted` opens a transaction of its own: the job's batches before it
        are committed first, then its partition's indexes are built side by side
        (`build_indexes`), and the transaction that publishes the job finds them made.
        A job's first unmatched batch opens one too: the worker records every decision
        batch before it, so the job's decision indexes start building then, beside the
        writer, while its open items are staged. Every transaction holds its events and
        the tracking of its last, or nothing.
        """
        written = 0
        for part, through, opening in _cut(events, tracking):
            if isinstance(opening, DecisionsStaged):
                self._build_decisions_early(opening.job_id)
            elif opening is not None:
                self._build_before_publishing(opening)
            written += self._write(part, through)
            if opening is not None and not isinstance(opening, DecisionsStaged):
                self._owe_indexes()  # the job's review indexes, once it is published
        return written

    def use_owed_index_builds(self, owe: Callable[[], None]) -> None:
        """Build the review's indexes of published jobs through `owe` (a process's
        `OwedIndexBuilds.owe`, which builds them on a thread while this view goes on)."""
        self._owe = owe

    def _owe_indexes(self) -> None:
        """Without `use_owed_index_builds`: built here, before the view goes on."""
        if self._owe is not None:
            self._owe()
        else:
            self.build_owed_indexes()

    def build_owed_indexes(self) -> int:
        """Build every review index the read models owe (projections/owed_indexes.py)."""
        return build_owed(self.datastore.get_connection, self.index_builders)

    def _build_decisions_early(self, job_id: UUID) -> None:
        """Start building a job's decision indexes in the background (see `project`)."""
        if self._early_builds is None:
            self._early_builds = ThreadPoolExecutor(1, thread_name_prefix="early-index-builds")
        self._early = {job: build for job, build in self._early.items() if not build.done()}
        self._early[job_id] = self._early_builds.submit(
            build_indexes,
            self.datastore.get_connection,
            job_id,
            self.own_partition_rows,
            self.index_builders,
            (DECISIONS,),
            beside_writer=True,
        )

    def _build_before_publishing(self, job_id: UUID) -> None:
        """Build a completed job's partition indexes before the transaction that publishes it.

        Its open items' indexes start at once, on one connection, beside the decision
        indexes that began early: waiting for those first would leave a core idle while
        the last early builds run on one connection. Then every index still missing is
        built (a failed early build, or a job whose decisions were staged before this
        projector started).
        """
        connection = self.datastore.get_connection
        rows, builders = self.own_partition_rows, self.index_builders
        early = self._early.get(job_id)
        if early is not None and not early.done():  # else nothing to build beside
            with ThreadPoolExecutor(1, thread_name_prefix="open-item-index-builds") as side:
                items = side.submit(build_indexes, connection, job_id, rows, 1, (UNMATCHED,))
                self.finish_early_builds(job_id)
                items.result()
        else:
            self.finish_early_builds(job_id)  # done or none: only a failure to report
        build_indexes(connection, job_id, rows, builders)

    def finish_early_builds(self, job_id: UUID) -> None:
        """Wait for a job's early index builds, if any: the publication needs them done;
        one that failed leaves its indexes to the builds before the publication."""
        build = self._early.pop(job_id, None)
        if build is None:
            return
        try:
            build.result()
        except Exception:
            logger.warning("early index builds of job %s failed", job_id, exc_info=True)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _write(self, events: Sequence[tuple[Event, int]], tracking: Tracking) -> int:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(begin_write(Lock.RESULTS_WRITE), prepare=False)
            position = checked_position(
                curs,
                self.tracking_table_name,
                JOBS_TABLE,
                tracking.application_name,
                events[0][1],
            )
            if events[-1][1] <= position:  # all in already: a rebuild overtook this writer
                return 0
            if _emptied_by_a_crash(curs):
                msg = "the read models' unlogged tables were emptied: restart the catch-up"
                raise ProjectionResetError(msg)
            batch = _Batch()
            for event, number in events:
                decoded = self._decoded.pop(number, None)
                if number > position:
                    _apply(batch, event, decoded)
            for statement, params in batch.statements:
                curs.execute(statement, params)
            for (table, job_id), frames in batch.staged.items():
                stage(curs, table, job_id, frames)
            for job_id in batch.completed:
                publish(curs, job_id, self.own_partition_rows)
            for statement, params in batch.after:
                curs.execute(statement, params)
            self._insert_tracking(curs, tracking)
        return batch.rows()

    def recover_lost_rows(self, application: str) -> bool:
        """Rebuild the read models if a crash of the database server emptied their
        unlogged tables (ADR 0019); returns whether it did.

        The view's unlogged mark holds a row whenever the read models are whole, and crash
        recovery empties it with the job tables. So a mark found gone, with unlogged job
        tables about, means those tables lost their rows: the read models and their
        position are emptied (`reset`, which marks again) and the catch-up replays the
        log into them. A mark gone with no unlogged table about (a new database, or one
        from before the tables were unlogged) is only set. `replay` calls this before
        every catch-up, and every write checks the mark (`_write`: refused where unlogged
        tables are about, set where none is), so nothing is written into emptied tables.
        """
        with self.datastore.transaction(commit=False) as curs:
            if _marked(curs):  # nearly always: no lock taken
                return False
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(begin_write(Lock.RESULTS_WRITE), prepare=False)
            if not _emptied_by_a_crash(curs):
                return False
        logger.warning(
            "a crash of the database server emptied the read models' unlogged tables: "
            "rebuilding the read models from the log"
        )
        self.reset(application)
        return True

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def reset(self, application: str) -> None:
        """Empty every read model and forget the position, in one transaction."""
        self._early.clear()  # builds of tables the reset drops: it waits for them
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"SELECT pg_advisory_xact_lock({int(Lock.RESULTS_WRITE)})")
            drop_all(curs)
            curs.execute(f"TRUNCATE {', '.join(RESULTS_TABLES)}")
            _mark(curs)
            curs.execute(
                f"DELETE FROM {self.tracking_table_name} WHERE application_name = %s",
                (application,),
            )

    def position(self, application: str) -> int:
        """The last event the read models hold (0: none)."""
        return self.max_tracking_id(application) or 0


def _emptied_by_a_crash(curs: Cursor[Any]) -> bool:
    """Whether the unlogged mark is gone while unlogged job tables exist (see
    `recover_lost_rows`); a mark gone with none about is set again, as nothing was lost."""
    if _marked(curs):
        return False
    if unlogged_tables(curs):
        return True
    _mark(curs)
    return False


def _marked(curs: Cursor[Any]) -> bool:
    """Whether the read models' unlogged mark is there (see `recover_lost_rows`)."""
    return curs.execute(f"SELECT 1 FROM {UNLOGGED_MARK_TABLE}").fetchone() is not None


def _mark(curs: Cursor[Any]) -> None:
    curs.execute(f"INSERT INTO {UNLOGGED_MARK_TABLE} DEFAULT VALUES ON CONFLICT DO NOTHING")


@dataclass(frozen=True)
class DecisionsStaged:
    """A cut before a job's first unmatched batch: every decision batch is before it."""

    job_id: UUID


def _cut(
    events: Sequence[tuple[Event, int]], tracking: Tracking
) -> list[tuple[Sequence[tuple[Event, int]], Tracking, UUID | DecisionsStaged | None]]:
    """`events` cut before each `JobCompleted` and each job's first unmatched batch:
    (part, tracking of its last event, what opens it: the completed job's id, a
    `DecisionsStaged`, or nothing for the first part)."""
    parts: list[tuple[Sequence[tuple[Event, int]], Tracking, UUID | DecisionsStaged | None]] = []
    start: int = 0
    opening: UUID | DecisionsStaged | None = None
    for index, (event, _) in enumerate(events):
        if isinstance(event, Job.JobCompleted):
            cut: UUID | DecisionsStaged = event.originator_id
        elif isinstance(event, UnmatchedBatch.UnmatchedRecorded) and event.batch == 0:
            cut = DecisionsStaged(event.job_id)
        else:
            continue
        if index > start:
            through = Tracking(tracking.application_name, events[index - 1][1])
            parts.append((events[start:index], through, opening))
        start, opening = index, cut
    parts.append((events[start:], tracking, opening))
    return parts


class ResultsProjection(Projection[ResultsView]):
    """Feeds the runner's events, one at a time, through `ResultsView.project`."""

    name = RESULTS_PROJECTION  # the tracking table's prefix: tieout_results_tracking
    topics = ()  # all: the view skips what it does not keep

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.project([(domain_event, tracking.notification_id)], tracking)


def _apply(batch: _Batch, event: Event, decoded: pl.DataFrame | None = None) -> None:
    """Add `event` to `batch`; a row batch's rows come from `decoded` when `prepare` made
    them."""
    rows = ROWS.get(type(event))
    if rows is not None:
        table, rows_of = rows
        batch.stage(table, event.job_id, rows_of(event) if decoded is None else decoded)
    handler = HANDLERS.get(type(event))
    if handler is not None:
        handler(batch, event)
    review = REVIEW_HANDLERS.get(type(event))
    if review is not None:
        batch.after.extend(review(event))


def _actor(event: Event) -> str:
    meta = getattr(event, "meta", None)
    return str(meta.get("actor", "")) if isinstance(meta, dict) else ""


def _project_created(batch: _Batch, event: Project.ProjectCreated) -> None:
    batch.statements.append(
        (
            (
                f"INSERT INTO {PROJECTS_TABLE} (project_id, name, created_at) "
                "VALUES (%(id)s, %(name)s, %(at)s) ON CONFLICT (project_id) DO NOTHING"
            ),
            {"id": event.originator_id, "name": event.name, "at": event.timestamp},
        )
    )


def _ruleset_published(batch: _Batch, event: Project.RulesetPublished) -> None:
    batch.statements.append(
        (
            (
                f"INSERT INTO {RULESETS_TABLE} "
                "(project_id, version, digest, ruleset, published_at, published_by) "
                "VALUES (%(project)s, %(version)s, %(digest)s, %(ruleset)s, %(at)s, %(by)s) "
                "ON CONFLICT (project_id, version) DO NOTHING"
            ),
            {
                "project": event.originator_id,
                "version": event.version,
                "digest": event.digest,
                "ruleset": json.dumps(event.ruleset, sort_keys=True),
                "at": event.timestamp,
                "by": _actor(event),
            },
        )
    )


def _source_registered(batch: _Batch, event: Source.SourceRegistered) -> None:
    batch.statements.append(
        (
            (
                f"INSERT INTO {SOURCES_TABLE} (source_id, project_id, name, file_format, "
                "content_hash, file_hash, row_count, columns, registered_at, registered_by) "
                "VALUES (%(id)s, %(project)s, %(name)s, %(format)s, %(content)s, %(file)s, "
                "%(rows)s, %(columns)s, %(at)s, %(by)s) ON CONFLICT (source_id) DO NOTHING"
            ),
            {
                "id": event.originator_id,
                "project": event.project_id,
                "name": event.name,
                "format": event.file_format,
                "content": event.content_hash,
                "file": event.file_hash,
                "rows": event.row_count,
                "columns": json.dumps(event.columns),
                "at": event.timestamp,
                "by": _actor(event),
            },
        )
    )


def _job_requested(batch: _Batch, event: Job.JobRequested) -> None:
    batch.statements.append(
        (
            (
                f"INSERT INTO {JOBS_TABLE} (job_id, project_id, status, left_source_id, "
                "right_source_id, ruleset_version, idempotency_key, created_at, version) "
                "VALUES (%(id)s, %(project)s, %(status)s, %(left)s, %(right)s, %(ruleset)s, "
                "%(key)s, %(at)s, %(version)s) ON CONFLICT (job_id) DO NOTHING"
            ),
            {
                "id": event.originator_id,
                "project": event.project_id,
                "status": REQUESTED,
                "left": event.left_source_id,
                "right": event.right_source_id,
                "ruleset": event.ruleset_version,
                "key": event.idempotency_key,
                "at": event.timestamp,
                "version": event.originator_version,
            },
        )
    )


def _job_update(sets: str, **values: Any) -> Callable[[_Batch, Event], None]:
    """A handler that sets `sets` on the job's row; `values` name event attributes or,
    when callable, compute a value from the event."""

    def handle(batch: _Batch, event: Event) -> None:
        params: dict[str, Any] = {
            "id": event.originator_id,
            "version": event.originator_version,
            "at": event.timestamp,
        }
        for name, source in values.items():
            params[name] = source(event) if callable(source) else source
        batch.statements.append(
            (
                (
                    f"UPDATE {JOBS_TABLE} SET {sets}, version = %(version)s "
                    "WHERE job_id = %(id)s AND version < %(version)s"
                ),
                params,
            )
        )

    return handle


_job_completed = _job_update(
    "status = %(status)s, finished_at = %(at)s, counts = %(counts)s, "
    "decisions_hash = %(decisions_hash)s, inputs_hash = %(inputs_hash)s, "
    "engine_version = %(engine_version)s, decision_batches = %(decision_batches)s, "
    "unmatched_batches = %(unmatched_batches)s",
    status=COMPLETED,
    counts=lambda event: json.dumps(event.counts, sort_keys=True),
    decisions_hash=lambda event: event.decisions_hash,
    inputs_hash=lambda event: event.inputs_hash,
    engine_version=lambda event: event.engine_version,
    decision_batches=lambda event: event.decision_batches,
    unmatched_batches=lambda event: event.unmatched_batches,
)


def _completed(batch: _Batch, event: Job.JobCompleted) -> None:
    _job_completed(batch, event)
    batch.completed.append(event.originator_id)


def _decision_rows(event: DecisionBatch.DecisionsRecorded) -> pl.DataFrame:
    """A decisions batch's rows as the staging table takes them."""
    frame = decode_rows(event.data)
    details = [
        _column(frame, LEFT_AMOUNT, pl.Float64),
        _column(frame, RIGHT_AMOUNT, pl.Float64),
        _column(frame, LEFT_DATE, pl.Date),
        _column(frame, RIGHT_DATE, pl.Date),
    ]
    return frame.select(
        pl.lit(str(event.job_id)).alias("job_id"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + event.first_row).alias("row_no"),
        pl.col(GROUP_ID),
        pl.col(LEFT_ID),
        pl.col(RIGHT_ID),
        pl.col(RULE),
        pl.col(CONFIDENCE),
        pl.col(STATUS),
        *details,
    )


def _unmatched_rows(event: UnmatchedBatch.UnmatchedRecorded) -> pl.DataFrame:
    """An unmatched batch's rows as the staging table takes them."""
    frame = decode_rows(event.data)
    return frame.select(
        pl.lit(str(event.job_id)).alias("job_id"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + event.first_row).alias("row_no"),
        pl.col(SIDE).alias("side"),
        pl.col(UNMATCHED_ID).alias("item_id"),
        pl.col(REASON).alias("reason"),
        _column(frame, AMOUNT, pl.Float64).alias("amount"),
        _column(frame, DATE, pl.Date).alias("item_date"),
    )


def _column(frame: pl.DataFrame, name: str, dtype: type[pl.DataType]) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(dtype, strict=False)
    return pl.lit(None, dtype=dtype).alias(name)


HANDLERS: dict[type, Callable[[_Batch, Any], None]] = {
    Project.ProjectCreated: _project_created,
    Project.RulesetPublished: _ruleset_published,
    Source.SourceRegistered: _source_registered,
    Job.JobRequested: _job_requested,
    Job.JobClaimed: _job_update(
        "status = %(status)s, attempts = %(attempt)s, claimed_at = %(at)s, last_error = ''",
        status=RUNNING,
        attempt=lambda event: event.attempt,
    ),
    Job.JobCompleted: _completed,
    Job.JobFailed: _job_update(
        "status = %(status)s, failures = failures + 1, last_error = %(error)s",
        status=FAILED,
        error=lambda event: event.error,
    ),
    Job.JobRequeued: _job_update("status = %(status)s", status=REQUESTED),
    Job.JobDeadLettered: _job_update(
        "status = %(status)s, finished_at = %(at)s", status=DEAD_LETTERED
    ),
    Job.JobCancelled: _job_update("status = %(status)s, finished_at = %(at)s", status=CANCELLED),
}
ROWS: dict[type, tuple[JobTable, Callable[[Any], pl.DataFrame]]] = {
    DecisionBatch.DecisionsRecorded: (DECISIONS, _decision_rows),
    UnmatchedBatch.UnmatchedRecorded: (UNMATCHED, _unmatched_rows),
}
"""The row batches: the staging table each goes to and how its rows are read."""
