"""The Tieout application: the write side's commands over the event store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import polars as pl
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import CollectEventsProtocol
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, IntegrityError

from engine.cache import TtlCache
from engine.domain.decisions import (
    DECISIONS,
    UNMATCHED,
    DecisionBatch,
    UnmatchedBatch,
    batch_id,
)
from engine.domain.job import (
    DEAD_LETTERED,
    FAILED,
    REQUESTED,
    RUNNING,
    Job,
    JobOutcome,
    JobStateError,
    RetryPolicy,
    job_id,
)
from engine.domain.meta import EventMeta
from engine.domain.project import Project
from engine.domain.queue import QueueGuard, QueueRow
from engine.domain.source import Source, source_id
from engine.errors import BadInputError, ConflictError, NotFoundError
from engine.ingest import Upload, open_upload, store_source
from engine.matching.ruleset import Ruleset, parse_ruleset
from engine.ports import FencedRecorder, ObjectStore
from engine.worker.details import DETAIL_COLUMNS

AggregateT = TypeVar("AggregateT")
IMMUTABLE_CACHE_SIZE = 4096
RecorderBuilder = Callable[[InfrastructureFactory[Any]], ApplicationRecorder]
"""Builds the application's recorder from its infrastructure factory; the recorder must
also be a `FencedRecorder` (PostgreSQL's or the in-memory one)."""


class Tieout(Application[UUID]):
    """Projects, rulesets, sources and jobs, recorded as events.

    Job transitions and decision batches are saved through the recorder's
    `FencedRecorder.insert_fenced` with the job's queue row and lease guard, never through
    `save()`: a worker whose lease was taken over records nothing (docs/adr/0005).
    """

    name = "Tieout"  # projections.names.APPLICATION_NAME: the events table is tieout_events

    def __init__(
        self, env: dict[str, str], object_store: ObjectStore, build_recorder: RecorderBuilder
    ) -> None:
        self._build_recorder = build_recorder
        super().__init__(env)
        self.object_store = object_store
        if not isinstance(self.recorder, FencedRecorder):
            msg = f"{type(self.recorder).__name__} cannot fence leases (no insert_fenced)"
            raise TypeError(msg)
        self.fenced: FencedRecorder = self.recorder
        # Sources and published ruleset versions never change once recorded, so a process
        # keeps the ones it has read (bounded): a job request reads three of them.
        self._immutable: TtlCache[Any] = TtlCache(float("inf"), IMMUTABLE_CACHE_SIZE)

    def construct_recorder(self) -> ApplicationRecorder:
        return self._build_recorder(self.factory)

    # Projects and rulesets

    def create_project(self, name: str, meta: EventMeta) -> UUID:
        clean = name.strip()
        if not clean:
            raise BadInputError("name: must not be empty")
        project = Project(name=clean, meta=meta)
        self.save(project)
        return project.id

    def get_project(self, project_id: UUID) -> Project:
        return self._get(Project, project_id, "project")

    def publish_ruleset(self, project_id: UUID, text: str, meta: EventMeta) -> int:
        """Validate and publish a ruleset; identical content returns the existing version."""
        ruleset = parse_ruleset(text)
        canonical = ruleset.model_dump(mode="json")
        digest = hashlib.sha256(
            json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        project = self.get_project(project_id)
        version = project.publish_ruleset(canonical, digest, meta)
        self.save(project)
        return version

    def get_ruleset(self, project_id: UUID, version: int) -> Ruleset:
        found: Ruleset = self._immutable.get(
            ("ruleset", project_id, version), lambda: self._read_ruleset(project_id, version)
        )
        return found

    def _read_ruleset(self, project_id: UUID, version: int) -> Ruleset:
        project = self.get_project(project_id)
        if version not in project.rulesets:
            raise NotFoundError(f"ruleset version {version} not found in project {project_id}")
        return Ruleset.model_validate(project.rulesets[version])

    # Sources

    def register_source(self, project_id: UUID, upload: Upload, meta: EventMeta) -> UUID:
        """Store the upload once (content-addressed Parquet) and record SourceRegistered.

        The same content gives the same source id, whether it came from a file, standard
        input or an HTTP body.
        """
        self.get_project(project_id)
        stored = store_source(upload, self.object_store)
        existing = source_id(project_id, stored.content_hash)
        if self._exists(existing):
            return existing
        source = Source(
            project_id=project_id,
            name=upload.name,
            content_hash=stored.content_hash,
            file_hash=stored.file_hash,
            file_format=stored.file_format,
            row_count=stored.row_count,
            columns=stored.columns,
            location=stored.key,
            meta=meta,
        )
        self.save(source)
        return source.id

    def register_source_file(self, project_id: UUID, path: Path, meta: EventMeta) -> UUID:
        """`register_source` for a local file; the format follows its extension."""
        with open_upload(path) as upload:
            return self.register_source(project_id, upload, meta)

    def get_source(self, project_id: UUID, source: UUID) -> Source:
        """The project's source. Another project's source is not found in the very words
        of one that does not exist, so that naming it tells the caller nothing."""
        missing = NotFoundError(f"source {source} not found in project {project_id}")
        try:
            found: Source = self._immutable.get(
                ("source", source), lambda: self._get(Source, source, "source")
            )
        except NotFoundError:
            raise missing from None
        if found.project_id != project_id:
            raise missing
        return found

    # Jobs

    def request_job(
        self,
        project_id: UUID,
        left: UUID,
        right: UUID,
        ruleset_version: int,
        meta: EventMeta,
        idempotency_key: str = "",
    ) -> UUID:
        """Request a reconciliation; a repeated idempotency key returns the first job.

        A key reused with other sources or another ruleset version is a `ConflictError`:
        answering with the first job would hide that the second request was not run.
        """
        asked = (project_id, left, right, ruleset_version)
        return self.request_job_status(*asked, meta, idempotency_key)[0]

    def request_job_status(
        self,
        project_id: UUID,
        left: UUID,
        right: UUID,
        ruleset_version: int,
        meta: EventMeta,
        idempotency_key: str = "",
    ) -> tuple[UUID, str]:
        """`request_job`, and the job's status: `requested` when this call made it.

        A new key costs one write: a key used before is found by the write's conflict
        (the job's id derives from the key), not by a read ahead of every request.
        """
        candidate = job_id(project_id, idempotency_key) if idempotency_key else None
        asked = (left, right, ruleset_version)
        try:
            ruleset = self.get_ruleset(project_id, ruleset_version)
            left_source = self.get_source(project_id, left)
            right_source = self.get_source(project_id, right)
            ruleset.check_columns(_schema(left_source.columns), _schema(right_source.columns))
        except (NotFoundError, BadInputError):
            if candidate is not None and self._exists(candidate):
                return self._same_request(candidate, asked)  # the key decides first
            raise
        job = Job(
            project_id=project_id,
            left_source_id=left,
            right_source_id=right,
            ruleset_version=ruleset_version,
            idempotency_key=idempotency_key,
            meta=meta,
        )
        try:
            self.save_fenced([job], row=QueueRow.of(job))
        except IntegrityError:
            if candidate is None:
                raise
            # the key's job: requested before, or concurrently a moment earlier
            return self._same_request(candidate, asked)
        return job.id, REQUESTED

    def _same_request(self, existing: UUID, asked: tuple[UUID, UUID, int]) -> tuple[UUID, str]:
        found = self.get_job(existing)
        first = (found.left_source_id, found.right_source_id, found.ruleset_version)
        if first != asked:
            msg = (
                f"idempotency key {found.idempotency_key!r} was used for job {existing} with "
                f"sources {first[0]} and {first[1]}, ruleset {first[2]}; use another key"
            )
            raise ConflictError(msg)
        return existing, found.status

    def get_job(self, job: UUID) -> Job:
        return self._get(Job, job, "job")

    def recorded_decisions(
        self, job: UUID, *, details: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """A completed job's decisions and unmatched rows, read back from its batch streams:
        the matcher's columns, and with `details` also the amounts and dates recorded beside
        them (engine/worker/details.py)."""
        matches, unmatched = self._recorded_frames(job)
        if details:
            return matches, unmatched
        return matches.drop(DETAIL_COLUMNS, strict=False), unmatched.drop(
            DETAIL_COLUMNS, strict=False
        )

    def _recorded_frames(self, job: UUID) -> tuple[pl.DataFrame, pl.DataFrame]:
        found = self.get_job(job)
        if found.outcome is None:
            raise ConflictError(f"job {job} is {found.status}: it has no recorded decisions")
        frames = []
        for kind, count in (
            (DECISIONS, found.outcome.decision_batches),
            (UNMATCHED, found.outcome.unmatched_batches),
        ):
            batches = [self._get_batch(batch_id(found.id, kind, n)).frame() for n in range(count)]
            # diagonal: batches an earlier attempt (or engine version) recorded may lack the
            # detail columns the later ones carry; those read as null
            frames.append(pl.concat(batches, how="diagonal_relaxed") if batches else pl.DataFrame())
        return frames[0], frames[1]

    def _get_batch(self, stream: UUID) -> DecisionBatch | UnmatchedBatch:
        found: object = self.repository.get(stream)
        if not isinstance(found, DecisionBatch | UnmatchedBatch):
            raise NotFoundError(f"decision batch {stream} not found")
        return found

    def cancel_job(self, job: UUID, reason: str, meta: EventMeta) -> None:
        found = self.get_job(job)
        guard = QueueGuard(found.id, found.status)
        found.cancel(reason, meta)
        self.save_job(found, guard)

    def redrive_job(self, job: UUID, meta: EventMeta) -> None:
        """Give a dead-lettered job a fresh budget of attempts."""
        found = self.get_job(job)
        found.redrive(meta)
        self.save_job(found, QueueGuard(found.id, DEAD_LETTERED))

    # Job lifecycle, as a worker drives it

    def claim_job(
        self, job: UUID, worker: str, lease_token: str, batch_size: int, meta: EventMeta
    ) -> Job:
        found = self.get_job(job)
        found.claim(worker, lease_token, batch_size, meta)
        self.save_job(found, QueueGuard(found.id, REQUESTED, skip_locked=True))
        return found

    def complete_job(
        self, job: UUID, lease_token: str, outcome: JobOutcome, meta: EventMeta
    ) -> None:
        found = self.get_job(job)
        found.complete(lease_token, outcome, meta)
        self.save_job(found, _lease_guard(found.id, lease_token))

    def fail_job(
        self,
        job: UUID,
        lease_token: str,
        error: str,
        policy: RetryPolicy,
        meta: EventMeta,
        *,
        permanent: bool = False,
    ) -> None:
        found = self.get_job(job)
        found.fail(lease_token, error, policy, meta, permanent=permanent)
        self.save_job(found, _lease_guard(found.id, lease_token))

    def take_over_job(
        self, job: UUID, stale_for_seconds: float, policy: RetryPolicy, meta: EventMeta
    ) -> None:
        """Fail the attempt of a worker that stopped heartbeating (its lease expired)."""
        found = self.get_job(job)
        token = found.lease_token
        error = f"lease expired: {found.worker} sent no heartbeat for {stale_for_seconds:g}s"
        found.fail(token, error, policy, meta, lease_expired=True)
        guard = QueueGuard(found.id, RUNNING, token, stale_for_seconds=stale_for_seconds)
        self.save_job(found, guard)

    def release_job(self, job: UUID, lease_token: str, reason: str, meta: EventMeta) -> None:
        found = self.get_job(job)
        found.release(lease_token, reason, meta)
        self.save_job(found, _lease_guard(found.id, lease_token))

    def retry_job(self, job: UUID, meta: EventMeta) -> None:
        found = self.get_job(job)
        found.retry(meta)
        self.save_job(found, QueueGuard(found.id, FAILED))

    def save_job(self, job: Job, guard: QueueGuard) -> None:
        """Append the job's new events and update its queue row, or neither."""
        try:
            self.save_fenced([job], guard=guard, row=QueueRow.of(job))
        except IntegrityError:
            raise JobStateError(f"job {job.id} changed concurrently; try again") from None

    def save_fenced(
        self,
        aggregates: Sequence[CollectEventsProtocol],
        *,
        guard: QueueGuard | None = None,
        row: QueueRow | None = None,
    ) -> None:
        """Append the aggregates' pending events in one transaction, only while `guard`
        holds, writing `row` to the job queue with them (see `FencedRecorder`)."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        stored = [self.mapper.to_stored_event(event) for event in events]
        self.fenced.insert_fenced(stored, guard=guard, row=row)

    # Helpers

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _get(self, kind: type[AggregateT], aggregate_id: UUID, label: str) -> AggregateT:
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"{label} {aggregate_id} not found") from None
        if not isinstance(found, kind):
            raise NotFoundError(f"{label} {aggregate_id} not found")
        return found


def _lease_guard(job: UUID, lease_token: str) -> QueueGuard:
    return QueueGuard(job, RUNNING, lease_token)


def _schema(columns: list[list[str]]) -> pl.Schema:
    """Rebuild a schema from SourceRegistered's `[name, dtype]` pairs (type families only)."""
    return pl.Schema({name: _dtype(dtype) for name, dtype in columns})


def _dtype(text: str) -> pl.DataType:
    family = getattr(pl, text.split("(", 1)[0].strip(), None)
    if isinstance(family, type) and issubclass(family, pl.DataType):
        try:
            return family()
        except TypeError:  # nested types (List, Struct) need arguments we did not keep
            return pl.String()
    return pl.String()
