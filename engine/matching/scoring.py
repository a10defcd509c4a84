"""Scoring candidates: every condition's score and the base confidence of each pair.

Every condition scores in [0, 1]: equals 1; within and within_days 1 at no difference
falling linearly to 0.75 at the tolerance; similar the rapidfuzz score / 100. A pair's base
confidence is the mean of its condition scores (see docs/matching.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from engine.matching.blocks import score_big_blocks, split_big_blocks
from engine.matching.candidates import (
    JoinSpec,
    block_sizes,
    joined,
    key_frames,
    pair_count,
    range_filter,
)
from engine.matching.conditions import KeyPlan, Plan, RangePlan, TextPlan
from engine.matching.prepared import PreparedValues
from engine.matching.schemas import BASE, L, R, score_column
from engine.matching.similarity import all_pairs_above, pair_scores

PAIR_BUDGET = 10_000_000  # candidate pairs materialized at once, before the residual filter


def scored_candidates(
    rows: tuple[pl.Series, pl.Series], plans: list[Plan], prepared: PreparedValues
) -> pl.DataFrame:
    """Every pair of the given rows that satisfies all conditions, scored, with BASE."""
    if all(isinstance(plan, TextPlan) for plan in plans):
        frame = _text_only(rows, plans, prepared)
    else:
        spec = key_frames(rows, plans, prepared)
        chunks: list[pl.DataFrame] = []
        if _has_text(plans):
            spec, groups = split_big_blocks(spec)
            found = score_big_blocks(groups, plans, prepared, PAIR_BUDGET)
            chunks = [range_filter(frame, plans, prepared) for frame in found]
        # one slice of the join at a time: each is scored (and shrunk) before the next
        scored = [_finish(chunk, plans, prepared) for chunk in chunks]
        scored += [_finish(chunk, plans, prepared) for chunk in _chunks(spec, plans)]
        frame = pl.concat(scored) if scored else _empty(plans)
    scores = [
        pl.lit(1.0).alias(score_column(k)) for k, p in enumerate(plans) if isinstance(p, KeyPlan)
    ]
    names = [score_column(k) for k in range(len(plans))]
    frame = frame.with_columns(scores).select(L, R, *names)
    return frame.with_columns(pl.mean_horizontal(names).alias(BASE))


def _has_text(plans: list[Plan]) -> bool:
    return any(isinstance(plan, TextPlan) for plan in plans)


def _columns(plans: list[Plan]) -> list[pl.Expr]:
    """The columns of a chunk: rows and range scores (text scores may be there already)."""
    keep = [pl.col(L), pl.col(R)]
    for k, plan in enumerate(plans):
        if isinstance(plan, RangePlan):
            keep.append(pl.col(score_column(k)))
        elif isinstance(plan, TextPlan):
            keep.append(pl.col(f"^{score_column(k)}$"))
    return keep


def _finish(chunk: pl.DataFrame, plans: list[Plan], prepared: PreparedValues) -> pl.DataFrame:
    """A slice of candidates with its text scored (pairs below `min` dropped), in the
    column order every slice shares."""
    scored = _score_text(chunk.select(_columns(plans)), plans, prepared)
    names = [score_column(k) for k, plan in enumerate(plans) if not isinstance(plan, KeyPlan)]
    return scored.select(L, R, *names)


def _chunks(spec: JoinSpec, plans: list[Plan]) -> Iterator[pl.DataFrame]:
    if pair_count(spec) <= PAIR_BUDGET:
        yield joined(spec, plans).collect(engine="streaming")
        return
    for low, high in _left_chunks(block_sizes(spec).collect(engine="streaming")):
        part = JoinSpec(
            spec.left.filter(pl.col(L).is_between(low, high)),
            spec.right,
            spec.left_on,
            spec.right_on,
        )
        yield joined(part, plans).collect(engine="streaming")


def _left_chunks(sizes: pl.DataFrame) -> list[tuple[int, int]]:
    """Ranges of left rows whose blocks hold about PAIR_BUDGET pairs in all."""
    per_row = sizes.group_by(L).agg(pl.col("__n").sum()).sort(L)
    chunk = (per_row["__n"].cum_sum() // PAIR_BUDGET).alias("__chunk")
    ranges = (
        per_row.with_columns(chunk)
        .group_by("__chunk")
        .agg(pl.col(L).min().alias("low"), pl.col(L).max().alias("high"))
        .sort("low")
    )
    return list(zip(ranges["low"].to_list(), ranges["high"].to_list(), strict=True))


def _score_text(frame: pl.DataFrame, plans: list[Plan], prepared: PreparedValues) -> pl.DataFrame:
    for k, plan in enumerate(plans):
        if not isinstance(plan, TextPlan) or score_column(k) in frame.columns:
            continue
        strings = (
            prepared.strings("left", plan.left, frame[L].to_numpy()),
            prepared.strings("right", plan.right, frame[R].to_numpy()),
        )
        scores = pair_scores(*strings, plan.scorer, plan.minimum)
        frame = frame.with_columns(pl.Series(score_column(k), scores / 100.0)).filter(
            pl.Series(scores >= plan.minimum)
        )
    return frame


def _text_only(
    rows: tuple[pl.Series, pl.Series], plans: list[Plan], prepared: PreparedValues
) -> pl.DataFrame:
    """No key to join on: the first condition scores the full matrix, in slices of rows."""
    first = plans[0]
    assert isinstance(first, TextPlan)  # noqa: S101 - the caller checked
    lrows = _complete_rows(rows[0], plans, prepared, "left")
    rrows = _complete_rows(rows[1], plans, prepared, "right")
    lpos, rpos, scores = all_pairs_above(
        prepared.strings("left", first.left, lrows.to_numpy()),
        prepared.strings("right", first.right, rrows.to_numpy()),
        first.scorer,
        first.minimum,
        PAIR_BUDGET,
    )
    pairs = pl.DataFrame(
        {L: lrows.gather(lpos), R: rrows.gather(rpos), score_column(0): scores / 100.0}
    )
    return _score_text(pairs, plans, prepared)


def _complete_rows(
    rows: pl.Series, plans: list[Plan], prepared: PreparedValues, side: str
) -> pl.Series:
    """The rows with a value for every condition."""
    values = {
        str(k): prepared.gather(side, plan.left if side == "left" else plan.right, rows)
        for k, plan in enumerate(plans)
    }
    return pl.DataFrame({"__row": rows, **values}).drop_nulls().get_column("__row")


def _empty(plans: list[Plan]) -> pl.DataFrame:
    columns: dict[str, pl.DataType] = {L: pl.UInt32(), R: pl.UInt32()}
    for k, plan in enumerate(plans):
        if not isinstance(plan, KeyPlan):
            columns[score_column(k)] = pl.Float64()
    return pl.DataFrame(schema=columns)
