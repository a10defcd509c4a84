"""The analyst's questions about a job, answered from the log and the stored inputs.

- `job_as_of`: the job as it stood at a moment, rebuilt from its events (not from the read
  models, which only know the present), its review included.
- `rerun`: the proof of replay. The matcher runs again on the job's recorded inputs (by
  content hash, from the object store) with its recorded ruleset version; the decisions
  hash must come out identical, or the first differing decision is named.
- `ruleset_diff`: what a new ruleset would change on the same frozen inputs: decisions
  added, removed and changed, the counts per rule before and after, and the reviewed
  decisions it contradicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import polars as pl

from engine.application import Tieout
from engine.domain.decisions import DECISIONS, DecisionBatch, batch_id, decode_rows
from engine.domain.job import Job
from engine.errors import BadInputError, ConflictError
from engine.ingest import load_source
from engine.matching import decisions_hash, match
from engine.matching.result import MatchResult
from engine.matching.ruleset import Ruleset
from engine.matching.schemas import (
    CONFIDENCE,
    GROUP_ID,
    LEFT_ID,
    RIGHT_ID,
    RULE,
    STATUS,
)
from engine.reviews import Reviews, contradicted, review_as_of, review_summary
from engine.worker.details import DETAIL_COLUMNS

PAIR = [LEFT_ID, RIGHT_ID]
SHOWN = [GROUP_ID, LEFT_ID, RIGHT_ID, RULE, CONFIDENCE, STATUS]


@dataclass(frozen=True)
class JobAsOf:
    """A job at a moment: its state then and the decision rows recorded by then."""

    job_id: UUID
    as_of: datetime
    version: int
    status: str
    attempts: int
    failures: int
    worker: str
    last_error: str
    counts: dict[str, Any] | None
    decisions_hash: str | None
    decisions_recorded: int
    decisions: pl.DataFrame
    """The first decision rows, with the review status each had at `as_of`."""
    review: dict[str, Any]
    """The review at `as_of`: its version, groups by review status, pending actions."""

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "as_of": self.as_of.isoformat(),
            "version": self.version,
            "status": self.status,
            "attempts": self.attempts,
            "failures": self.failures,
            "worker": self.worker,
            "last_error": self.last_error,
            "counts": self.counts,
            "decisions_hash": self.decisions_hash,
            "decisions_recorded": self.decisions_recorded,
            "decisions": self.decisions.select(*SHOWN, "review_status").to_dicts(),
            "review": self.review,
        }


def job_as_of(app: Tieout, job_id: UUID, as_of: datetime, limit: int = 100) -> JobAsOf:
    """The job at `as_of`; its first `limit` decision rows recorded by then, in order."""
    events: list[Any] = list(app.events.get(job_id))
    if not events:
        app.get_job(job_id)  # the clear "not found"
    then = [event for event in events if event.timestamp <= as_of]
    if not then:
        first = events[0].timestamp.isoformat()
        raise BadInputError(f"as_of: job {job_id} did not exist yet (requested at {first})")
    found: object = app.repository.get(job_id, version=then[-1].originator_version)
    if not isinstance(found, Job):
        raise ConflictError(f"{job_id} is not a job")
    job = found
    recorded, frames, held = 0, [], 0
    number = 0
    while True:
        stored = list(app.events.get(batch_id(job_id, DECISIONS, number)))
        event = stored[0] if stored else None
        if not isinstance(event, DecisionBatch.DecisionsRecorded) or event.timestamp > as_of:
            break
        recorded += event.rows
        if held < limit:
            frame = decode_rows(event.data).drop(DETAIL_COLUMNS, strict=False)
            frames.append(frame.head(limit - held))
            held += min(frame.height, limit - held)
        number += 1
    outcome = job.outcome
    review = review_as_of(app, job_id, as_of)
    statuses = review.status if review is not None else {}
    shown = pl.concat(frames) if frames else pl.DataFrame(schema=dict.fromkeys(SHOWN, pl.String))
    shown = shown.with_columns(
        pl.col(GROUP_ID)
        .cast(pl.String)
        .replace_strict(statuses, default="none", return_dtype=pl.String)
        .alias("review_status")
    )
    return JobAsOf(
        job_id=job_id,
        as_of=as_of,
        version=job.version,
        status=job.status,
        attempts=job.attempts,
        failures=job.failures,
        worker=job.worker,
        last_error=job.last_error,
        counts=outcome.counts if outcome else None,
        decisions_hash=outcome.decisions_hash if outcome else None,
        decisions_recorded=recorded,
        decisions=shown,
        review=review_summary(review),
    )


@dataclass(frozen=True)
class Rerun:
    """The proof of replay: the recorded and recomputed hashes, and where they part."""

    job_id: UUID
    recorded_hash: str
    rerun_hash: str
    first_difference: dict[str, Any] | None

    @property
    def identical(self) -> bool:
        return self.recorded_hash == self.rerun_hash

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "identical": self.identical,
            "recorded_hash": self.recorded_hash,
            "rerun_hash": self.rerun_hash,
            "first_difference": self.first_difference,
        }


def rerun(app: Tieout, job_id: UUID) -> Rerun:
    """Re-run a completed job on its recorded inputs and ruleset; compare the hashes."""
    job, result = _match_again(app, job_id, None)
    assert job.outcome is not None  # noqa: S101 - _match_again checked it
    recorded_hash = job.outcome.decisions_hash
    again = decisions_hash(result)
    difference = None
    if again != recorded_hash:
        matches, unmatched = app.recorded_decisions(job_id)
        difference = _first_difference("decisions", matches, result.matches) or (
            _first_difference("unmatched", unmatched, result.unmatched)
        )
    return Rerun(job_id, recorded_hash, again, difference)


@dataclass(frozen=True)
class RulesetDiff:
    """What a new ruleset changes on a job's frozen inputs."""

    job_id: UUID
    added: pl.DataFrame
    removed: pl.DataFrame
    changed: pl.DataFrame
    rules_before: dict[str, int]
    rules_after: dict[str, int]
    contradicted: list[dict[str, Any]]
    """Reviewed groups the new rules contradict (engine.reviews.contradicted)."""

    def as_json(self, limit: int = 100) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "counts": {
                "added": self.added.height,
                "removed": self.removed.height,
                "changed": self.changed.height,
                "contradicted": len(self.contradicted),
            },
            "per_rule": {
                rule: {
                    "before": self.rules_before.get(rule, 0),
                    "after": self.rules_after.get(rule, 0),
                }
                for rule in sorted(set(self.rules_before) | set(self.rules_after))
            },
            "added": self.added.head(limit).to_dicts(),
            "removed": self.removed.head(limit).to_dicts(),
            "changed": self.changed.head(limit).to_dicts(),
            "contradicted": self.contradicted[:limit],
        }


