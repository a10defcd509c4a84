"""Job: one reconciliation of two sources under one ruleset version."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta


def job_id(project_id: UUID, idempotency_key: str) -> UUID:
    """A retried request with the same idempotency key names the same job."""
    if not idempotency_key:
        return uuid4()
    return uuid5(NAMESPACE_URL, f"tieout:job:{project_id}:{idempotency_key}")


class Job(TieoutAggregate):
    """The lifecycle of one reconciliation."""

    class JobRequested(TieoutAggregate.Created):
        project_id: UUID
        left_source_id: UUID
        right_source_id: UUID
        ruleset_version: int
        idempotency_key: str

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
        del meta
        self.project_id = project_id
        self.left_source_id = left_source_id
        self.right_source_id = right_source_id
        self.ruleset_version = ruleset_version
        self.idempotency_key = idempotency_key
        self.status = "requested"
