"""Similarity scores through rapidfuzz's batch APIs, never a Python loop per pair.

Two ways to score the candidate pairs of one condition:
- `cpdist` over the pairs themselves: every scorer, about 1-5 million pairs a second.
- `cdist` over a block: when many pairs share a join key (a block), the block's distinct
  left strings x distinct right strings form one matrix, which rapidfuzz fills with SIMD
  for the scorers in BLOCK_SCORERS (10-40 million pairs a second); each pair then reads
  its cell. Used when a block has at least MIN_BLOCK_PAIRS pairs and its matrix is at
  most MAX_MATRIX_WASTE times the pairs it serves. Both give identical scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from engine.matching.schemas import L, R

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
BLOCK_SCORERS = frozenset({"ratio", "QRatio", "token_sort_ratio", "jaro_winkler"})
MIN_BLOCK_PAIRS = 2_048
MAX_MATRIX_WASTE = 4
POSITION = "__pos"
BLOCK_PAIRS = "__bn"


def pair_scores(left: pl.Series, right: pl.Series, scorer: str, minimum: float) -> np.ndarray:
    """Scores (0-100) of equally long string series, pair by pair, in one batch."""
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


def matrix_scores(left: list[str], right: list[str], scorer: str, minimum: float) -> np.ndarray:
    """The len(left) x len(right) matrix of scores (0-100), below `minimum` as 0."""
    scale = SCALE.get(scorer, 1.0)
    raw = process.cdist(
        left,
        right,
        scorer=SCORERS[scorer],
        score_cutoff=minimum / scale,
        dtype=np.float64,
        workers=-1,
    )
    return np.asarray(raw, dtype=np.float64) * scale


def candidate_scores(
    frame: pl.DataFrame, columns: tuple[str, str], scorer: str, minimum: float, keys: list[str]
) -> np.ndarray:
    """Scores of every candidate in `frame`, by blocks of `keys` where that pays."""
    lcol, rcol = columns
    if scorer not in BLOCK_SCORERS or frame.height < MIN_BLOCK_PAIRS:
        return pair_scores(frame[lcol], frame[rcol], scorer, minimum)
    block = pl.len().over(keys) if keys else pl.len()
    marked = frame.with_row_index(POSITION).with_columns(block.alias(BLOCK_PAIRS))
    scores = np.zeros(frame.height, dtype=np.float64)
    small = marked.filter(pl.col(BLOCK_PAIRS) < MIN_BLOCK_PAIRS)
    scores[small[POSITION].to_numpy()] = pair_scores(small[lcol], small[rcol], scorer, minimum)
    big = marked.filter(pl.col(BLOCK_PAIRS) >= MIN_BLOCK_PAIRS)
    blocks = big.partition_by(keys, maintain_order=True) if keys else [big]
    for part in blocks:
        scores[part[POSITION].to_numpy()] = _block_scores(part, columns, scorer, minimum)
    return scores


def _block_scores(
    block: pl.DataFrame, columns: tuple[str, str], scorer: str, minimum: float
) -> np.ndarray:
    lrows, lfirst, lcell = np.unique(block[L].to_numpy(), return_index=True, return_inverse=True)
    rrows, rfirst, rcell = np.unique(block[R].to_numpy(), return_index=True, return_inverse=True)
    if lrows.size * rrows.size > MAX_MATRIX_WASTE * block.height:
        return pair_scores(block[columns[0]], block[columns[1]], scorer, minimum)
    lefts = block[columns[0]].gather(lfirst).to_list()
    rights = block[columns[1]].gather(rfirst).to_list()
    return matrix_scores(lefts, rights, scorer, minimum)[lcell, rcell]


def all_pairs_above(
    left: pl.Series, right: pl.Series, scorer: str, minimum: float, budget: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (left position, right position, score) with score >= minimum, by matrix rows."""
    step = max(1, budget // max(right.len(), 1))
    rights = right.to_list()
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, left.len(), step):
        matrix = matrix_scores(left.slice(start, step).to_list(), rights, scorer, minimum)
        rows, cols = np.nonzero(matrix >= minimum)
        found.append((rows + start, cols, matrix[rows, cols]))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    return tuple(np.concatenate(part) for part in zip(*found, strict=True))  # type: ignore[return-value]
