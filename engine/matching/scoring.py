"""Scoring candidates: similarity in batches through rapidfuzz, and the base confidence.

Every condition scores in [0, 1]: equals 1; within and within_days 1 at no difference
falling linearly to 0.5 at the tolerance; similar the rapidfuzz score / 100. A pair's base
confidence is the mean of its condition scores (see docs/matching.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from engine.matching.candidates import block_sizes, joined, key_frames
from engine.matching.conditions import KeyPlan, Plan, TextPlan
from engine.matching.schemas import BASE, L, R, score_column, value_column

PAIR_BUDGET = 4_000_000  # candidate pairs materialized at once, before the residual filter

SCORERS: dict[str, Callable[..., Any]] = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "WRatio": fuzz.WRatio,
    "QRatio": fuzz.QRatio,
    "jaro_winkler": JaroWinkler.normalized_similarity,
}
SCALE = {"jaro_winkler": 100.0}  # scorers that answer 0-1 instead of 0-100


def scored_candidates(left: pl.DataFrame, right: pl.DataFrame, plans: list[Plan]) -> pl.DataFrame:
    """Every pair that satisfies all conditions, with one score per condition and BASE."""
    spec = key_frames(left, right, plans)
    chunks = [_score_text(chunk, plans) for chunk in _chunks(spec, plans)]
    frame = pl.concat(chunks) if chunks else _empty(plans)
    scores = [
        pl.lit(1.0).alias(score_column(k)) for k, p in enumerate(plans) if isinstance(p, KeyPlan)
    ]
    frame = frame.with_columns(scores)
    names = [score_column(k) for k in range(len(plans))]
    return frame.select(L, R, *names, pl.mean_horizontal(names).alias(BASE))


def _chunks(spec: Any, plans: list[Plan]) -> Iterator[pl.DataFrame]:
    bounds = _left_chunks(block_sizes(spec).collect(engine="streaming"))
    for low, high in bounds:
        part = type(spec)(
            spec.left.filter(pl.col(L).is_between(low, high)),
            spec.right,
            spec.left_on,
            spec.right_on,
        )
        yield joined(part, plans).collect(engine="streaming")


def _left_chunks(sizes: pl.DataFrame) -> list[tuple[int, int]]:
    """Ranges of left rows whose blocks hold about PAIR_BUDGET pairs in all."""
    if sizes.height == 0:
        return []
    per_row = sizes.group_by(L).agg(pl.col("__n").sum()).sort(L)
    chunk = (per_row["__n"].cum_sum() // PAIR_BUDGET).alias("__chunk")
    ranges = (
        per_row.with_columns(chunk)
        .group_by("__chunk")
        .agg(pl.col(L).min().alias("low"), pl.col(L).max().alias("high"))
        .sort("low")
    )
    return list(zip(ranges["low"].to_list(), ranges["high"].to_list(), strict=True))


def _score_text(frame: pl.DataFrame, plans: list[Plan]) -> pl.DataFrame:
    for k, plan in enumerate(plans):
        if not isinstance(plan, TextPlan):
            continue
        lcol, rcol = value_column("left", k), value_column("right", k)
        scores = similarity(frame[lcol], frame[rcol], plan.scorer, plan.minimum)
        frame = (
            frame.with_columns(pl.Series(score_column(k), scores / 100.0))
            .filter(pl.Series(scores >= plan.minimum))
            .drop(lcol, rcol)
        )
    return frame


def similarity(left: pl.Series, right: pl.Series, scorer: str, minimum: float) -> np.ndarray:
    """Pairwise scores (0-100) of two equally long string series, in one batch."""
    if left.len() == 0:
        return np.zeros(0, dtype=np.float64)
    scale = SCALE.get(scorer, 1.0)
    raw = process.cpdist(
        left.to_list(),
        right.to_list(),
        scorer=SCORERS[scorer],
        score_cutoff=minimum / scale,
        dtype=np.float64,
        workers=-1,
    )
    return np.asarray(raw, dtype=np.float64) * scale


def _empty(plans: list[Plan]) -> pl.DataFrame:
    columns: dict[str, pl.DataType] = {L: pl.UInt32(), R: pl.UInt32()}
    for k, plan in enumerate(plans):
        if not isinstance(plan, KeyPlan):
            columns[score_column(k)] = pl.Float64()
    return pl.DataFrame(schema=columns)
