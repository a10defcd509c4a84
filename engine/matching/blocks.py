"""Big blocks: key groups scored as one similarity matrix instead of as joined pairs.

In a rule of exact keys and `similar` conditions (no ranges), the candidates of one key are
all of that key's left rows x right rows. When a key holds at least BIG_BLOCK such pairs
(a low-cardinality key: a country, a birth year), joining them would materialize every
pair only to score it; instead the key's rows go straight to `rapidfuzz.process.cdist`
(SIMD for short strings), which keeps only the cells at or above `min`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.matching.candidates import JoinSpec
from engine.matching.conditions import Plan, TextPlan
from engine.matching.prepared import PreparedValues
from engine.matching.schemas import L, R, score_column
from engine.matching.similarity import all_pairs_above

BIG_BLOCK = 50_000
KEY = "__kid"


def split_big_blocks(spec: JoinSpec) -> tuple[JoinSpec, pl.DataFrame]:
    """The spec without big keys, and per big key its left rows and right rows (lists)."""
    left, right = spec.left.collect(), spec.right.collect()
    lcount = left.group_by(spec.left_on).agg(pl.len().alias("__nl"))
    rcount = right.group_by(spec.right_on).agg(pl.len().alias("__nr"))
    sizes = lcount.join(rcount, left_on=spec.left_on, right_on=spec.right_on)
    big = sizes.filter(pl.col("__nl").cast(pl.Int64) * pl.col("__nr") >= BIG_BLOCK)
    big = big.select(spec.left_on).sort(spec.left_on).with_row_index(KEY)
    big_right = big.rename(dict(zip(spec.left_on, spec.right_on, strict=True)))
    groups = (
        left.join(big, on=spec.left_on)
        .group_by(KEY)
        .agg(pl.col(L).sort())
        .join(right.join(big_right, on=spec.right_on).group_by(KEY).agg(pl.col(R).sort()), on=KEY)
        .sort(KEY)
    )
    rest = JoinSpec(
        left.join(big, on=spec.left_on, how="anti").lazy(),
        right.join(big_right, on=spec.right_on, how="anti").lazy(),
        spec.left_on,
        spec.right_on,
    )
    return rest, groups


def score_big_blocks(
    groups: pl.DataFrame, plans: list[Plan], prepared: PreparedValues, budget: int
) -> list[pl.DataFrame]:
    """Pairs of each big key whose first `similar` condition reaches its `min`, scored."""
    k, plan = next((k, p) for k, p in enumerate(plans) if isinstance(p, TextPlan))
    assert isinstance(plan, TextPlan)  # noqa: S101 - found just above
    found = []
    for lrows, rrows in zip(groups[L].to_list(), groups[R].to_list(), strict=True):
        left, right = np.asarray(lrows, dtype=np.int64), np.asarray(rrows, dtype=np.int64)
        lpos, rpos, scores = all_pairs_above(
            prepared.strings("left", plan.left, left),
            prepared.strings("right", plan.right, right),
            plan.scorer,
            plan.minimum,
            budget,
        )
        found.append(
            pl.DataFrame(
                {L: left[lpos], R: right[rpos], score_column(k): scores / 100.0},
                schema={L: pl.UInt32, R: pl.UInt32, score_column(k): pl.Float64},
            )
        )
    return found
