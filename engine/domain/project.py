"""Project: the unit of ownership, holding immutable, versioned rulesets."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta


class Project(TieoutAggregate):
    """A reconciliation project: its name and the rulesets published to it."""

    class ProjectCreated(TieoutAggregate.Created):
        name: str

    class RulesetPublished(TieoutAggregate.Event):
        version: int
        ruleset: dict[str, Any]
        digest: str

    @event(ProjectCreated)
    def __init__(self, name: str, meta: EventMeta) -> None:
        del meta  # recorded on the event, not part of the state
        self.name = name
        self.rulesets: dict[int, dict[str, Any]] = {}
        self.ruleset_digests: dict[int, str] = {}

    @property
    def latest_ruleset_version(self) -> int:
        """The newest published version, 0 when none is."""
        return max(self.rulesets, default=0)

    def version_with_digest(self, digest: str) -> int | None:
        """The version whose canonical content has this digest, if any."""
        for version, known in self.ruleset_digests.items():
            if known == digest:
                return version
        return None

    def publish_ruleset(self, ruleset: dict[str, Any], digest: str, meta: EventMeta) -> int:
        """Publish a ruleset as the next version; identical content gets its old version."""
        existing = self.version_with_digest(digest)
        if existing is not None:
            return existing
        version = self.latest_ruleset_version + 1
        self._record_ruleset(version=version, ruleset=ruleset, digest=digest, meta=meta)
        return version

    @event(RulesetPublished)
    def _record_ruleset(
        self, version: int, ruleset: dict[str, Any], digest: str, meta: EventMeta
    ) -> None:
        del meta
        self.rulesets[version] = ruleset
        self.ruleset_digests[version] = digest
