"""many_to_one rules: several right rows whose amounts sum to one left row.

The search is bounded: per left row only the `max_candidates` best right rows that pass
the rule's `when` conditions are considered (best base score first, then id order), and
only subsets of 2..`max_group_size` of them. With the defaults (10 and 3) that is at most
C(10,2) + C(10,3) = 165 subsets per left row; with the hard limits (16 and 4) 2,500.
"""

from __future__ import annotations

import polars as pl

from engine.matching.candidates import RANGE_DROP
from engine.matching.resolve import ORDER, accept_greedy, confidence, with_rival
from engine.matching.ruleset import SumSpec
from engine.matching.schemas import BASE, CONF, GROUP, ROW, L, R, score_column

AMOUNT = "__amt"
TARGET = "__target"
POS = "__pos"
MEMBERS = "__rs"
TOTAL = "__sum"
BASES = "__bsum"
SUM_SCORE = "__sumscore"
SIZE = "__size"
SUM_NOISE = 1e-9


def resolve_groups(
    pairs: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame,
    spec: SumSpec,
    conditions: int,
) -> pl.DataFrame:
    """Accepted groups, one row per (group, right row): GROUP, L, R, scores, BASE, CONF.

    `pairs` are the scored candidates of the rule's `when` conditions; the sum score is
    appended as the last score.
    """
    groups = _subsets(_members(pairs, left, right, spec), spec)
    ordered = _ranked(_scored(groups, spec, conditions))
    edges = ordered.select(ORDER, L, pl.col(MEMBERS).alias(R)).explode(R)
    accepted = ordered.join(accept_greedy(edges), on=ORDER, how="semi")
    return _explode(accepted, pairs, conditions)


def _members(
    pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame, spec: SumSpec
) -> pl.DataFrame:
    targets = left.select(pl.col(ROW).alias(L), pl.col(spec.left).cast(pl.Float64).alias(TARGET))
    amounts = right.select(pl.col(ROW).alias(R), pl.col(spec.right).cast(pl.Float64).alias(AMOUNT))
    rank = pl.int_range(pl.len()).over(L, order_by=[-pl.col(BASE), pl.col(R)])
    return (
        pairs.select(L, R, BASE)
        .join(targets, on=L)
        .join(amounts, on=R)
        .filter(pl.col(TARGET).is_finite() & pl.col(AMOUNT).is_finite())
        .with_columns(rank.alias(POS))
        .filter(pl.col(POS) < spec.max_candidates)
    )


def _subsets(members: pl.DataFrame, spec: SumSpec) -> pl.DataFrame:
    """Every subset of 2..max_group_size members of one left row that sums within tolerance."""
    level = members.select(
        L,
        TARGET,
        POS,
        pl.concat_list(R).alias(MEMBERS),
        pl.col(AMOUNT).alias(TOTAL),
        pl.col(BASE).alias(BASES),
    )
    extend = members.select(L, pl.col(POS).alias("__p2"), R, AMOUNT, BASE)
    diff = (pl.col(TOTAL) - pl.col(TARGET)).abs()
    limit = spec.tolerance + SUM_NOISE * (pl.col(TARGET).abs() + 1)
    found: list[pl.DataFrame] = []
    for _ in range(2, spec.max_group_size + 1):
        level = (
            level.join(extend, on=L)
            .filter(pl.col("__p2") > pl.col(POS))
            .select(
                L,
                TARGET,
                pl.col("__p2").alias(POS),
                pl.col(MEMBERS).list.concat(pl.col(R)),
                pl.col(TOTAL) + pl.col(AMOUNT),
                pl.col(BASES) + pl.col(BASE),
            )
        )
        found.append(level.filter(diff <= limit))
    return pl.concat(found).drop(POS).with_columns(pl.col(MEMBERS).list.sort())


def _scored(groups: pl.DataFrame, spec: SumSpec, conditions: int) -> pl.DataFrame:
    """Group base = mean of every score in the group's rows; confidence against rivals."""
    size = pl.col(MEMBERS).list.len()
    diff = (pl.col(TOTAL) - pl.col(TARGET)).abs()
    sum_score = (
        pl.lit(1.0)
        if spec.tolerance == 0
        else (1.0 - RANGE_DROP * diff / spec.tolerance).clip(1.0 - RANGE_DROP, 1.0)
    )
    base = (pl.col(BASES) / pl.col(SIZE) * conditions + pl.col(SUM_SCORE)) / (conditions + 1)
    scored = (
        groups.with_columns(size.alias(SIZE), sum_score.alias(SUM_SCORE))
        .with_columns(base.alias(BASE))
        .sort(L, MEMBERS)
        .with_row_index("__gid")
    )
    members = scored.select("__gid", BASE, pl.col(MEMBERS).alias(R)).explode(R)
    by_right = with_rival(members, R, "__rr").group_by("__gid").agg(pl.col("__rr").max())
    by_left = with_rival(scored.select("__gid", L, BASE), L, "__rl").select("__gid", "__rl")
    rivals = by_left.join(by_right, on="__gid")
    best_rival = pl.max_horizontal("__rl", "__rr")
    return (
        scored.join(rivals, on="__gid")
        .with_columns(confidence(pl.col(BASE), best_rival).alias(CONF))
        .drop("__gid", "__rl", "__rr")
    )


def _ranked(groups: pl.DataFrame) -> pl.DataFrame:
    """Rank: confidence desc, then smaller groups, then left id, then right ids."""
    order = [CONF, SIZE, L, MEMBERS]
    return groups.sort(order, descending=[True, False, False, False]).with_row_index(ORDER)


def _explode(groups: pl.DataFrame, pairs: pl.DataFrame, conditions: int) -> pl.DataFrame:
    names = [score_column(k) for k in range(conditions)]
    rows = groups.select(
        pl.col(L).alias(GROUP), L, pl.col(MEMBERS).alias(R), BASE, CONF, SUM_SCORE
    ).explode(R)
    joined = rows.join(pairs.select(L, R, *names), on=[L, R], how="left")
    return joined.with_columns(pl.col(SUM_SCORE).alias(score_column(conditions))).drop(SUM_SCORE)
