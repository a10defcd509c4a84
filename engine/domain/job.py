"""Job: one reconciliation of two sources under one ruleset version, and its lifecycle.

requested -> running (claimed under a lease) -> completed
                     -> failed (retried after a backoff) -> requested ...
                     -> failed + dead_lettered (attempts exhausted, or an error that can
                        never succeed) -> requested again only by an operator's redrive
any state but completed/cancelled -> cancelled (by a user)

The events a worker records for a job (claims, failures, retries, completion, and the
decision batches recorded beside them) carry the request id of the request that asked for
the job (`for_request`), so an auditor finds everything one API request caused by its id.

Decisions are not recorded on this stream (see engine.domain.decisions), so commands on a
job never decode them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta, on_behalf_of
from engine.errors import ConflictError

REQUESTED = "requested"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
DEAD_LETTERED = "dead_lettered"
CANCELLED = "cancelled"
STATUSES = (REQUESTED, RUNNING, COMPLETED, FAILED, DEAD_LETTERED, CANCELLED)
FINAL = frozenset({COMPLETED, CANCELLED})
"""No command changes a job in these states. A dead letter changes only by redrive."""
ENDED = frozenset({COMPLETED, CANCELLED, DEAD_LETTERED})
"""States in which no worker will touch the job again on its own."""
PERMANENT_ERROR = "permanent error"
"""The dead-letter reason of a job whose input can never succeed (no retry was made)."""


class LeaseLostError(ConflictError):
    """The worker's lease was taken over (or the job cancelled): its write is rejected."""


class JobStateError(ConflictError):
    """The command does not apply to the job's current state."""


