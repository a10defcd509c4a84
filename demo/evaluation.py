"""Scoring decisions against a ground truth (the demo's and the benchmarks')."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

PAIR = ["left_id", "right_id"]


@dataclass(frozen=True)
class Accuracy:
    """Pair-level precision and recall; `auto_precision` counts only `matched` decisions,
    `auto_recall` the true pairs decided `matched`."""

    precision: float
    recall: float
    f1: float
    auto_precision: float
    auto_recall: float
    true_pairs: int
    decided_pairs: int


def accuracy(matches: pl.DataFrame, truth: pl.DataFrame) -> Accuracy:
    """Compare decided (left_id, right_id) pairs with the true pairs."""
    truth_pairs = truth.select(pl.col(PAIR).cast(pl.String)).unique()
    decided = matches.select(*PAIR, "status").with_columns(pl.col(PAIR).cast(pl.String))
    hits = decided.join(truth_pairs, on=PAIR, how="semi")
    auto = decided.filter(pl.col("status") == "matched")
    auto_hits = hits.filter(pl.col("status") == "matched").height
    precision = _ratio(hits.height, decided.height)
    recall = _ratio(hits.height, truth_pairs.height)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return Accuracy(
        precision=precision,
        recall=recall,
        f1=f1,
        auto_precision=_ratio(auto_hits, auto.height),
        auto_recall=_ratio(auto_hits, truth_pairs.height),
        true_pairs=truth_pairs.height,
        decided_pairs=decided.height,
    )


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
