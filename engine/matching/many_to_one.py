"""many_to_one rules: several right rows whose amounts sum to one left row.

The search is bounded: per left row only the `max_candidates` best right rows that pass
the rule's `when` conditions are considered (best base score first, then id order), and
only subsets of 2..`max_group_size` of them. With the defaults (10 and 3) that is at most
C(10,2) + C(10,3) = 165 subsets per left row; with the hard limits (16 and 4) 2,500.

The subsets are enumerated on numpy arrays: the members of each left row sit side by side
after one sort, and the left rows with k members share one table of the k-choose-s
position combinations, so every subset of a size is one fancy index; sums add the members
in member order (best first), as the tolerance test and the sum score expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np
import polars as pl

from engine.matching.candidates import range_score, runs
from engine.matching.resolve import (
    NO_RIVAL,
    Floats,
    Rows,
    best_rival,
    confidence,
    descending,
    greedy_groups,
    rank_order,
    rows,
)
from engine.matching.ruleset import SumSpec
from engine.matching.schemas import BASE, CONF, GROUP, RIVAL, L, R, score_column

SUM_NOISE = 1e-9
SUBSETS = 1 << 20  # subsets enumerated at once, bounding memory at the hard limits


@dataclass(frozen=True)
class _Members:
    """The candidates each left row may group, sorted by (left row, base desc, right row)
    and cut to `max_candidates` a left row; `starts`/`sizes` delimit each left row's."""

    pair: Rows  # position in the rule's candidate pairs
    left: Rows
    right: Rows
    base: Floats
    amount: Floats
    target: Floats
    starts: Rows
    sizes: Rows


@dataclass(frozen=True)
class _Groups:
    """The subsets that sum within tolerance. `members` holds positions in _Members sorted
    by right row, padded with -1 to the largest size; `right` the right rows, padded with 0."""

    left: Rows
    members: Rows
    right: Rows
    size: Rows
    total: Floats
    target: Floats
    bases: Floats

    def flat(self, groups: Rows) -> tuple[Rows, Rows]:
        """For `groups` (in this order), one entry per member: its group and member position."""
        sizes = self.size[groups]
        taken = np.arange(self.members.shape[1]) < sizes[:, None]
        return np.repeat(groups, sizes), self.members[groups][taken]


def resolve_groups(
    pairs: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame,
    spec: SumSpec,
    conditions: int,
) -> pl.DataFrame:
    """Accepted groups, one row per (group, right row): GROUP, L, R, BASE, CONF, scores.

    `pairs` are the scored candidates of the rule's `when` conditions; the sum score is
    appended as the last score. Groups come in rank order, their rows in right row order.
    """
    members = _members(pairs, left, right, spec)
    groups = _subsets(members, spec)
    base, sum_score = _scored(groups, spec, conditions)
    owner, member = groups.flat(np.arange(groups.left.size))
    by_right = np.full(groups.left.size, NO_RIVAL)
    np.maximum.at(by_right, owner, best_rival(members.right[member], base[owner]))
    rival = np.maximum(best_rival(groups.left, base), by_right)
    conf = confidence(base, rival)
    order = rank_order([descending(conf), groups.size, groups.left, *groups.right.T])
    _, member = groups.flat(order)
    starts = np.cumsum(groups.size[order]) - groups.size[order]
    won = order[greedy_groups(groups.left[order], members.right[member], starts)]
    owner, member = groups.flat(won)
    names = [score_column(k) for k in range(conditions)]
    rows_out = pairs.select(pl.col(L).alias(GROUP), L, R, *names)[members.pair[member]]
    return rows_out.select(
        GROUP,
        L,
        R,
        pl.Series(BASE, base[owner]),
        pl.Series(CONF, conf[owner]),
        pl.Series(RIVAL, rival[owner]),
        *names,
        pl.Series(score_column(conditions), sum_score[owner]),
    )