def job_id(project_id: UUID, idempotency_key: str) -> UUID:
    """A retried request with the same idempotency key names the same job."""
    if not idempotency_key:
        return uuid4()
    return uuid5(NAMESPACE_URL, f"tieout:job:{project_id}:{idempotency_key}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failed job is retried (TIEOUT_MAX_ATTEMPTS, ..._BACKOFF_*)."""

    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float

    def delay(self, failures: int) -> float:
        """Exponential backoff: base, 2*base, 4*base ... capped."""
        growth = float(2 ** max(failures - 1, 0))
        return min(self.backoff_seconds * growth, self.backoff_max_seconds)


@dataclass(frozen=True)
class JobOutcome:
    """What a completed job records: counts, and the hashes that let a replay prove itself."""

    counts: dict[str, Any]
    inputs_hash: str
    ruleset_version: int
    engine_version: str
    decisions_hash: str
    decision_batches: int
    unmatched_batches: int
    commitment: dict[str, Any] = field(default_factory=dict)
    """The signed Merkle root over the decisions (engine/decision_proofs.py); empty for jobs
    completed before commitments existed."""


class Job(TieoutAggregate):
    """The lifecycle of one reconciliation."""

    class JobRequested(TieoutAggregate.Created):
        project_id: UUID
        left_source_id: UUID
        right_source_id: UUID
        ruleset_version: int
        idempotency_key: str

    class JobClaimed(TieoutAggregate.Event):
        worker: str
        lease_token: str
        attempt: int
        decision_batch_size: int

    class JobCompleted(TieoutAggregate.Event):
        """Version 2 added `commitment`: root, leaves, key and signature over the decisions."""

        class_version = 2

        lease_token: str
        counts: dict[str, Any]
        inputs_hash: str
        ruleset_version: int
        engine_version: str
        decisions_hash: str
        decision_batches: int
        unmatched_batches: int
        commitment: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["commitment"] = {}

    class JobFailed(TieoutAggregate.Event):
        error: str
        attempt: int
        lease_expired: bool
        retry_in_seconds: float

    class JobRequeued(TieoutAggregate.Event):
        reason: str

    class JobDeadLettered(TieoutAggregate.Event):
        reason: str

    class JobCancelled(TieoutAggregate.Event):
        reason: str

    @staticmethod
    def create_id(project_id: UUID, idempotency_key: str) -> UUID:
        return job_id(project_id, idempotency_key)

    @event(JobRequested)
    def __init__(
        self,
        project_id: UUID,
        left_source_id: UUID,
        right_source_id: UUID,
        ruleset_version: int,
        idempotency_key: str,
        meta: EventMeta,
    ) -> None:
        self.request_id = meta.get("request_id", "")
        """The X-Request-ID of the request that asked for the job (empty from the CLI)."""
        self.project_id = project_id
        self.left_source_id = left_source_id
        self.right_source_id = right_source_id
        self.ruleset_version = ruleset_version
        self.idempotency_key = idempotency_key
        self.status = REQUESTED
        self.attempts = 0
        self.failures = 0
        self.failures_before_redrive = 0
        self.takeovers = 0
        self.dead_letters = 0
        self.lease_token = ""
        self.worker = ""
        self.last_error = ""
        self.dead_letter_reason = ""
        self.retry_in_seconds = 0.0
        self.decision_batch_size = 0
        self.outcome: JobOutcome | None = None

    def for_request(self, meta: EventMeta) -> EventMeta:
        """The metadata of work done for the job's request: `meta`'s actor and causation,
        the requesting request's id (unless `meta` names a request of its own)."""
        return on_behalf_of(meta, self.request_id)

    # Commands. Each checks its precondition, then records one or two events. The worker's
    # commands (claim, complete, fail, release, retry) record `for_request(meta)`.

    def claim(self, worker: str, lease_token: str, batch_size: int, meta: EventMeta) -> None:
        """Take the job under a new lease. The first claim fixes the decision batch size,
        so that every retry cuts the same batches whatever the worker's setting."""
        self._require(REQUESTED, "claim")
        self._claimed(
            worker=worker,
            lease_token=lease_token,
            attempt=self.attempts + 1,
            decision_batch_size=self.decision_batch_size or batch_size,
            meta=self.for_request(meta),
        )

    def complete(self, lease_token: str, outcome: JobOutcome, meta: EventMeta) -> None:
        self.check_lease(lease_token)
        self._completed(
            lease_token=lease_token,
            counts=outcome.counts,
            inputs_hash=outcome.inputs_hash,
            ruleset_version=outcome.ruleset_version,
            engine_version=outcome.engine_version,
            decisions_hash=outcome.decisions_hash,
            decision_batches=outcome.decision_batches,
            unmatched_batches=outcome.unmatched_batches,
            commitment=outcome.commitment,
            meta=self.for_request(meta),
        )

    def fail(
        self,
        lease_token: str,
        error: str,
        policy: RetryPolicy,
        meta: EventMeta,
        *,
        permanent: bool = False,
        lease_expired: bool = False,
    ) -> None:
        """Record a failed attempt; dead-letter when attempts are exhausted or it can't work."""
        self.check_lease(lease_token)
        meta = self.for_request(meta)
        failures = self.failures - self.failures_before_redrive + 1
        exhausted = permanent or failures >= policy.max_attempts
        delay = 0.0 if exhausted else policy.delay(failures)
        self._failed(
            error=error,
            attempt=self.attempts,
            lease_expired=lease_expired,
            retry_in_seconds=delay,
            meta=meta,
        )
        if exhausted:
            reason = PERMANENT_ERROR if permanent else f"{failures} failed attempts"
            self._dead_lettered(reason=reason, meta=meta)

    def release(self, lease_token: str, reason: str, meta: EventMeta) -> None:
        """Give the job back without counting a failure (a worker shutting down)."""
        self.check_lease(lease_token)
        self._requeued(reason=reason, meta=self.for_request(meta))

    def retry(self, meta: EventMeta) -> None:
        self._require(FAILED, "retry")
        self._requeued(reason=f"retry after: {self.last_error}", meta=self.for_request(meta))

    def redrive(self, meta: EventMeta) -> None:
        self._require(DEAD_LETTERED, "redrive")
        self._requeued(reason="redriven by an operator", meta=meta)

    def cancel(self, reason: str, meta: EventMeta) -> None:
        if self.status in FINAL:
            raise JobStateError(f"job {self.id} is {self.status}: cannot cancel")
        self._cancelled(reason=reason, meta=meta)

    def check_lease(self, lease_token: str) -> None:
        if self.status != RUNNING or self.lease_token != lease_token:
            raise LeaseLostError(f"job {self.id}: lease {lease_token} is no longer held")

    def _require(self, status: str, command: str) -> None:
        if self.status != status:
            raise JobStateError(f"job {self.id} is {self.status}: cannot {command}")

    # Events: how each one changes the state.

    @event(JobClaimed)
    def _claimed(
        self,
        worker: str,
        lease_token: str,
        attempt: int,
        decision_batch_size: int,
        meta: EventMeta,
    ) -> None:
        del meta
        self.decision_batch_size = decision_batch_size
        self.status = RUNNING
        self.worker = worker
        self.lease_token = lease_token
        self.attempts = attempt

    @event(JobCompleted)
    def _completed(
        self,
        lease_token: str,
        counts: dict[str, Any],
        inputs_hash: str,
        ruleset_version: int,
        engine_version: str,
        decisions_hash: str,
        decision_batches: int,
        unmatched_batches: int,
        commitment: dict[str, Any],
        meta: EventMeta,
    ) -> None:
        del lease_token, meta
        self.status = COMPLETED
        self.lease_token = ""
        self.outcome = JobOutcome(
            counts=counts,
            inputs_hash=inputs_hash,
            ruleset_version=ruleset_version,
            engine_version=engine_version,
            decisions_hash=decisions_hash,
            decision_batches=decision_batches,
            unmatched_batches=unmatched_batches,
            commitment=commitment,
        )

    @event(JobFailed)
    def _failed(
        self,
        error: str,
        attempt: int,
        lease_expired: bool,
        retry_in_seconds: float,
        meta: EventMeta,
    ) -> None:
        del attempt, meta
        self.status = FAILED
        self.lease_token = ""
        self.failures += 1
        self.takeovers += int(lease_expired)
        self.last_error = error
        self.retry_in_seconds = retry_in_seconds

    @event(JobRequeued)
    def _requeued(self, reason: str, meta: EventMeta) -> None:
        del reason, meta
        if self.status == DEAD_LETTERED:
            self.failures_before_redrive = self.failures
        self.status = REQUESTED
        self.lease_token = ""
        self.retry_in_seconds = 0.0

    @event(JobDeadLettered)
    def _dead_lettered(self, reason: str, meta: EventMeta) -> None:
        del meta
        self.status = DEAD_LETTERED
        self.dead_letter_reason = reason
        self.dead_letters += 1

    @event(JobCancelled)
    def _cancelled(self, reason: str, meta: EventMeta) -> None:
        del reason, meta
        self.status = CANCELLED
        self.lease_token = ""
