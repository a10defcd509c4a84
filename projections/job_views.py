"""Jobs as shown to people and scripts: `tieout jobs show/list`, `/api/health`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from engine.application import Tieout
from engine.domain.job import Job
from engine.errors import NotFoundError
from engine.ports import JobQueue, QueueEntry

COUNTS = ("matched", "suggested", "unmatched_left", "unmatched_right")


def job_view(app: Tieout, queue: JobQueue, job_id: UUID) -> dict[str, Any]:
    """Everything about one job: state, progress, counts, hashes and its failures."""
    job = app.get_job(job_id)
    entry = queue.entry(job_id)
    if entry is None:
        raise NotFoundError(f"job {job_id} not found")
    view = entry_view(entry)
    view.update(
        ruleset_version=job.ruleset_version,
        left_source_id=str(job.left_source_id),
        right_source_id=str(job.right_source_id),
        idempotency_key=job.idempotency_key,
        failures_history=failures(app, job),
        **outcome_view(job),
    )
    return view


def entry_view(entry: QueueEntry) -> dict[str, Any]:
    """A job's queue row: status, attempts and the progress of a running attempt."""
    age = entry.heartbeat_age_seconds
    return {
        "id": str(entry.job_id),
        "project_id": str(entry.project_id),
        "status": entry.status,
        "attempts": entry.attempts,
        "failures": entry.failures,
        "worker": entry.worker,
        "phase": entry.phase,
        "rows_processed": entry.rows_processed,
        "rows_total": entry.rows_total,
        "heartbeat_age_seconds": None if age is None else round(age, 3),
        "last_error": entry.last_error,
        "created_at": entry.created_at.isoformat(),
    }


def outcome_view(job: Job) -> dict[str, Any]:
    outcome = job.outcome
    if outcome is None:
        return {"counts": None, "decisions_hash": None, "inputs_hash": None}
    counts = {name: outcome.counts[name] for name in COUNTS}
    counts["per_rule"] = outcome.counts.get("rules", {})
    return {
        "counts": counts,
        "decisions_hash": outcome.decisions_hash,
        "inputs_hash": outcome.inputs_hash,
        "engine_version": outcome.engine_version,
        "decision_batches": outcome.decision_batches,
        "unmatched_batches": outcome.unmatched_batches,
    }


def failures(app: Tieout, job: Job) -> list[dict[str, Any]]:
    """Every failed attempt of the job, oldest first, from its event stream."""
    return [
        {
            "attempt": event.attempt,
            "error": event.error,
            "lease_expired": event.lease_expired,
            "at": event.timestamp.isoformat(),
        }
        for event in app.events.get(job.id)
        if isinstance(event, Job.JobFailed)
    ]
