"""What the audit index records of one event, read generically from any event.

The projector must never stop on an event it does not know: types added after it was
written are indexed from their topic and their `meta` attribute, and a stored event that
cannot even be decoded (its class is gone, its state is damaged) becomes an
`UndecodableEvent` carrying what the log row itself says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from engine.domain.org import Organization
from engine.domain.project import Project

logger = logging.getLogger(__name__)

META_FIELDS = ("actor", "request_id", "causation")


@dataclass(frozen=True)
class AuditRow:
    """One row of `tieout_audit_index`: one event of the log."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    event_type: str
    topic: str
    actor: str
    request_id: str
    causation: str
    occurred_at: datetime | None
    project_id: UUID | None

    def as_json(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "originator_id": str(self.originator_id),
            "originator_version": self.originator_version,
            "event_type": self.event_type,
            "topic": self.topic,
            "actor": self.actor,
            "request_id": self.request_id,
            "causation": self.causation,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "project_id": str(self.project_id) if self.project_id else None,
        }


@dataclass(frozen=True)
class AuditEntry:
    """A row to write, the stream it may inherit its project from (e.g. a job's), and the
    organization it belongs to when it belongs to no project.

    An organization's own events name it as their stream, a user's or API key's first
    event names it (`org_id`), and the later events of those streams inherit it from their
    stream's first row. Events of a project are reached through the project instead.
    """

    row: AuditRow
    parent_id: UUID | None
    org_id: UUID | None = None


@dataclass(frozen=True)
class UndecodableEvent:
    """A stored event whose class cannot be found or whose state cannot be decoded."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: Mapping[str, Any]


class TolerantMapper(Mapper[UUID]):
    """The application's mapper, except that an event it cannot map is not an error."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        try:
            return super().to_domain_event(stored_event)
        except Exception:  # any failure to map must not stop the projector (logged below)
            logger.warning(
                "indexing %s v%s (%s) generically: it cannot be decoded",
                stored_event.originator_id,
                stored_event.originator_version,
                stored_event.topic,
                exc_info=True,
            )
        return UndecodableEvent(
            originator_id=UUID(str(stored_event.originator_id)),
            originator_version=stored_event.originator_version,
            topic=stored_event.topic,
            state=self._raw_state(stored_event),
        )

    def _raw_state(self, stored_event: StoredEvent) -> Mapping[str, Any]:
        """The decoded state without its class, or nothing when even that fails."""
        try:
            state = stored_event.state
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            decoded = self.transcoder.decode(state)
        except Exception:  # noqa: BLE001 - a damaged state is indexed with what is known
            return {}
        return decoded if isinstance(decoded, Mapping) else {}


def event_entry(event: DomainEventProtocol[UUID], notification_id: int) -> AuditEntry:
    """The audit row of any event, known, new or undecodable."""
    if isinstance(event, UndecodableEvent):
        topic, fields = event.topic, event.state
    else:
        topic, fields = get_topic(type(event)), getattr(event, "__dict__", {})
    meta = fields.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    occurred_at = fields.get("timestamp")
    in_project = isinstance(event, Project.Event)
    row = AuditRow(
        notification_id=notification_id,
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        event_type=event_type(topic),
        topic=topic,
        actor=_text(meta.get("actor")),
        request_id=_text(meta.get("request_id")),
        causation=_text(meta.get("causation")),
        occurred_at=occurred_at if isinstance(occurred_at, datetime) else None,
        project_id=event.originator_id if in_project else _uuid(fields, "project_id"),
    )
    in_org = isinstance(event, Organization.Event)
    org_id = event.originator_id if in_org else _uuid(fields, "org_id")
    return AuditEntry(row=row, parent_id=_uuid(fields, "job_id"), org_id=org_id)


def event_type(topic: str) -> str:
    """`engine.domain.project:Project.ProjectCreated` -> `ProjectCreated`."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _uuid(fields: Mapping[str, Any], name: str) -> UUID | None:
    value = fields.get(name)
    return value if isinstance(value, UUID) else None
