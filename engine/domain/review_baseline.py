"""What a job's review starts from: the groups and unmatched items its worker recorded.

The decisions live in the job's batch streams (engine.domain.decisions), not on the
Review's stream, so a review command reads them once and keeps them here: each group with
its ids, status, rule, confidence and amount, and each item that no rule matched. A
completed job's recorded decisions never change, so neither does its baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import polars as pl

from engine.matching.schemas import (
    CONFIDENCE,
    GROUP_ID,
    LEFT_ID,
    RIGHT_ID,
    RULE,
    SIDE,
    STATUS,
    UNMATCHED_ID,
)
from engine.worker.details import AMOUNT, LEFT_AMOUNT, RIGHT_AMOUNT

LEFT, RIGHT = "left", "right"
SIDES = (LEFT, RIGHT)
MATCHED, SUGGESTED = "matched", "suggested"

Item = tuple[str, str]
"""An input row of the job: (side, id)."""


class Group(NamedTuple):
    """One recorded decision group: a pair, or one row and the rows summing to it.

    A named tuple: a baseline builds one per group, 100k of them for a large job."""

    group_id: str
    status: str  # matched | suggested
    rule: str
    confidence: float
    left_ids: tuple[str, ...]
    right_ids: tuple[str, ...]
    amount: float
    """The larger of the two sides' totals, in absolute value (0 without amounts)."""

    def items(self) -> Iterable[Item]:
        yield from ((LEFT, left) for left in self.left_ids)
        yield from ((RIGHT, right) for right in self.right_ids)


@dataclass(frozen=True)
class Baseline:
    """A completed job's recorded groups and unmatched items, indexed by id."""

    groups: dict[str, Group]
    group_of: dict[Item, str]
    """Each item of a recorded group, and its group."""
    unmatched: dict[Item, float]
    """Each item no rule matched, and its amount (0 when unknown)."""
    grouped_amounts: dict[Item, float]
    """Each item of a recorded group, and its amount (0 when unknown)."""

    @property
    def rows(self) -> int:
        """Input rows of both sides: every item is in one group or unmatched."""
        return len(self.group_of) + len(self.unmatched)

    def amount_of(self, item: Item) -> float | None:
        """The item's amount; None when the item is not in the job."""
        if item in self.unmatched:
            return self.unmatched[item]
        return self.grouped_amounts.get(item)

    @classmethod
    def from_frames(cls, decisions: pl.DataFrame, unmatched: pl.DataFrame) -> Baseline:
        """From `Tieout.recorded_decisions(job, details=True)`'s two frames."""
        groups, group_of, amounts = _groups(decisions)
        items: dict[Item, float] = {}
        if unmatched.height:
            amount = (
                unmatched.get_column(AMOUNT).cast(pl.Float64, strict=False).fill_null(0.0)
                if AMOUNT in unmatched.columns
                else pl.repeat(0.0, unmatched.height, eager=True)
            )
            sides = unmatched.get_column(SIDE).to_list()
            ids = unmatched.get_column(UNMATCHED_ID).cast(pl.String).to_list()
            items = dict(zip(zip(sides, ids, strict=True), amount.to_list(), strict=True))
        return cls(groups, group_of, items, amounts)


def _groups(
    decisions: pl.DataFrame,
) -> tuple[dict[str, Group], dict[Item, str], dict[Item, float]]:
    """One pass over the rows in plain lists: a group's rows are its pairs, the same id
    repeated where several rows of one side sum to one row of the other."""
    if decisions.height == 0:
        return {}, {}, {}
    frame = decisions.select(
        pl.col(GROUP_ID).cast(pl.String),
        pl.col(LEFT_ID).cast(pl.String),
        pl.col(RIGHT_ID).cast(pl.String),
        pl.col(STATUS),
        pl.col(RULE),
        pl.col(CONFIDENCE).cast(pl.Float64),
        _amount_column(decisions, LEFT_AMOUNT),
        _amount_column(decisions, RIGHT_AMOUNT),
    )
    rows: dict[str, list[Any]] = {}
    amounts: dict[Item, float] = {}
    group_of: dict[Item, str] = {}
    for group, left, right, status, rule, confidence, left_amount, right_amount in zip(
        *(frame.get_column(name).to_list() for name in frame.columns), strict=True
    ):
        found = rows.get(group)
        if found is None:
            rows[group] = found = [status, rule, confidence, [], []]
        elif confidence > found[2]:
            found[2] = confidence
        for side, item_id, value, ids in (
            (LEFT, left, left_amount, found[3]),
            (RIGHT, right, right_amount, found[4]),
        ):
            if (side, item_id) not in group_of:
                group_of[side, item_id] = group
                amounts[side, item_id] = value
                ids.append(item_id)
    groups = {
        group: Group(
            group,
            status,
            rule,
            confidence,
            tuple(lefts),
            tuple(rights),
            max(
                abs(sum(amounts[LEFT, item] for item in lefts)),
                abs(sum(amounts[RIGHT, item] for item in rights)),
            ),
        )
        for group, (status, rule, confidence, lefts, rights) in rows.items()
    }
    return groups, group_of, amounts


def _amount_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(pl.Float64, strict=False).fill_null(0.0)
    return pl.lit(0.0, dtype=pl.Float64).alias(name)