def ruleset_diff(app: Tieout, job_id: UUID, ruleset: Ruleset) -> RulesetDiff:
    """Decisions added, removed and changed (rule, status or confidence) by `ruleset`."""
    _, result = _match_again(app, job_id, ruleset)
    before, _ = app.recorded_decisions(job_id)
    old = before.select(SHOWN)
    new = result.matches.select(SHOWN)
    both = old.join(new, on=PAIR, how="inner", suffix="_new", maintain_order="left")
    changed = both.filter(
        (pl.col(RULE) != pl.col(f"{RULE}_new"))
        | (pl.col(STATUS) != pl.col(f"{STATUS}_new"))
        | (pl.col(CONFIDENCE) != pl.col(f"{CONFIDENCE}_new"))
    )
    return RulesetDiff(
        job_id=job_id,
        added=new.join(old, on=PAIR, how="anti", maintain_order="left"),
        removed=old.join(new, on=PAIR, how="anti", maintain_order="left"),
        changed=changed,
        rules_before=_per_rule(old),
        rules_after=_per_rule(new),
        contradicted=contradicted(
            Reviews(app).state(job_id),
            set(new.select(PAIR).cast(pl.String).iter_rows()),
        ),
    )


def _match_again(app: Tieout, job_id: UUID, ruleset: Ruleset | None) -> tuple[Job, MatchResult]:
    job = app.get_job(job_id)
    if job.outcome is None:
        raise ConflictError(f"job {job_id} is {job.status}: it has no recorded decisions")
    left = app.get_source(job.project_id, job.left_source_id)
    right = app.get_source(job.project_id, job.right_source_id)
    left_frame = load_source(app.object_store, left.location)
    right_frame = load_source(app.object_store, right.location)
    rules = ruleset or app.get_ruleset(job.project_id, job.ruleset_version)
    return job, match(left_frame, right_frame, rules)


def _first_difference(
    kind: str, recorded: pl.DataFrame, again: pl.DataFrame
) -> dict[str, Any] | None:
    """The first row where two frames differ (or where one of them ends)."""
    columns = [name for name in recorded.columns if name in again.columns]
    common = min(recorded.height, again.height)
    a, b = recorded.select(columns).head(common), again.select(columns).head(common)
    same = pl.Series([True] * common, dtype=pl.Boolean)
    for name in columns:
        same &= a.get_column(name).eq_missing(b.get_column(name))
    differing = (~same).arg_true()
    if differing.len():
        row = int(differing[0])
        return {
            "in": kind,
            "row": row,
            "recorded": a.row(row, named=True),
            "rerun": b.row(row, named=True),
        }
    if recorded.height != again.height:
        return {
            "in": kind,
            "row": common,
            "recorded": recorded.row(common, named=True) if recorded.height > common else None,
            "rerun": again.row(common, named=True) if again.height > common else None,
        }
    return None


def _per_rule(frame: pl.DataFrame) -> dict[str, int]:
    counts = frame.group_by(RULE).len().sort(RULE)
    return dict(zip(counts.get_column(RULE).to_list(), counts.get_column("len"), strict=True))
