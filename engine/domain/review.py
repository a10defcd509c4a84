"""Review: what people decided about one job's matches and open items, after the matcher.

One Review stream per job (`uuid5(job, "review")`, docs/adr/0010). Its events overlay the
job's recorded decisions (engine.domain.review_baseline), which stay as the worker wrote
them. A group's review status:

    none -> confirmed                       (confirm: matched or suggested)
    none -> rejected                        (reject: suggested only; its items reopen)
    none | confirmed | manual -> unmatched  (unmatch, revert-auto; its items reopen)
    (new) -> manual                         (a manual match of open items)

An action above the project's four-eyes threshold (a manual match, an unmatch, a revert)
is first `pending_approval`: its group is locked until someone other than its proposer
approves it (the action takes effect) or anyone declines it (a declined manual match is
`rejected`, a declined unmatch or revert leaves its groups as they were).

Rules: an item is in at most one live group; a manual match takes only open items of the
job; a decided group is not decided again. Each command checks, then records its events;
the errors live beside the aggregate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta
from engine.domain.review_baseline import (
    LEFT,
    MATCHED,
    RIGHT,
    SIDES,
    SUGGESTED,
    Baseline,
    Group,
    Item,
)
from engine.errors import BadInputError, ConflictError, NotFoundError

NONE = "none"
CONFIRMED = "confirmed"
REJECTED = "rejected"
PENDING = "pending_approval"
MANUAL = "manual"
UNMATCHED = "unmatched"
REVIEW_STATUSES = (NONE, CONFIRMED, REJECTED, PENDING, MANUAL, UNMATCHED)
DEAD = frozenset({REJECTED, UNMATCHED})
"""A group in these states holds no items: they are open again."""

MANUAL_MATCH, UNMATCH, REVERT_AUTO = "manual_match", "unmatch", "revert_auto"
MANUAL_PREFIX = "manual-"
"""Manual groups are `manual-1`, `manual-2`, ... (skipping a recorded group's id)."""
REASON_CODES = ("timing", "bank_error", "missing_entry", "duplicate", "write_off", "other")
CONFIRM_BATCH = 5_000
"""Group ids per MatchConfirmed event: a bulk confirmation is a few events, one save."""


class ReviewConflictError(ConflictError):
    """The command contradicts the review's state: the message names the group or item."""


class SelfApprovalError(ConflictError):
    """The proposer of an action tried to approve it: four eyes means two people."""


def review_id(job_id: UUID) -> UUID:
    return uuid5(job_id, "review")


def new_action_id() -> str:
    return str(uuid4())


class ReviewAction(TieoutAggregate.Event):
    """Every review event names its job, its action (what `approve` refers to) and the
    comment given with it (empty when none was)."""

    job_id: UUID
    action_id: str
    comment: str


@dataclass(frozen=True)
class ManualGroup:
    left_ids: tuple[str, ...]
    right_ids: tuple[str, ...]
    amount: float
    difference: float

    def items(self) -> Iterator[Item]:
        yield from ((LEFT, left) for left in self.left_ids)
        yield from ((RIGHT, right) for right in self.right_ids)


@dataclass(frozen=True)
class Pending:
    """An action awaiting a second person, and the statuses its groups had before it."""

    kind: str
    proposer: str
    group_ids: tuple[str, ...]
    before: dict[str, str]


@dataclass(frozen=True)
class Explanation:
    reason: str
    note: str
    actor: str


class Review(TieoutAggregate):
    """The review of one completed job."""

    class ReviewOpened(TieoutAggregate.Created):
        job_id: UUID
        project_id: UUID

    class MatchConfirmed(ReviewAction):
        group_ids: list[str]

    class MatchRejected(ReviewAction):
        group_ids: list[str]

    class ManualMatchCreated(ReviewAction):
        group_id: str
        left_ids: list[str]
        right_ids: list[str]
        amount: float
        difference: float
        pending: bool

    class MatchUnmatched(ReviewAction):
        group_id: str
        amount: float
        pending: bool

    class AutoMatchesReverted(ReviewAction):
        rule: str
        group_ids: list[str]
        amount: float
        pending: bool

    class CommentAdded(ReviewAction):
        group_id: str

    class ExceptionExplained(ReviewAction):
        side: str
        item_id: str
        reason: str
        note: str

    class ItemAssigned(ReviewAction):
        side: str
        item_id: str
        assignee: str

    class ReviewApproved(ReviewAction):
        approved_action: str
        kind: str
        group_ids: list[str]

    class ReviewDeclined(ReviewAction):
        declined_action: str
        kind: str
        restored: dict[str, str]
        """Each group of the declined action and the review status it returns to."""

    @staticmethod
    def create_id(job_id: UUID, project_id: UUID) -> UUID:
        del project_id
        return review_id(job_id)

    @event(ReviewOpened)
    def __init__(self, job_id: UUID, project_id: UUID, meta: EventMeta) -> None:
        del meta
        self.job_id = job_id
        self.project_id = project_id
        self.status: dict[str, str] = {}
        self.manual: dict[str, ManualGroup] = {}
        self.held: dict[Item, str] = {}
        self.pending: dict[str, Pending] = {}
        self.settled: dict[str, str] = {}
        self.explained: dict[Item, Explanation] = {}
        self.assigned: dict[Item, str] = {}
        self.comments = 0

    # Queries over the baseline and this overlay

    def status_of(self, group_id: str) -> str:
        return self.status.get(group_id, NONE)

    def is_live(self, baseline: Baseline, group_id: str) -> bool:
        known = group_id in baseline.groups or group_id in self.manual
        return known and self.status_of(group_id) not in DEAD

    def group_holding(self, baseline: Baseline, item: Item) -> str | None:
        """The live group the item is in; None when the item is open."""
        held = self.held.get(item)
        if held is not None:
            return held
        recorded = baseline.group_of.get(item)
        if recorded is not None and self.is_live(baseline, recorded):
            return recorded
        return None

    def item_category(self, baseline: Baseline, item: Item) -> str:
        """matched, suggested, manual or open: the counts of a job add up to its rows."""
        group = self.group_holding(baseline, item)
        if group is None:
            return "open"
        if group in self.manual:
            return MANUAL
        if baseline.groups[group].status == SUGGESTED and self.status_of(group) == NONE:
            return SUGGESTED
        return MATCHED

    def open_items(self, baseline: Baseline) -> Iterator[Item]:
        yield from (item for item in baseline.unmatched if item not in self.held)
        for group_id, status in self.status.items():
            recorded = baseline.groups.get(group_id)
            if status in DEAD and recorded is not None:
                yield from (item for item in recorded.items() if item not in self.held)

    # Commands

    def confirm(
        self, baseline: Baseline, group_ids: Sequence[str], comment: str, meta: EventMeta
    ) -> str:
        """Confirm matched or suggested groups nobody has decided yet."""
        for group_id in group_ids:
            self._check_undecided(baseline, group_id, "confirmed")
        return self.confirm_recorded(group_ids, comment, meta)

    def confirm_recorded(self, group_ids: Sequence[str], comment: str, meta: EventMeta) -> str:
        """Confirm groups read from the job's recorded decisions (so they exist and are not
        manual) that nobody has decided yet: the bulk path, which need not build the whole
        baseline to check them."""
        if len(set(group_ids)) != len(group_ids):
            raise BadInputError("group: the same group is named twice")
        for group_id in group_ids:
            status = self.status.get(group_id, NONE)
            if status != NONE:
                msg = f"group {group_id} is already {status}: it cannot be confirmed"
                raise ReviewConflictError(msg)
        action = new_action_id()
        for start in range(0, len(group_ids), CONFIRM_BATCH):
            chunk = list(group_ids[start : start + CONFIRM_BATCH])
            self._confirmed(
                job_id=self.job_id, action_id=action, comment=comment, group_ids=chunk, meta=meta
            )
        return action

    def reject(self, baseline: Baseline, group_id: str, comment: str, meta: EventMeta) -> str:
        """Reject a suggested group: its items are open again."""
        recorded = self._check_undecided(baseline, group_id, "rejected")
        if recorded.status != SUGGESTED:
            msg = f"group {group_id} was matched automatically: unmatch it instead of rejecting"
            raise ReviewConflictError(msg)
        action = new_action_id()
        self._rejected(
            job_id=self.job_id, action_id=action, comment=comment, group_ids=[group_id], meta=meta
        )
        return action

    def match(
        self,
        baseline: Baseline,
        left_ids: Sequence[str],
        right_ids: Sequence[str],
        comment: str,
        needs_approval: bool,
        meta: EventMeta,
    ) -> str:
        """Match open items by hand, any number on each side."""
        items = self._check_open_items(baseline, left_ids, right_ids)
        totals = dict.fromkeys(SIDES, 0.0)
        for side, item_id in items:
            totals[side] += baseline.amount_of((side, item_id)) or 0.0
        action = new_action_id()
        self._manual_matched(
            job_id=self.job_id,
            action_id=action,
            comment=comment,
            group_id=self._next_manual_id(baseline),
            left_ids=list(left_ids),
            right_ids=list(right_ids),
            amount=max(abs(totals[LEFT]), abs(totals[RIGHT])),
            difference=round(totals[LEFT] - totals[RIGHT], 10),
            pending=needs_approval,
            meta=meta,
        )
        return action

    def manual_amount(
        self, baseline: Baseline, left_ids: Sequence[str], right_ids: Sequence[str]
    ) -> float:
        """What a manual match of these ids would weigh against the four-eyes threshold."""
        left = sum(baseline.amount_of((LEFT, item)) or 0.0 for item in left_ids)
        right = sum(baseline.amount_of((RIGHT, item)) or 0.0 for item in right_ids)
        return max(abs(left), abs(right))

    def group_amount(self, baseline: Baseline, group_id: str) -> float:
        if group_id in self.manual:
            return self.manual[group_id].amount
        recorded = baseline.groups.get(group_id)
        return recorded.amount if recorded is not None else 0.0

    def unmatch(
        self,
        baseline: Baseline,
        group_id: str,
        comment: str,
        needs_approval: bool,
        meta: EventMeta,
    ) -> str:
        """Undo a matched, confirmed or manual group: its items are open again."""
        self._check_undoable(baseline, group_id)
        action = new_action_id()
        self._unmatched(
            job_id=self.job_id,
            action_id=action,
            comment=comment,
            group_id=group_id,
            amount=self.group_amount(baseline, group_id),
            pending=needs_approval,
            meta=meta,
        )
        return action

    def automatic_groups(self, baseline: Baseline, rule: str | None) -> list[str]:
        """Automatic matches nobody has decided, of one rule or of all."""
        if rule is not None and all(group.rule != rule for group in baseline.groups.values()):
            raise BadInputError(f"rule: {rule!r} decided nothing in job {self.job_id}")
        return [
            group.group_id
            for group in baseline.groups.values()
            if group.status == MATCHED
            and (rule is None or group.rule == rule)
            and self.status_of(group.group_id) == NONE
        ]

    def revert_auto(
        self,
        baseline: Baseline,
        rule: str | None,
        comment: str,
        needs_approval: bool,
        meta: EventMeta,
    ) -> str:
        """Undo every automatic match nobody has decided yet (of `rule`, or all)."""
        groups = self.automatic_groups(baseline, rule)
        if not groups:
            scope = f"of rule {rule} " if rule else ""
            msg = f"job {self.job_id} has no undecided automatic matches {scope}to revert"
            raise ReviewConflictError(msg)
        action = new_action_id()
        self._reverted(
            job_id=self.job_id,
            action_id=action,
            comment=comment,
            rule=rule or "",
            group_ids=groups,
            amount=sum(baseline.groups[group].amount for group in groups),
            pending=needs_approval,
            meta=meta,
        )
        return action

    def approve(self, action_id: str, comment: str, meta: EventMeta) -> str:
        """Let a pending action take effect; never by its proposer."""
        pending = self._check_pending(action_id)
        if pending.proposer == meta["actor"]:
            msg = f"action {action_id}: {meta['actor']} proposed it and cannot approve it"
            raise SelfApprovalError(msg)
        action = new_action_id()
        self._approved(
            job_id=self.job_id,
            action_id=action,
            comment=comment,
            approved_action=action_id,
            kind=pending.kind,
            group_ids=list(pending.group_ids),
            meta=meta,
        )
        return action

    def decline(self, action_id: str, comment: str, meta: EventMeta) -> str:
        """Refuse a pending action (its proposer may withdraw it): nothing it asked happens."""
        pending = self._check_pending(action_id)
        action = new_action_id()
        self._declined(
            job_id=self.job_id,
            action_id=action,
            comment=comment,
            declined_action=action_id,
            kind=pending.kind,
            restored=dict(pending.before),
            meta=meta,
        )
        return action

    def explain(
        self, baseline: Baseline, item: Item, reason: str, note: str, meta: EventMeta
    ) -> str:
        """Give an open item a reason code and a note (again: the newest counts)."""
        if reason not in REASON_CODES:
            raise BadInputError(f"reason: {reason!r} is not one of {', '.join(REASON_CODES)}")
        self._check_open(baseline, item)
        action = new_action_id()
        self._explained(
            job_id=self.job_id,
            action_id=action,
            comment="",
            side=item[0],
            item_id=item[1],
            reason=reason,
            note=note,
            meta=meta,
        )
        return action

    def assign(
        self, baseline: Baseline, item: Item, assignee: str, comment: str, meta: EventMeta
    ) -> str:
        """Give an open item to someone to work on."""
        if not assignee.strip():
            raise BadInputError("to: the assignee must not be empty")
        self._check_open(baseline, item)
        action = new_action_id()
        self._assigned(
            job_id=self.job_id,
            action_id=action,
            comment=comment,
            side=item[0],
            item_id=item[1],
            assignee=assignee.strip(),
            meta=meta,
        )
        return action

    def add_comment(self, baseline: Baseline, group_id: str, comment: str, meta: EventMeta) -> str:
        if not comment.strip():
            raise BadInputError("comment: must not be empty")
        if group_id not in baseline.groups and group_id not in self.manual:
            raise NotFoundError(f"group {group_id} not found in job {self.job_id}")
        action = new_action_id()
        self._commented(
            job_id=self.job_id, action_id=action, comment=comment, group_id=group_id, meta=meta
        )
        return action

    # Checks

    def _check_undecided(self, baseline: Baseline, group_id: str, verb: str) -> Group:
        recorded = baseline.groups.get(group_id)
        if recorded is None:
            if group_id in self.manual:
                msg = f"group {group_id} is a manual match ({self.status_of(group_id)})"
                raise ReviewConflictError(msg)
            raise NotFoundError(f"group {group_id} not found in job {self.job_id}")
        status = self.status_of(group_id)
        if status != NONE:
            msg = f"group {group_id} is already {status}: it cannot be {verb}"
            raise ReviewConflictError(msg)
        return recorded

    def _check_undoable(self, baseline: Baseline, group_id: str) -> None:
        status = self.status_of(group_id)
        recorded = baseline.groups.get(group_id)
        if recorded is None and group_id not in self.manual:
            raise NotFoundError(f"group {group_id} not found in job {self.job_id}")
        if status in DEAD or status == PENDING:
            raise ReviewConflictError(f"group {group_id} is already {status}")
        if recorded is not None and recorded.status == SUGGESTED and status == NONE:
            msg = f"group {group_id} is only suggested: reject it instead of unmatching"
            raise ReviewConflictError(msg)

    def _check_open(self, baseline: Baseline, item: Item) -> None:
        side, item_id = item
        if side not in SIDES:
            raise BadInputError(f"side: {side!r} is not one of left, right")
        if baseline.amount_of(item) is None:
            raise NotFoundError(f"{side} id {item_id} is not in job {self.job_id}")
        holder = self.group_holding(baseline, item)
        if holder is not None:
            msg = f"{side} id {item_id} is not open: it is in group {holder}"
            raise ReviewConflictError(msg)

    def _check_open_items(
        self, baseline: Baseline, left_ids: Sequence[str], right_ids: Sequence[str]
    ) -> list[Item]:
        if not left_ids or not right_ids:
            raise BadInputError("a manual match needs at least one left and one right id")
        items = [(LEFT, item) for item in left_ids] + [(RIGHT, item) for item in right_ids]
        if len(set(items)) != len(items):
            raise BadInputError("a manual match names the same id twice")
        for item in items:
            self._check_open(baseline, item)
        return items

    def _check_pending(self, action_id: str) -> Pending:
        pending = self.pending.get(action_id)
        if pending is not None:
            return pending
        if action_id in self.settled:
            raise ReviewConflictError(f"action {action_id} was already {self.settled[action_id]}")
        raise NotFoundError(f"action {action_id} is not awaiting approval in job {self.job_id}")

    def _next_manual_id(self, baseline: Baseline) -> str:
        number = len(self.manual) + 1
        while (name := f"{MANUAL_PREFIX}{number}") in baseline.groups or name in self.manual:
            number += 1
        return name

    # Events: each applies itself to the state (and again whenever the stream is loaded)

    @event(MatchConfirmed)
    def _confirmed(
        self, job_id: UUID, action_id: str, comment: str, group_ids: list[str], meta: EventMeta
    ) -> None:
        del job_id, action_id, comment, meta
        for group_id in group_ids:
            self.status[group_id] = CONFIRMED

    @event(MatchRejected)
    def _rejected(
        self, job_id: UUID, action_id: str, comment: str, group_ids: list[str], meta: EventMeta
    ) -> None:
        del job_id, action_id, comment, meta
        for group_id in group_ids:
            self.status[group_id] = REJECTED

    @event(ManualMatchCreated)
    def _manual_matched(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        group_id: str,
        left_ids: list[str],
        right_ids: list[str],
        amount: float,
        difference: float,
        pending: bool,
        meta: EventMeta,
    ) -> None:
        del job_id, comment
        group = ManualGroup(tuple(left_ids), tuple(right_ids), amount, difference)
        self.manual[group_id] = group
        for item in group.items():
            self.held[item] = group_id
        self.status[group_id] = PENDING if pending else MANUAL
        if pending:
            self.pending[action_id] = Pending(
                MANUAL_MATCH, meta["actor"], (group_id,), {group_id: REJECTED}
            )

    @event(MatchUnmatched)
    def _unmatched(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        group_id: str,
        amount: float,
        pending: bool,
        meta: EventMeta,
    ) -> None:
        del job_id, comment, amount
        self._undo([group_id], action_id, UNMATCH, meta["actor"], pending=pending)

    @event(AutoMatchesReverted)
    def _reverted(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        rule: str,
        group_ids: list[str],
        amount: float,
        pending: bool,
        meta: EventMeta,
    ) -> None:
        del job_id, comment, rule, amount
        self._undo(group_ids, action_id, REVERT_AUTO, meta["actor"], pending=pending)

    def _undo(
        self, group_ids: list[str], action_id: str, kind: str, actor: str, *, pending: bool
    ) -> None:
        if pending:
            before = {group: self.status_of(group) for group in group_ids}
            self.pending[action_id] = Pending(kind, actor, tuple(group_ids), before)
            for group in group_ids:
                self.status[group] = PENDING
            return
        for group in group_ids:
            self._set_dead(group, UNMATCHED)

    def _set_dead(self, group_id: str, status: str) -> None:
        self.status[group_id] = status
        manual = self.manual.get(group_id)
        if manual is not None:
            for item in manual.items():
                self.held.pop(item, None)

    @event(CommentAdded)
    def _commented(
        self, job_id: UUID, action_id: str, comment: str, group_id: str, meta: EventMeta
    ) -> None:
        del job_id, action_id, comment, group_id, meta
        self.comments += 1

    @event(ExceptionExplained)
    def _explained(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        side: str,
        item_id: str,
        reason: str,
        note: str,
        meta: EventMeta,
    ) -> None:
        del job_id, action_id, comment
        self.explained[side, item_id] = Explanation(reason, note, meta["actor"])

    @event(ItemAssigned)
    def _assigned(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        side: str,
        item_id: str,
        assignee: str,
        meta: EventMeta,
    ) -> None:
        del job_id, action_id, comment, meta
        self.assigned[side, item_id] = assignee

    @event(ReviewApproved)
    def _approved(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        approved_action: str,
        kind: str,
        group_ids: list[str],
        meta: EventMeta,
    ) -> None:
        del job_id, action_id, comment
        self.pending.pop(approved_action, None)
        self.settled[approved_action] = f"approved by {meta['actor']}"
        for group in group_ids:
            if kind == MANUAL_MATCH:
                self.status[group] = MANUAL
            else:
                self._set_dead(group, UNMATCHED)

    @event(ReviewDeclined)
    def _declined(
        self,
        job_id: UUID,
        action_id: str,
        comment: str,
        declined_action: str,
        kind: str,
        restored: dict[str, str],
        meta: EventMeta,
    ) -> None:
        del job_id, action_id, comment, kind
        self.pending.pop(declined_action, None)
        self.settled[declined_action] = f"declined by {meta['actor']}"
        for group, status in restored.items():
            if status in DEAD:
                self._set_dead(group, status)
            elif status == NONE:
                self.status.pop(group, None)
            else:
                self.status[group] = status
