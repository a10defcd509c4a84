"""Review commands: people working a completed job's matches and open items.

Each command loads the job's Review (engine.domain.review) and its baseline (the recorded
decisions), checks, records, and saves in one transaction. Two reviewers who act at the
same moment race on the Review's version: the loser's save fails, and the command runs
again on the new state, so it either still holds (the two touched different groups) or
fails with the conflict that names the group. Nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from engine.application import Tieout
from engine.domain.job import COMPLETED
from engine.domain.meta import EventMeta
from engine.domain.project import Project
from engine.domain.review import Review, review_id
from engine.domain.review_baseline import SUGGESTED, Baseline, Item
from engine.errors import BadInputError, ConflictError

SAVE_ATTEMPTS = 5
T = TypeVar("T")
Command = Callable[[Review, Baseline, Project], T]


@dataclass(frozen=True)
class ReviewState:
    """A job's review as it stands (or stood at a version): the overlay and its baseline."""

    review: Review | None
    baseline: Baseline

    def status_of(self, group_id: str) -> str:
        return self.review.status_of(group_id) if self.review else "none"

    def counts(self) -> dict[str, int]:
        """Items by category: matched + suggested + manual + open = the job's rows."""
        counts = dict.fromkeys(("matched", "suggested", "manual", "open"), 0)
        for item in (*self.baseline.group_of, *self.baseline.unmatched):
            counts[self.category(item)] += 1
        return counts

    def category(self, item: Item) -> str:
        if self.review is not None:
            return self.review.item_category(self.baseline, item)
        if item in self.baseline.unmatched:
            return "open"
        group = self.baseline.groups[self.baseline.group_of[item]]
        return "suggested" if group.status == SUGGESTED else "matched"


