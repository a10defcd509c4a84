"""The matcher's result: decisions, unmatched rows, a summary and a decisions hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from engine.matching.schemas import (
    CONFIDENCE,
    MATCHED,
    RULE,
    SCORES,
    SIDE,
    STATUS,
    SUGGESTED,
)

HASH_DECIMALS = 9  # confidence and scores are hashed rounded to this many decimals


@dataclass(frozen=True)
class Carried:
    """Input columns carried beside a result at the caller's request (`match(carry=...)`),
    as the inputs hold them: `matches_left` and `matches_right` give, for each row of
    `matches`, its left and its right row's values; `unmatched_left` and
    `unmatched_right` give those of the unmatched rows of each side, in the order
    `unmatched` lists them (the left side's first). They are not part of the result's
    bytes: the decisions hash and the outputs never see them."""

    matches_left: pl.DataFrame
    matches_right: pl.DataFrame
    unmatched_left: pl.DataFrame
    unmatched_right: pl.DataFrame


@dataclass(frozen=True)
class MatchResult:
    """matches: one row per (left, right) pair in a decision; unmatched: one row per id."""

    matches: pl.DataFrame
    unmatched: pl.DataFrame
    left_rows: int
    right_rows: int
    rules: tuple[str, ...] = field(default=())
    carried: Carried | None = None

    def summary(self) -> dict[str, Any]:
        """Counts; `matched`/`suggested` count rows of `matches` (a group counts each row)."""
        counts = self.matches.group_by(RULE, STATUS).len()
        per_rule = {name: {MATCHED: 0, SUGGESTED: 0} for name in self.rules}
        for rule, status, count in counts.iter_rows():
            per_rule.setdefault(rule, {MATCHED: 0, SUGGESTED: 0})[status] = count
        sides = self.unmatched.get_column(SIDE)
        unmatched_left = int((sides == "left").sum())
        unmatched_right = int((sides == "right").sum())
        # every row is either in a decision or unmatched, once
        return {
            "left_rows": self.left_rows,
            "right_rows": self.right_rows,
            MATCHED: int((self.matches.get_column(STATUS) == MATCHED).sum()),
            SUGGESTED: int((self.matches.get_column(STATUS) == SUGGESTED).sum()),
            "matched_left": self.left_rows - unmatched_left,
            "matched_right": self.right_rows - unmatched_right,
            "unmatched_left": unmatched_left,
            "unmatched_right": unmatched_right,
            "rules": per_rule,
        }


def decisions_hash(result: MatchResult) -> str:
    """SHA-256 (hex) of a canonical CSV of matches (scores as columns) and unmatched."""
    scores = (
        pl.col(SCORES).list.eval(pl.element().round(HASH_DECIMALS).cast(pl.String)).list.join(";")
    )
    matches = result.matches.with_columns(pl.col(CONFIDENCE).round(HASH_DECIMALS), scores)
    digest = hashlib.sha256()
    digest.update(matches.write_csv(float_precision=HASH_DECIMALS).encode())
    digest.update(b"\x00")
    digest.update(result.unmatched.write_csv().encode())
    return digest.hexdigest()
