"""Running one claimed job: load its inputs, match, record the result, complete."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any
from uuid import UUID

import polars as pl

from engine.application import Tieout
from engine.commitment import Signer
from engine.decision_proofs import sign_root
from engine.domain.decisions import DECISIONS, UNMATCHED
from engine.domain.job import Job, JobOutcome, LeaseLostError, RetryPolicy
from engine.domain.meta import EventMeta
from engine.domain.queue import QueueGuard
from engine.errors import BadInputError, ConflictError, NotFoundError
from engine.ingest import load_source
from engine.matching import MatchResult, decisions_hash, match
from engine.ports import JobQueue, ObjectStore
from engine.worker.details import carried_columns, detail_columns, with_details
from engine.worker.heartbeat import Lease, ShutdownRequestedError
from engine.worker.recording import Recorder
from engine.worker.roots import RootHasher

logger = logging.getLogger(__name__)
ERROR_CHARS = 2000
PERMANENT = (BadInputError,)
"""Errors that no retry can cure: the input data itself is bad (duplicate ids, a column the
ruleset needs is missing). They dead-letter the job at its first attempt."""
EXPECTED = (BadInputError, NotFoundError)
"""Failures whose message says it all, logged as one line without a traceback. A stored
object or source that is not found is retried: it may come back (a restore, a remount)."""


@dataclass(frozen=True)
class JobContext:
    """What running a job needs, shared by every job a worker runs."""

    app: Tieout
    queue: JobQueue
    store: ObjectStore
    policy: RetryPolicy
    meta: EventMeta
    on_rate: Callable[[float], None]
    """Told the matcher's rows per second after each match (a metric)."""
    signer: Signer | None = None
    """Signs the Merkle root over the decisions that JobCompleted carries."""
    roots: RootHasher = field(default_factory=RootHasher)
    """Hashes that root, a large job's in a process of its own (engine/worker/roots.py)."""


def run_claimed(context: JobContext, job: Job, lease: Lease) -> str:
    """Run a job whose lease we hold; returns how it ended for this worker."""
    app, meta = context.app, context.meta
    try:
        outcome = execute(context, job, lease)
        lease.checkpoint()
        app.complete_job(job.id, lease.token, outcome, meta)
    except LeaseLostError:
        logger.warning("job %s: lease lost; this attempt's writes are rejected", job.id)
        return "lease lost"
    except ShutdownRequestedError:
        return release(context, job, lease)
    except EXPECTED as exc:  # the reason is the whole story: no traceback
        logger.warning("job %s: attempt %s failed: %s", job.id, job.attempts, exc)
        return fail(context, job, lease, exc)
    except Exception as exc:
        logger.exception("job %s: attempt %s failed", job.id, job.attempts)
        return fail(context, job, lease, exc)
    return "completed"


def release(context: JobContext, job: Job, lease: Lease) -> str:
    """Give the job back on shutdown; if the lease went meanwhile, there is nothing to give."""
    reason = f"released by {context.meta['actor']} on shutdown"
    try:
        context.app.release_job(job.id, lease.token, reason, context.meta)
    except ConflictError:
        return "lease lost"
    return "released"


def fail(context: JobContext, job: Job, lease: Lease, exc: Exception) -> str:
    """Record the failed attempt; errors that can never succeed dead-letter at once."""
    error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
    try:
        context.app.fail_job(
            job.id,
            lease.token,
            error,
            context.policy,
            context.meta,
            permanent=isinstance(exc, PERMANENT),
        )
    except ConflictError:
        logger.warning("job %s: lease lost before the failure could be recorded", job.id)
        return "lease lost"
    return "failed"


def execute(context: JobContext, job: Job, lease: Lease) -> JobOutcome:
    app = context.app
    lease.report("loading", 0, 0)
    left_source = app.get_source(job.project_id, job.left_source_id)
    right_source = app.get_source(job.project_id, job.right_source_id)
    left = load_source(context.store, left_source.location)
    right = load_source(context.store, right_source.location)
    ruleset = app.get_ruleset(job.project_id, job.ruleset_version)
    total = left.height + right.height
    if context.signer is not None:
        context.roots.warm(max(left.height, right.height))

    def on_stage(stage: str, done: int, rules: int) -> None:
        lease.report(f"matching: {stage} ({done}/{rules} rules)", 0, total)

    details = detail_columns(ruleset, left.schema, right.schema)
    inputs = [left, right]
    del left, right  # handed over: the matcher frees them once it has its sorted copies
    started = time.perf_counter()
    result = match(
        inputs.pop(0), inputs.pop(0), ruleset, progress=on_stage, carry=carried_columns(details)
    )
    lease.report("matched", total, total)
    context.on_rate(total / max(time.perf_counter() - started, 1e-9))
    # The hashes take seconds of CPU at a million decisions; the recording mostly waits on
    # the database. So they are computed in a thread while the batches are written.
    with ThreadPoolExecutor(1, thread_name_prefix="job-hashes") as pool:
        hashes = pool.submit(_hashes, job.id, result, context.signer, context.roots)
        batches = record(context, job, lease, *with_details(result, details))
        decisions, commitment = hashes.result()
    digest = app.get_project(job.project_id).ruleset_digests[job.ruleset_version]
    hashed = f"{left_source.content_hash}:{right_source.content_hash}:{digest}"
    return JobOutcome(
        counts=result.summary(),
        inputs_hash=hashlib.sha256(hashed.encode()).hexdigest(),
        ruleset_version=job.ruleset_version,
        engine_version=version("tieout"),
        decisions_hash=decisions,
        decision_batches=batches[0],
        unmatched_batches=batches[1],
        commitment=commitment,
    )


def _hashes(
    job_id: UUID, result: MatchResult, signer: Signer | None, roots: RootHasher
) -> tuple[str, dict[str, Any]]:
    """The decisions hash and the signed commitment (none without a signer); the root is
    hashed meanwhile, in the hasher's process for a large job."""
    if signer is None:
        return decisions_hash(result), {}
    root = roots.start(result.matches)
    decisions = decisions_hash(result)
    return decisions, asdict(sign_root(job_id, *root(), signer))


def record(
    context: JobContext, job: Job, lease: Lease, matches: pl.DataFrame, unmatched: pl.DataFrame
) -> tuple[int, int]:
    """Record the decisions and unmatched rows (with their details) under the lease."""
    guard = QueueGuard(job.id, "running", lease.token)
    meta = job.for_request(context.meta)
    recorder = Recorder(context.app, context.queue, guard, job.decision_batch_size, meta)
    total = matches.height + unmatched.height
    written = 0

    def on_rows(rows: int) -> None:
        nonlocal written
        written += rows
        lease.report("recording decisions", written, total)

    batches = (
        recorder.record(DECISIONS, matches, on_rows),
        recorder.record(UNMATCHED, unmatched, on_rows),
    )
    lease.report("completing", written, total)
    return batches