def parse_threshold(text: str) -> Decimal:
    """`--four-eyes-above AMOUNT`: a non-negative decimal amount."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BadInputError(f"four-eyes-above: {text!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise BadInputError(f"four-eyes-above: must be 0 or more, not {text}")
    return value


class Reviews:
    """The review commands over the application's event store."""

    def __init__(self, app: Tieout) -> None:
        self.app = app
        self._baselines: dict[UUID, Baseline] = {}

    # Project settings

    def configure_four_eyes(self, project_id: UUID, above: Decimal | None, meta: EventMeta) -> bool:
        """Set (or with None, turn off) the four-eyes threshold; False when unchanged."""
        project = self.app.get_project(project_id)
        if project.four_eyes_above == above:
            return False
        project.configure_four_eyes(above, meta)
        self.app.save(project)
        return True

    # Commands: each returns the id of the action it recorded

    def confirm(self, job: UUID, group_ids: Sequence[str], comment: str, meta: EventMeta) -> str:
        if not group_ids:
            raise BadInputError("group: name at least one group to confirm")
        return self._act(job, meta, lambda r, b, _: r.confirm(b, list(group_ids), comment, meta))

    def confirm_suggested(
        self, job: UUID, min_confidence: float, comment: str, meta: EventMeta
    ) -> tuple[str, int]:
        """Confirm every undecided suggested group at or above `min_confidence`, as a few
        batched events in one transaction; returns the action id and the groups confirmed."""
        if not 0 <= min_confidence <= 1:
            raise BadInputError(f"min-confidence: must be between 0 and 1, not {min_confidence}")

        def command(review: Review, baseline: Baseline, _: Project) -> tuple[str, int]:
            chosen = [
                group.group_id
                for group in baseline.groups.values()
                if group.status == SUGGESTED
                and group.confidence >= min_confidence
                and review.status_of(group.group_id) == "none"
            ]
            if not chosen:
                msg = f"job {job} has no undecided suggested groups at {min_confidence} or above"
                raise ConflictError(msg)
            return review.confirm(baseline, chosen, comment, meta), len(chosen)

        return self._act(job, meta, command)

    def reject(self, job: UUID, group_id: str, comment: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, b, _: r.reject(b, group_id, comment, meta))

    def match(
        self,
        job: UUID,
        left_ids: Sequence[str],
        right_ids: Sequence[str],
        comment: str,
        meta: EventMeta,
    ) -> str:
        def command(review: Review, baseline: Baseline, project: Project) -> str:
            amount = review.manual_amount(baseline, left_ids, right_ids)
            pending = project.needs_approval(amount)
            return review.match(baseline, left_ids, right_ids, comment, pending, meta)

        return self._act(job, meta, command)

    def unmatch(self, job: UUID, group_id: str, comment: str, meta: EventMeta) -> str:
        def command(review: Review, baseline: Baseline, project: Project) -> str:
            pending = project.needs_approval(review.group_amount(baseline, group_id))
            return review.unmatch(baseline, group_id, comment, pending, meta)

        return self._act(job, meta, command)

    def revert_auto(self, job: UUID, rule: str | None, comment: str, meta: EventMeta) -> str:
        """Undo the job's undecided automatic matches (of `rule`); the four-eyes threshold
        weighs the total amount of the groups it undoes."""

        def command(review: Review, baseline: Baseline, project: Project) -> str:
            groups = review.automatic_groups(baseline, rule)
            total = sum(baseline.groups[group].amount for group in groups)
            pending = project.needs_approval(total)
            return review.revert_auto(baseline, rule, comment, pending, meta)

        return self._act(job, meta, command)

    def approve(self, job: UUID, action_id: str, comment: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, _b, _p: r.approve(action_id, comment, meta))

    def decline(self, job: UUID, action_id: str, comment: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, _b, _p: r.decline(action_id, comment, meta))

    def explain(self, job: UUID, item: Item, reason: str, note: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, b, _: r.explain(b, item, reason, note, meta))

    def assign(self, job: UUID, item: Item, assignee: str, comment: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, b, _: r.assign(b, item, assignee, comment, meta))

    def comment(self, job: UUID, group_id: str, comment: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, b, _: r.add_comment(b, group_id, comment, meta))

    # Reads

    def state(self, job: UUID, as_of: datetime | None = None) -> ReviewState:
        """The job's review now, or as it stood at `as_of` (from the log)."""
        baseline = self.baseline(job)
        stream = review_id(job)
        version = None
        if as_of is not None:
            events: list[Any] = list(self.app.events.get(stream))
            versions = [event.originator_version for event in events if event.timestamp <= as_of]
            if not versions:
                return ReviewState(None, baseline)
            version = versions[-1]
        try:
            found: Any = self.app.repository.get(stream, version=version)
        except AggregateNotFoundError:
            return ReviewState(None, baseline)
        return ReviewState(found if isinstance(found, Review) else None, baseline)

    def baseline(self, job: UUID) -> Baseline:
        """The job's recorded decisions, read once per instance (they never change)."""
        if job not in self._baselines:
            found = self.app.get_job(job)
            if found.status != COMPLETED:
                msg = f"job {job} is {found.status}: only a completed job can be reviewed"
                raise ConflictError(msg)
            matches, unmatched = self.app.recorded_decisions(job, details=True)
            self._baselines[job] = Baseline.from_frames(matches, unmatched)
        return self._baselines[job]

    def _act(self, job: UUID, meta: EventMeta, command: Command[T]) -> T:
        baseline = self.baseline(job)
        for _ in range(SAVE_ATTEMPTS):
            review = self._review(job, meta)
            project = self.app.get_project(review.project_id)
            result = command(review, baseline, project)
            try:
                self.app.save(review)
            except IntegrityError:
                continue  # another reviewer saved first: decide again on the new state
            return result
        msg = f"job {job}: the review kept changing under this command; try again"
        raise ConflictError(msg)

    def _review(self, job: UUID, meta: EventMeta) -> Review:
        try:
            found: Any = self.app.repository.get(review_id(job))
        except AggregateNotFoundError:
            return Review(job_id=job, project_id=self.app.get_job(job).project_id, meta=meta)
        if not isinstance(found, Review):
            raise ConflictError(f"stream {review_id(job)} is not a review")
        return found
