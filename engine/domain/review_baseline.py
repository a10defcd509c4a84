"""What a job's review starts from: the groups and unmatched items its worker recorded.

The decisions live in the job's batch streams (engine.domain.decisions), not on the
Review's stream, so a review command reads them once and keeps them here: each group with
its ids, status, rule, confidence and amount, and each item that no rule matched. A
completed job's recorded decisions never change, so neither does its baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Group:
    """One recorded decision group: a pair, or one row and the rows summing to it."""

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
    if decisions.height == 0:
        return {}, {}, {}
    frame = decisions.with_columns(
        _amount_column(decisions, LEFT_AMOUNT),
        _amount_column(decisions, RIGHT_AMOUNT),
        pl.col(LEFT_ID).cast(pl.String),
        pl.col(RIGHT_ID).cast(pl.String),
        pl.col(GROUP_ID).cast(pl.String),
    )
    lefts = _side(frame, LEFT_ID, LEFT_AMOUNT)
    rights = _side(frame, RIGHT_ID, RIGHT_AMOUNT)
    heads = frame.group_by(GROUP_ID, maintain_order=True).agg(
        pl.col(STATUS).first(), pl.col(RULE).first(), pl.col(CONFIDENCE).max()
    )
    joined = heads.join(lefts, on=GROUP_ID, maintain_order="left").join(
        rights, on=GROUP_ID, maintain_order="left"
    )
    groups: dict[str, Group] = {}
    group_of: dict[Item, str] = {}
    amounts: dict[Item, float] = {}
    for row in joined.iter_rows(named=True):
        group = Group(
            group_id=row[GROUP_ID],
            status=row[STATUS],
            rule=row[RULE],
            confidence=float(row[CONFIDENCE]),
            left_ids=tuple(row["ids_left"]),
            right_ids=tuple(row["ids_right"]),
            amount=max(abs(row["total_left"]), abs(row["total_right"])),
        )
        groups[group.group_id] = group
        for side, ids, values in (
            (LEFT, row["ids_left"], row["amounts_left"]),
            (RIGHT, row["ids_right"], row["amounts_right"]),
        ):
            for item_id, value in zip(ids, values, strict=True):
                group_of[side, item_id] = group.group_id
                amounts[side, item_id] = value
    return groups, group_of, amounts


def _side(frame: pl.DataFrame, id_column: str, amount_column: str) -> pl.DataFrame:
    suffix = "left" if id_column == LEFT_ID else "right"
    return (
        frame.unique([GROUP_ID, id_column], keep="first", maintain_order=True)
        .group_by(GROUP_ID, maintain_order=True)
        .agg(
            pl.col(id_column).alias(f"ids_{suffix}"),
            pl.col(amount_column).alias(f"amounts_{suffix}"),
            pl.col(amount_column).sum().alias(f"total_{suffix}"),
        )
    )


def _amount_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(pl.Float64, strict=False).fill_null(0.0)
    return pl.lit(0.0, dtype=pl.Float64).alias(name)
