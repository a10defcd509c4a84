"""The analyst's reads of one job, over the read models (`container.results`) and the log
(`engine.analysis`): decisions, unmatched items, stats, export pages, the job as of a
moment, the proof of replay and a ruleset's diff. Each checks access to the job first."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from uuid import UUID

import polars as pl

from engine.analysis import job_as_of, rerun, ruleset_diff
from engine.domain.job import COMPLETED
from engine.domain.org import Operation
from engine.domain.review import review_id
from engine.errors import NotFoundError
from engine.matching.ruleset import parse_ruleset
from engine.tenancy import Principal
from projections.results_query import DecisionFilters, UnmatchedFilters
from tieout.bootstrap import Container


class JobReads:
    def __init__(self, container: Container) -> None:
        self.app = container.app
        self.tenancy = container.tenancy
        self.results = container.results

    def check(self, principal: Principal, job: UUID) -> None:
        """A job the caller cannot read is not found, like one that does not exist."""
        found = self.app.get_job(job)
        try:
            self.tenancy.authorize(principal, found.project_id, Operation.READ)
        except NotFoundError:
            raise NotFoundError(f"job {job} not found") from None

    def entity_tag(self, principal: Principal, job: UUID) -> str | None:
        """What a completed job's reads are derived from: its decisions hash and the version
        of its review stream, after the access check. None (no caching) while the job can
        still change, or while the read models may not hold what the tag names yet: the
        job not yet completed there, or, once reviewed, any event not yet projected."""
        self.check(principal, job)
        found = self.app.get_job(job)
        if found.status != COMPLETED or found.outcome is None:
            return None
        if self.results.job(job)["status"] != COMPLETED:
            return None  # its batches come before JobCompleted: all projected once it is
        latest = self.app.recorder.select_events(review_id(job), desc=True, limit=1)
        reviewed = latest[0].originator_version if latest else 0
        if reviewed and self.results.lag():
            return None  # the review event read above may not be in the read models yet
        return f"{found.outcome.decisions_hash}:{reviewed}"

    def decisions(
        self,
        principal: Principal,
        job: UUID,
        filters: DecisionFilters,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        self.check(principal, job)
        return self.results.decisions(job, filters, limit, cursor).as_json()

    def unmatched(
        self,
        principal: Principal,
        job: UUID,
        filters: UnmatchedFilters,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        self.check(principal, job)
        return self.results.unmatched(job, filters, limit, cursor).as_json()

    def stats(self, principal: Principal, job: UUID, as_of: date | None) -> dict[str, Any]:
        self.check(principal, job)
        return self.results.stats(job, as_of)

    def export_pages(self, principal: Principal, job: UUID, what: str) -> Iterator[pl.DataFrame]:
        self.check(principal, job)
        return self.results.export_pages(job, what)

    def history(
        self, principal: Principal, job: UUID, as_of: datetime, limit: int
    ) -> dict[str, Any]:
        self.check(principal, job)
        return job_as_of(self.app, job, as_of, limit).as_json()

    def rerun(self, principal: Principal, job: UUID) -> dict[str, Any]:
        self.check(principal, job)
        return rerun(self.app, job).as_json()

    def diff(self, principal: Principal, job: UUID, text: str, limit: int) -> dict[str, Any]:
        self.check(principal, job)
        return ruleset_diff(self.app, job, parse_ruleset(text)).as_json(limit)


def strong_etag(basis: str, representation: str) -> str:
    """A strong ETag: the job's basis and everything that shapes this answer (path, query)."""
    digest = hashlib.sha256(f"{basis}|{representation}".encode()).hexdigest()[:32]
    return f'"{digest}"'
