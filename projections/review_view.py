"""The review events' effect on the analyst's read models (projections/results_view.py).

Each handler turns one Review event into statements on the decision and unmatched rows of
its job. They run after the batch's COPYs, so a rebuild that meets a job's decision
batches and its reviews in one transaction applies the reviews to rows already there.

- A decision row's `review_status` follows its group; `action_id` names the action
  awaiting approval.
- A manual match adds decision rows (status and rule `manual`) after the job's last row,
  in the job's own partition if it has one (projections/job_partitions.py);
  an n:m match pairs the ids in order, the shorter side repeating its last id, as a
  many-to-one group repeats its one side.
- Items of a rejected or unmatched group become open rows of the unmatched table (reason
  `rejected` or `unmatched`, with the amount and date recorded on the decision row); an
  item in a manual match is `pending` or `matched` there, and `open` again when the match
  goes.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import zip_longest
from typing import Any

from engine.domain.review import MANUAL_MATCH, PENDING, REJECTED, UNMATCHED, Review
from projections.job_partitions import DECISIONS
from projections.job_partitions import UNMATCHED as UNMATCHED_ITEMS
from projections.names import DECISIONS_TABLE, UNMATCHED_TABLE

Statement = tuple[str, dict[str, Any]]
Event = Any

_GROUP_ITEMS = (
    "SELECT DISTINCT 'left' AS side, left_id AS item_id, left_amount AS amount, "
    f"left_date AS item_date FROM {DECISIONS_TABLE} "
    "WHERE job_id = %(job)s AND group_id = ANY(%(groups)s) "
    f"UNION SELECT DISTINCT 'right', right_id, right_amount, right_date FROM {DECISIONS_TABLE} "
    "WHERE job_id = %(job)s AND group_id = ANY(%(groups)s)"
)
_SET_STATUS = (
    f"UPDATE {DECISIONS_TABLE} SET review_status = %(status)s, action_id = %(pending)s, "
    "reviewed_by = %(by)s, reviewed_at = %(at)s "
    "WHERE job_id = %(job)s AND group_id = ANY(%(groups)s)"
)
_REOPEN = (
    f"WITH items AS ({_GROUP_ITEMS}), "
    f"known AS (UPDATE {UNMATCHED_TABLE} u SET state = 'open' FROM items i "
    "WHERE u.job_id = %(job)s AND u.side = i.side AND u.item_id = i.item_id "
    "RETURNING u.side, u.item_id) "
    f"INSERT INTO {UNMATCHED_TABLE} "
    "(job_id, row_no, side, item_id, reason, amount, item_date, state, own_partition) "
    "SELECT %(job)s, base.last + row_number() OVER (ORDER BY items.side, items.item_id), "
    "items.side, items.item_id, %(reason)s, items.amount, items.item_date, 'open', "
    "to_regclass(%(own_table)s) IS NOT NULL "  # in the job's own partition, if it has one
    "FROM items LEFT JOIN known USING (side, item_id), "
    f"(SELECT coalesce(max(row_no), -1) AS last FROM {UNMATCHED_TABLE} "
    "WHERE job_id = %(job)s) base "
    "WHERE known.side IS NULL"
)
_GROUP_IDS = (
    f"SELECT 'left', left_id FROM {DECISIONS_TABLE} "
    "WHERE job_id = %(job)s AND group_id = ANY(%(groups)s) "
    f"UNION SELECT 'right', right_id FROM {DECISIONS_TABLE} "
    "WHERE job_id = %(job)s AND group_id = ANY(%(groups)s)"
)
_ITEM_STATE = (
    f"UPDATE {UNMATCHED_TABLE} SET state = %(state)s "
    f"WHERE job_id = %(job)s AND (side, item_id) IN ({_GROUP_IDS})"
)
_MANUAL_ROWS = (
    f"INSERT INTO {DECISIONS_TABLE} (job_id, row_no, group_id, left_id, right_id, rule, "
    "confidence, status, review_status, action_id, left_amount, right_amount, reviewed_by, "
    "reviewed_at, own_partition) "
    "SELECT %(job)s, base.last + pair.n, %(group)s, pair.l, pair.r, 'manual', 1.0, "
    "'manual', %(status)s, %(pending)s, "
    f"(SELECT amount FROM {UNMATCHED_TABLE} "
    "WHERE job_id = %(job)s AND side = 'left' AND item_id = pair.l), "
    f"(SELECT amount FROM {UNMATCHED_TABLE} "
    "WHERE job_id = %(job)s AND side = 'right' AND item_id = pair.r), %(by)s, %(at)s, "
    "to_regclass(%(own_table)s) IS NOT NULL "  # in the job's own partition, if it has one
    "FROM unnest(%(lefts)s::text[], %(rights)s::text[]) WITH ORDINALITY AS pair(l, r, n), "
    f"(SELECT coalesce(max(row_no), -1) AS last FROM {DECISIONS_TABLE} "
    "WHERE job_id = %(job)s) base"
)
_RESTORE = (
    f"UPDATE {DECISIONS_TABLE} d SET review_status = r.status, action_id = NULL, "
    "reviewed_by = %(by)s, reviewed_at = %(at)s "
    "FROM unnest(%(groups)s::text[], %(statuses)s::text[]) AS r(group_id, status) "
    "WHERE d.job_id = %(job)s AND d.group_id = r.group_id"
)
_ITEM_FIELD = (
    f"UPDATE {UNMATCHED_TABLE} SET {{sets}} "
    "WHERE job_id = %(job)s AND side = %(side)s AND item_id = %(item)s"
)


def _params(event: Event, **more: Any) -> dict[str, Any]:
    meta = getattr(event, "meta", {})
    return {
        "job": event.job_id,
        "by": str(meta.get("actor", "")),
        "at": event.timestamp,
        "pending": None,
    } | more


def _status(event: Event, groups: list[str], status: str, pending: str | None = None) -> Statement:
    return _SET_STATUS, _params(event, groups=groups, status=status, pending=pending)


def _reopen(event: Event, groups: list[str], reason: str) -> Statement:
    """The groups' items open again: rows already there, and new rows for the others (no
    unique index spans the partitions, so no ON CONFLICT)."""
    own_table = UNMATCHED_ITEMS.table_for(event.job_id)
    return _REOPEN, _params(event, groups=groups, reason=reason, own_table=own_table)


def _items(event: Event, groups: list[str], state: str) -> Statement:
    return _ITEM_STATE, _params(event, groups=groups, state=state)


def confirmed(event: Review.MatchConfirmed) -> list[Statement]:
    return [_status(event, event.group_ids, "confirmed")]


def rejected(event: Review.MatchRejected) -> list[Statement]:
    return [_status(event, event.group_ids, REJECTED), _reopen(event, event.group_ids, REJECTED)]


def manual_matched(event: Review.ManualMatchCreated) -> list[Statement]:
    pairs = list(zip_longest(event.left_ids, event.right_ids))
    lefts = [left if left is not None else event.left_ids[-1] for left, _ in pairs]
    rights = [right if right is not None else event.right_ids[-1] for _, right in pairs]
    status = PENDING if event.pending else "manual"
    rows = _params(
        event,
        group=event.group_id,
        status=status,
        pending=event.action_id if event.pending else None,
        lefts=lefts,
        rights=rights,
        own_table=DECISIONS.table_for(event.job_id),
    )
    groups = [event.group_id]
    return [(_MANUAL_ROWS, rows), _items(event, groups, "pending" if event.pending else "matched")]


def _undone(event: Event, groups: list[str]) -> list[Statement]:
    if event.pending:
        return [_status(event, groups, PENDING, event.action_id)]
    return [_status(event, groups, UNMATCHED), _reopen(event, groups, UNMATCHED)]


def unmatched(event: Review.MatchUnmatched) -> list[Statement]:
    return _undone(event, [event.group_id])


def reverted(event: Review.AutoMatchesReverted) -> list[Statement]:
    return _undone(event, event.group_ids)


def approved(event: Review.ReviewApproved) -> list[Statement]:
    if event.kind == MANUAL_MATCH:
        return [
            _status(event, event.group_ids, "manual"),
            _items(event, event.group_ids, "matched"),
        ]
    return [_status(event, event.group_ids, UNMATCHED), _reopen(event, event.group_ids, UNMATCHED)]


def declined(event: Review.ReviewDeclined) -> list[Statement]:
    groups = list(event.restored)
    if event.kind == MANUAL_MATCH:
        return [_status(event, groups, REJECTED), _items(event, groups, "open")]
    statuses = [event.restored[group] for group in groups]
    return [(_RESTORE, _params(event, groups=groups, statuses=statuses))]


def explained(event: Review.ExceptionExplained) -> list[Statement]:
    sets = "reason_code = %(reason)s, note = %(note)s, explained_by = %(by)s"
    params = _params(
        event, side=event.side, item=event.item_id, reason=event.reason, note=event.note
    )
    return [(_ITEM_FIELD.format(sets=sets), params)]


def assigned(event: Review.ItemAssigned) -> list[Statement]:
    params = _params(event, side=event.side, item=event.item_id, assignee=event.assignee)
    return [(_ITEM_FIELD.format(sets="assignee = %(assignee)s"), params)]


REVIEW_HANDLERS: dict[type, Callable[[Any], list[Statement]]] = {
    Review.MatchConfirmed: confirmed,
    Review.MatchRejected: rejected,
    Review.ManualMatchCreated: manual_matched,
    Review.MatchUnmatched: unmatched,
    Review.AutoMatchesReverted: reverted,
    Review.ReviewApproved: approved,
    Review.ReviewDeclined: declined,
    Review.ExceptionExplained: explained,
    Review.ItemAssigned: assigned,
}
"""ReviewOpened and CommentAdded change no read model (the audit index keeps them)."""
