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

import polars as pl
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from engine.application import Tieout
from engine.domain.job import COMPLETED
from engine.domain.meta import EventMeta
from engine.domain.project import Project
from engine.domain.review import CONFIRMED, DEAD, MANUAL, MANUAL_PREFIX, Review, review_id
from engine.domain.review_baseline import LEFT, RIGHT, SUGGESTED, Baseline, Item
from engine.errors import BadInputError, ConflictError
from engine.matching.schemas import (
    CONFIDENCE,
    GROUP_ID,
    LEFT_ID,
    RIGHT_ID,
    SIDE,
    STATUS,
    UNMATCHED_ID,
)

SAVE_ATTEMPTS = 5
T = TypeVar("T")
Command = Callable[[Review, Baseline, Project], T]


@dataclass(frozen=True)
class Focus:
    """The groups and items one command names."""

    groups: frozenset[str] = frozenset()
    items: frozenset[Item] = frozenset()

    def select(
        self, decisions: pl.DataFrame, unmatched: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The rows of the recorded decisions and unmatched items the focus touches."""
        lefts = [item for side, item in self.items if side == LEFT]
        rights = [item for side, item in self.items if side == RIGHT]
        if decisions.height:
            group = pl.col(GROUP_ID).cast(pl.String)
            touched = decisions.filter(
                group.is_in(list(self.groups))
                | pl.col(LEFT_ID).cast(pl.String).is_in(lefts)
                | pl.col(RIGHT_ID).cast(pl.String).is_in(rights)
                | group.str.starts_with(MANUAL_PREFIX)
            ).get_column(GROUP_ID)
            decisions = decisions.filter(pl.col(GROUP_ID).is_in(touched.implode()))
        if unmatched.height:
            item = pl.col(UNMATCHED_ID).cast(pl.String)
            unmatched = unmatched.filter(
                ((pl.col(SIDE) == LEFT) & item.is_in(lefts))
                | ((pl.col(SIDE) == RIGHT) & item.is_in(rights))
            )
        return decisions, unmatched


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
        focus = Focus(groups=frozenset(group_ids))
        return self._act(
            job, meta, lambda r, b, _: r.confirm(b, list(group_ids), comment, meta), focus
        )

    def confirm_suggested(
        self, job: UUID, min_confidence: float, comment: str, meta: EventMeta
    ) -> tuple[str, int]:
        """Confirm every undecided suggested group at or above `min_confidence`, as a few
        batched events in one transaction; returns the action id and the groups confirmed."""
        if not 0 <= min_confidence <= 1:
            raise BadInputError(f"min-confidence: must be between 0 and 1, not {min_confidence}")

        recorded, _ = self.app.recorded_decisions(self._completed(job))
        chosen = (
            recorded.filter((pl.col(STATUS) == SUGGESTED) & (pl.col(CONFIDENCE) >= min_confidence))
            .get_column(GROUP_ID)
            .cast(pl.String)
            .unique(maintain_order=True)
            .to_list()
        )

        def command(review: Review) -> tuple[str, int]:
            undecided = [group for group in chosen if group not in review.status]
            if not undecided:
                msg = f"job {job} has no undecided suggested groups at {min_confidence} or above"
                raise ConflictError(msg)
            return review.confirm_recorded(undecided, comment, meta), len(undecided)

        return self._on_review(job, meta, command)

    def reject(self, job: UUID, group_id: str, comment: str, meta: EventMeta) -> str:
        focus = Focus(groups=frozenset([group_id]))
        return self._act(job, meta, lambda r, b, _: r.reject(b, group_id, comment, meta), focus)

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

        items = [(LEFT, item) for item in left_ids] + [(RIGHT, item) for item in right_ids]
        return self._act(job, meta, command, Focus(items=frozenset(items)))

    def unmatch(self, job: UUID, group_id: str, comment: str, meta: EventMeta) -> str:
        def command(review: Review, baseline: Baseline, project: Project) -> str:
            pending = project.needs_approval(review.group_amount(baseline, group_id))
            return review.unmatch(baseline, group_id, comment, pending, meta)

        return self._act(job, meta, command, Focus(groups=frozenset([group_id])))

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
        return self._act(job, meta, lambda r, _b, _p: r.approve(action_id, comment, meta), Focus())

    def decline(self, job: UUID, action_id: str, comment: str, meta: EventMeta) -> str:
        return self._act(job, meta, lambda r, _b, _p: r.decline(action_id, comment, meta), Focus())

    def explain(self, job: UUID, item: Item, reason: str, note: str, meta: EventMeta) -> str:
        focus = Focus(items=frozenset([item]))
        return self._act(job, meta, lambda r, b, _: r.explain(b, item, reason, note, meta), focus)

    def assign(self, job: UUID, item: Item, assignee: str, comment: str, meta: EventMeta) -> str:
        focus = Focus(items=frozenset([item]))
        return self._act(
            job, meta, lambda r, b, _: r.assign(b, item, assignee, comment, meta), focus
        )

    def comment(self, job: UUID, group_id: str, comment: str, meta: EventMeta) -> str:
        focus = Focus(groups=frozenset([group_id]))
        return self._act(
            job, meta, lambda r, b, _: r.add_comment(b, group_id, comment, meta), focus
        )

    # Reads

    def state(self, job: UUID, as_of: datetime | None = None) -> ReviewState:
        """The job's review now, or as it stood at `as_of` (from the log)."""
        return ReviewState(review_as_of(self.app, job, as_of), self.baseline(job))

    def baseline(self, job: UUID) -> Baseline:
        """The job's recorded decisions, read once per instance (they never change)."""
        if job not in self._baselines:
            matches, unmatched = self.app.recorded_decisions(self._completed(job), details=True)
            self._baselines[job] = Baseline.from_frames(matches, unmatched)
        return self._baselines[job]

    def focused(self, job: UUID, focus: Focus) -> Baseline:
        """The part of the baseline a command on `focus` needs: the groups it names or whose
        items it names (whole), those items if unmatched, and the manual-looking group ids.
        Building every group of a large job costs seconds; decoding it costs little."""
        if job in self._baselines:
            return self._baselines[job]
        matches, unmatched = self.app.recorded_decisions(self._completed(job), details=True)
        return Baseline.from_frames(*focus.select(matches, unmatched))

    def _act(
        self, job: UUID, meta: EventMeta, command: Command[T], focus: Focus | None = None
    ) -> T:
        baseline = self.baseline(job) if focus is None else self.focused(job, focus)

        def decide(review: Review) -> T:
            return command(review, baseline, self.app.get_project(review.project_id))

        return self._on_review(job, meta, decide)

    def _on_review(self, job: UUID, meta: EventMeta, decide: Callable[[Review], T]) -> T:
        """Load, decide, save; again on the new state when another reviewer saved first."""
        for _ in range(SAVE_ATTEMPTS):
            review = self._review(job, meta)
            result = decide(review)
            try:
                self.app.save(review)
            except IntegrityError:
                continue
            return result
        msg = f"job {job}: the review kept changing under this command; try again"
        raise ConflictError(msg)

    def _completed(self, job: UUID) -> UUID:
        found = self.app.get_job(job)
        if found.status != COMPLETED:
            msg = f"job {job} is {found.status}: only a completed job can be reviewed"
            raise ConflictError(msg)
        return job

    def _review(self, job: UUID, meta: EventMeta) -> Review:
        try:
            found: Any = self.app.repository.get(review_id(job))
        except AggregateNotFoundError:
            return Review(job_id=job, project_id=self.app.get_job(job).project_id, meta=meta)
        if not isinstance(found, Review):
            raise ConflictError(f"stream {review_id(job)} is not a review")
        return found


def review_as_of(app: Tieout, job: UUID, as_of: datetime | None = None) -> Review | None:
    """The job's Review with the events recorded by `as_of` (all: None); None if no one
    had reviewed the job by then."""
    stream = review_id(job)
    version = None
    if as_of is not None:
        events: list[Any] = list(app.events.get(stream))
        versions = [event.originator_version for event in events if event.timestamp <= as_of]
        if not versions:
            return None
        version = versions[-1]
    try:
        found: Any = app.repository.get(stream, version=version)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, Review) else None


