"""Project: the unit of ownership, holding immutable, versioned rulesets."""

from __future__ import annotations

from decimal import Decimal
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

    class FourEyesConfigured(TieoutAggregate.Event):
        above: Decimal | None
        """Review actions weighing more than this need a second person (0: every one);
        None: four-eyes approval is off."""

    @event(ProjectCreated)
    def __init__(self, name: str, meta: EventMeta) -> None:
        del meta  # recorded on the event, not part of the state
        self.name = name
        self.rulesets: dict[int, dict[str, Any]] = {}
        self.ruleset_digests: dict[int, str] = {}
        self.four_eyes_above: Decimal | None = None

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

    def needs_approval(self, amount: float) -> bool:
        """Whether a review action of this amount needs a second person's approval."""
        above = self.four_eyes_above
        return above is not None and (above == 0 or Decimal(repr(abs(amount))) > above)

    @event(FourEyesConfigured)
    def configure_four_eyes(self, above: Decimal | None, meta: EventMeta) -> None:
        del meta
        self.four_eyes_above = above
