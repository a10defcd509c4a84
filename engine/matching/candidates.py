"""Candidate generation: hash joins on exact keys plus composite grid keys.

Each range condition (|x - y| <= t) gets a grid bucket of width w = 2t: a right row keeps
its bucket floor(y / w); a left row is offered to its own bucket and to the one neighbour
that the window [x - t, x + t] reaches (below if x sits in the lower half of its bucket,
above otherwise). So k range conditions replicate each left row 2^k times, every pair of
rows within tolerance shares exactly one composite key, and the join is one hash join on
(exact keys, buckets) with the exact range test as a residual filter in the same lazy
query, run by the streaming engine. See docs/adr/0004-matcher-blocking-and-grid-joins.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from engine.matching.conditions import KeyPlan, Plan, RangePlan, TextPlan, log_tolerance
from engine.matching.prepared import PreparedValues
from engine.matching.schemas import L, R, score_column, value_column

# A range condition scores 1 at no difference, 1 - RANGE_DROP at the tolerance: being in
# range is the evidence, where in the range only tips the balance between candidates.
RANGE_DROP = 0.25
GRID_SLACK = 1e-9  # widens buckets and tolerances past float noise
SIGN = "__sign"
SIDES = ("left", "right")


@dataclass(frozen=True)
class JoinSpec:
    """Two key frames and the columns to join them on."""

    left: pl.LazyFrame
    right: pl.LazyFrame
    left_on: list[str]
    right_on: list[str]


def key_frames(
    rows: tuple[pl.Series, pl.Series], plans: list[Plan], prepared: PreparedValues
) -> JoinSpec:
    """Row numbers with the values to join on, rows missing any value dropped, grids added.

    Text values only filter out missing rows here; they are gathered after the join.
    """
    frames = [
        _side_frame(side, side_rows, plans, prepared)
        for side, side_rows in zip(SIDES, rows, strict=True)
    ]
    spec = JoinSpec(frames[0].lazy(), frames[1].lazy(), [], [])
    for k, plan in enumerate(plans):
        if isinstance(plan, KeyPlan):
            spec.left_on.append(value_column("left", k))
            spec.right_on.append(value_column("right", k))
        elif isinstance(plan, RangePlan):
            spec = _add_grid(spec, plan, k)
    # materialized once: sizing, chunking and the join all read them
    lazy = pl.collect_all([spec.left, spec.right])
    return JoinSpec(lazy[0].lazy(), lazy[1].lazy(), spec.left_on, spec.right_on)


def _side_frame(
    side: str, rows: pl.Series, plans: list[Plan], prepared: PreparedValues
) -> pl.DataFrame:
    values = {(L if side == "left" else R): rows}
    for k, plan in enumerate(plans):
        expr = plan.left if side == "left" else plan.right
        values[value_column(side, k)] = prepared.gather(side, expr, rows)
    frame = pl.DataFrame(values).drop_nulls()
    for k, plan in enumerate(plans):
        if isinstance(plan, RangePlan):
            frame = frame.filter(pl.col(value_column(side, k)).is_finite())
        elif isinstance(plan, TextPlan):
            frame = frame.drop(value_column(side, k))
    return frame


def _add_grid(spec: JoinSpec, plan: RangePlan, k: int) -> JoinSpec:
    lval, rval = pl.col(value_column("left", k)), pl.col(value_column("right", k))
    width = 2 * plan.tolerance * (1 + GRID_SLACK)
    left, right = spec.left, spec.right
    if plan.relative:
        # same sign, then |ln|x| - ln|y|| <= -ln(1 - p); zero only meets zero
        width = 2 * log_tolerance(plan.tolerance) * (1 + GRID_SLACK)
        sign = f"{SIGN}{k}"
        left = left.with_columns(lval.sign().alias(sign))
        right = right.with_columns(rval.sign().alias(sign))
        spec.left_on.append(sign)
        spec.right_on.append(sign)
        lval, rval = _log_abs(lval), _log_abs(rval)
    grid = f"__grid{k}"
    position = lval / width
    bucket = position.floor()
    neighbour = pl.when(position - bucket < 0.5).then(bucket - 1).otherwise(bucket + 1)  # noqa: PLR2004
    left = left.with_columns(
        pl.concat_list(bucket.cast(pl.Int64), neighbour.cast(pl.Int64)).alias(grid)
    ).explode(grid)
    right = right.with_columns((rval / width).floor().cast(pl.Int64).alias(grid))
    spec.left_on.append(grid)
    spec.right_on.append(grid)
    return JoinSpec(left, right, spec.left_on, spec.right_on)


def _log_abs(value: pl.Expr) -> pl.Expr:
    return pl.when(value == 0).then(0.0).otherwise(value.abs().log())


def joined(spec: JoinSpec, plans: list[Plan]) -> pl.LazyFrame:
    """The fused join + residual filter, with the score of every range condition."""
    if spec.left_on:
        pairs = spec.left.join(spec.right, left_on=spec.left_on, right_on=spec.right_on)
    else:
        pairs = spec.left.join(spec.right, how="cross")
    keep = [pl.col(L), pl.col(R)]
    for k, plan in enumerate(plans):
        if isinstance(plan, RangePlan):
            diff, tolerance, noise = _range_terms(plan, k)
            pairs = pairs.filter(diff <= tolerance + noise)
            keep.append(_range_score(diff, tolerance).alias(score_column(k)))
    return pairs.select(keep)


def range_filter(frame: pl.DataFrame, plans: list[Plan], prepared: PreparedValues) -> pl.DataFrame:
    """Pairs found without the join (matrices of a key's rows): the range tests and scores
    the join would have applied, on values gathered by row number."""
    for k, plan in enumerate(plans):
        if not isinstance(plan, RangePlan):
            continue
        lcol, rcol = value_column("left", k), value_column("right", k)
        frame = frame.with_columns(
            prepared.gather("left", plan.left, frame.get_column(L)).alias(lcol),
            prepared.gather("right", plan.right, frame.get_column(R)).alias(rcol),
        )
        diff, tolerance, noise = _range_terms(plan, k)
        frame = (
            frame.filter(diff <= tolerance + noise)
            .with_columns(_range_score(diff, tolerance).alias(score_column(k)))
            .drop(lcol, rcol)
        )
    return frame


def _range_terms(plan: RangePlan, k: int) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """|left - right|, the tolerance, and the float noise allowed on top of it."""
    lval, rval = pl.col(value_column("left", k)), pl.col(value_column("right", k))
    diff = (lval - rval).abs()
    noise = (lval.abs() + rval.abs()) * GRID_SLACK + GRID_SLACK
    tolerance = plan.tolerance * lval.abs() if plan.relative else pl.lit(plan.tolerance)
    return diff, tolerance, noise


def _range_score(diff: pl.Expr, tolerance: pl.Expr) -> pl.Expr:
    """1 at no difference, falling linearly to 1 - RANGE_DROP at the tolerance."""
    score = pl.when(tolerance > 0).then(1.0 - RANGE_DROP * diff / tolerance).otherwise(1.0)
    return score.clip(1.0 - RANGE_DROP, 1.0)


def pair_count(spec: JoinSpec) -> int:
    """How many pairs the join yields before the residual filter."""
    if not spec.left_on:
        return int(
            spec.left.select(pl.len()).collect().item()
            * spec.right.select(pl.len()).collect().item()
        )
    lcount = spec.left.group_by(spec.left_on).agg(pl.len().alias("__nl"))
    rcount = spec.right.group_by(spec.right_on).agg(pl.len().alias("__nr"))
    both = lcount.join(rcount, left_on=spec.left_on, right_on=spec.right_on)
    total = both.select((pl.col("__nl").cast(pl.Int64) * pl.col("__nr")).sum()).collect().item()
    return int(total or 0)


def block_sizes(spec: JoinSpec) -> pl.LazyFrame:
    """Per (replicated) left row, how many right rows share its composite key."""
    if not spec.left_on:
        count = spec.right.select(pl.len().alias("__n"))
        return spec.left.select(L).join(count, how="cross")
    sizes = spec.right.group_by(spec.right_on).agg(pl.len().alias("__n"))
    return spec.left.join(sizes, left_on=spec.left_on, right_on=spec.right_on).select(L, "__n")