def review_summary(review: Review | None) -> dict[str, Any]:
    """What replay shows of a review: its version, groups by review status, the actions
    awaiting approval and who proposed them."""
    if review is None:
        return {"version": 0, "groups": {}, "pending": []}
    counts: dict[str, int] = {}
    for status in review.status.values():
        counts[status] = counts.get(status, 0) + 1
    pending = [
        {"action_id": action, "kind": found.kind, "proposed_by": found.proposer}
        for action, found in review.pending.items()
    ]
    return {"version": review.version, "groups": counts, "pending": pending}


def contradicted(state: ReviewState, new_pairs: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Reviewed groups that a new ruleset's pairs contradict: a confirmed group it does not
    keep whole, a manual one whose items it pairs with others, a rejected or unmatched one
    it matches again."""
    review = state.review
    if review is None:
        return []
    partners: dict[tuple[str, str], set[str]] = {}
    for left, right in new_pairs:
        partners.setdefault(("left", left), set()).add(right)
        partners.setdefault(("right", right), set()).add(left)
    found = []
    for group_id, status in sorted(review.status.items()):
        group: Any = review.manual.get(group_id) or state.baseline.groups.get(group_id)
        if group is None:
            continue
        why = _contradiction(status, group.left_ids, group.right_ids, partners)
        if why:
            found.append(
                {
                    "group_id": group_id,
                    "review_status": status,
                    "left_ids": list(group.left_ids),
                    "right_ids": list(group.right_ids),
                    "why": why,
                }
            )
    return found


def _contradiction(
    status: str,
    left_ids: tuple[str, ...],
    right_ids: tuple[str, ...],
    partners: dict[tuple[str, str], set[str]],
) -> str:
    lefts, rights = set(left_ids), set(right_ids)
    found_left = [partners.get(("left", left), set()) for left in left_ids]
    found_right = [partners.get(("right", right), set()) for right in right_ids]
    if status in DEAD:
        again = any(found & rights for found in found_left)
        return "the new rules match it again" if again else ""
    if status not in {CONFIRMED, MANUAL}:
        return ""
    others = any(found - rights for found in found_left) or any(
        found - lefts for found in found_right
    )
    if others:
        return "the new rules pair its items with others"
    whole = (
        all(found >= rights for found in found_left)
        if len(lefts) == 1
        else all(found for found in found_left + found_right)
    )
    if status == CONFIRMED and not whole:
        return "the new rules leave it unmatched"
    return ""