def _members(
    pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame, spec: SumSpec
) -> _Members:
    lefts, rights = rows(pairs, L), rows(pairs, R)
    base = pairs.get_column(BASE).to_numpy()
    target = _values(left, spec.left, lefts)
    amount = _values(right, spec.right, rights)
    usable = np.flatnonzero(np.isfinite(target) & np.isfinite(amount))
    order = usable[rank_order([lefts[usable], descending(base[usable]), rights[usable]])]
    starts, sizes = runs(lefts[order])
    position = np.arange(order.size) - np.repeat(starts, sizes)
    order = order[position < spec.max_candidates]
    starts, sizes = runs(lefts[order])
    return _Members(
        order, lefts[order], rights[order], base[order], amount[order], target[order], starts, sizes
    )


def _values(side: pl.DataFrame, column: str, at: Rows) -> Floats:
    """The side's `column` as floats at the row numbers `at` (ROW is the row's position,
    see `sides.prepare_sides`); NaN where null."""
    values: Floats = side.get_column(column).cast(pl.Float64).to_numpy()[at]
    return values


@cache
def _combinations(k: int, size: int) -> Rows:
    return np.array(list(combinations(range(k), size)), dtype=np.intp).reshape(-1, size)


def _batches(firsts: Rows, k: int, width: int) -> Iterator[tuple[int, Rows]]:
    """(subset size, left rows' first members), about SUBSETS subsets a batch at most."""
    for size in range(2, min(k, width) + 1):
        step = max(1, SUBSETS // len(_combinations(k, size)))
        for start in range(0, firsts.size, step):
            yield size, firsts[start : start + step]


def _subsets(members: _Members, spec: SumSpec) -> _Groups:
    """Every subset of 2..max_group_size members of one left row that sums within tolerance."""
    width = spec.max_group_size
    picks, totals, bases = [np.empty((0, width), dtype=np.intp)], [np.empty(0)], [np.empty(0)]
    for k in np.unique(members.sizes).tolist():
        for size, firsts in _batches(members.starts[members.sizes == k], k, width):
            pick = (firsts[:, None, None] + _combinations(k, size)).reshape(-1, size)
            total, base = members.amount[pick[:, 0]], members.base[pick[:, 0]]
            for column in range(1, size):
                total = total + members.amount[pick[:, column]]
                base = base + members.base[pick[:, column]]
            target = members.target[pick[:, 0]]
            fits = np.abs(total - target) <= spec.tolerance + SUM_NOISE * (np.abs(target) + 1)
            padding = np.full((int(fits.sum()), width - size), -1, dtype=np.intp)
            picks.append(np.hstack([pick[fits], padding]))
            totals.append(total[fits])
            bases.append(base[fits])
    pick = np.concatenate(picks)
    size = (pick >= 0).sum(axis=1)
    right = np.where(pick >= 0, members.right[pick], np.iinfo(np.intp).max)
    by_right = np.argsort(right, axis=1, kind="stable")
    pick = np.take_along_axis(pick, by_right, axis=1)
    right = np.where(pick >= 0, np.take_along_axis(right, by_right, axis=1), 0)
    first = pick[:, 0]
    total, base = np.concatenate(totals), np.concatenate(bases)
    return _Groups(members.left[first], pick, right, size, total, members.target[first], base)


def _scored(groups: _Groups, spec: SumSpec, conditions: int) -> tuple[Floats, Floats]:
    """Group base = mean of every score in the group's rows (the sum score counting as one
    condition), and the sum score: a range score of |total - target| against the sum's
    tolerance. The mean is polars arithmetic (see `confidence`)."""
    diff = np.abs(groups.total - groups.target)
    sum_score = range_score(diff, np.full(diff.shape, spec.tolerance))
    base = (pl.col("bases") / pl.col("size") * conditions + pl.col("sum")) / (conditions + 1)
    frame = pl.DataFrame(
        {
            "bases": groups.bases,
            "size": pl.Series(groups.size, dtype=pl.UInt32),
            "sum": sum_score,
        }
    )
    return frame.select(base).to_series().to_numpy(), sum_score
