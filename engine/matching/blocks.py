"""Big blocks: key groups scored as one similarity matrix instead of as joined pairs.

In a rule with a `similar` condition, the candidates of one join key (exact keys plus grid
buckets) are that key's left rows x right rows, less the pairs the range tests remove.
When a key holds at least BIG_BLOCK such pairs, joining them would materialize every pair
only to score it one by one with `cpdist` (which converts both strings of every pair);
instead the key's rows go straight to `rapidfuzz.process.cdist` (each string prepared
once, SIMD for short strings), which keeps the cells at or above `min`; the range tests
then run on those cells (candidates.range_filter). A pair within tolerance meets in
exactly one key, so nothing is found twice. Measured on 1M x 1M people records matched on
birth date (blocks of about 50 x 50) and name similarity: 63 s joined and scored pair by
pair, 6.9 s as matrices; on the bank benchmark about 15% faster overall.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.matching.candidates import JoinSpec
from engine.matching.conditions import Plan, TextPlan
from engine.matching.prepared import PreparedValues
from engine.matching.schemas import L, R, score_column
from engine.matching.similarity import all_pairs_above

BIG_BLOCK = 64
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
    if groups.height == 0:
        return []
    lefts = groups[L].explode().to_numpy().astype(np.int64)
    rights = groups[R].explode().to_numpy().astype(np.int64)
    lstrings = prepared.string_lookup("left", plan.left, lefts)(lefts)
    rstrings = prepared.string_lookup("right", plan.right, rights)(rights)
    lcuts = np.r_[0, np.cumsum(groups[L].list.len().to_numpy())]
    rcuts = np.r_[0, np.cumsum(groups[R].list.len().to_numpy())]
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for g in range(groups.height):
        lslice, rslice = slice(lcuts[g], lcuts[g + 1]), slice(rcuts[g], rcuts[g + 1])
        lpos, rpos, scores = all_pairs_above(
            lstrings[lslice], rstrings[rslice], plan.scorer, plan.minimum, budget
        )
        found.append((lefts[lslice][lpos], rights[rslice][rpos], scores))
    columns = [np.concatenate(part) for part in zip(*found, strict=True)]
    frame = pl.DataFrame(
        {L: columns[0], R: columns[1], score_column(k): columns[2] / 100.0},
        schema={L: pl.UInt32, R: pl.UInt32, score_column(k): pl.Float64},
    )
    return [frame]
