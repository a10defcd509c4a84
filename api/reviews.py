"""The review workflow through the API: the queue, decisions on groups, manual matches,
reverting automatic matches, approvals and explanations of open items. Each command checks
that the caller may write in the job's project, then makes one `engine.reviews` call;
a concurrent decision on the same group is the domain's ConflictError (409)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from engine.domain.meta import EventMeta
from engine.domain.org import Operation
from engine.errors import NotFoundError
from engine.reviews import Reviews
from engine.tenancy import Principal
from tieout.bootstrap import Container


class JobReviews:
    def __init__(self, container: Container) -> None:
        self.app = container.app
        self.tenancy = container.tenancy
        self.results = container.results
        self.reviews = Reviews(container.app)

    def check(self, principal: Principal, job: UUID, operation: Operation) -> None:
        found = self.app.get_job(job)
        try:
            self.tenancy.authorize(principal, found.project_id, operation)
        except NotFoundError:
            raise NotFoundError(f"job {job} not found") from None

    def queue(
        self, principal: Principal, job: UUID, order: str, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        self.check(principal, job, Operation.READ)
        return self.results.review_queue(job, order, limit, cursor).as_json()

    def confirm(
        self, principal: Principal, job: UUID, group: str, comment: str, meta: EventMeta
    ) -> str:
        self.check(principal, job, Operation.WRITE)
        return self.reviews.confirm(job, [group], comment, meta)

    def reject(
        self, principal: Principal, job: UUID, group: str, comment: str, meta: EventMeta
    ) -> str:
        self.check(principal, job, Operation.WRITE)
        return self.reviews.reject(job, group, comment, meta)

    def unmatch(
        self, principal: Principal, job: UUID, group: str, comment: str, meta: EventMeta
    ) -> str:
        self.check(principal, job, Operation.WRITE)
        return self.reviews.unmatch(job, group, comment, meta)

    def match(
        self,
        principal: Principal,
        job: UUID,
        ids: tuple[list[str], list[str]],
        comment: str,
        meta: EventMeta,
    ) -> str:
        self.check(principal, job, Operation.WRITE)
        return self.reviews.match(job, ids[0], ids[1], comment, meta)

    def revert_auto(
        self, principal: Principal, job: UUID, rule: str | None, comment: str, meta: EventMeta
    ) -> str:
        self.check(principal, job, Operation.WRITE)
        return self.reviews.revert_auto(job, rule, comment, meta)

    def settle(
        self,
        principal: Principal,
        job: UUID,
        action: str,
        verdict: str,
        comment: str,
        meta: EventMeta,
    ) -> str:
        """Approve or decline a pending action (never by its proposer)."""
        self.check(principal, job, Operation.WRITE)
        if verdict == "approve":
            return self.reviews.approve(job, action, comment, meta)
        return self.reviews.decline(job, action, comment, meta)

    def explain(
        self,
        principal: Principal,
        job: UUID,
        item: tuple[str, str],
        reason: str,
        note: str,
        meta: EventMeta,
    ) -> str:
        self.check(principal, job, Operation.WRITE)
        return self.reviews.explain(job, item, reason, note, meta)
