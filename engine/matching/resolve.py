"""One-to-one conflict resolution and the ambiguity part of confidence.

Confidence = base x ambiguity factor. The factor is 1 when the pair beats its best rival
(any other candidate sharing its left or right row) by at least AMBIGUITY_MARGIN, and falls
linearly to TIE_FACTOR when the rival scores as high: a coin toss is never a sure match.

Candidates are ranked by (confidence desc, degree asc, left id asc, right id asc), where
degree is how many candidates share either row; row numbers follow id order, so the rank
never depends on input row order. Resolution is the greedy matching over that rank: a pair
is accepted when neither row was taken by a better-ranked pair. It runs as rounds of
"accept every pair that is the best remaining for both its rows", which gives exactly the
greedy result, vectorized; a long chain of conflicts finishes in a plain greedy loop.
"""

from __future__ import annotations

import polars as pl

from engine.matching.schemas import BASE, CONF, L, R

AMBIGUITY_MARGIN = 0.1
TIE_FACTOR = 0.4
MAX_ROUNDS = 12
ORDER = "__ord"


def with_confidence(candidates: pl.DataFrame) -> pl.DataFrame:
    """Add CONF: the base confidence times the ambiguity factor against the best rival."""
    best_rival = pl.max_horizontal(rival(BASE, L), rival(BASE, R))
    return candidates.with_columns(confidence(pl.col(BASE), best_rival).alias(CONF))


def confidence(base: pl.Expr, best_rival: pl.Expr) -> pl.Expr:
    """base x factor; the factor goes from TIE_FACTOR (rival as good) to 1 (margin reached)."""
    margin = (base - best_rival).fill_null(1.0)
    factor = TIE_FACTOR + (1 - TIE_FACTOR) * (margin / AMBIGUITY_MARGIN).clip(0.0, 1.0)
    return base * factor


def rival(score: str, key: str) -> pl.Expr:
    """Best score among the other candidates sharing `key` (null when there are none)."""
    best = pl.col(score).max().over(key)
    count_best = (pl.col(score) == best).sum().over(key)
    second = pl.col(score).top_k(2).min().over(key)
    alone = pl.len().over(key) == 1
    is_best = (pl.col(score) == best) & (count_best == 1)
    return pl.when(alone).then(None).when(is_best).then(second).otherwise(best)


def ranked(candidates: pl.DataFrame) -> pl.DataFrame:
    """Candidates sorted by the documented total order, with their rank in ORDER."""
    degree = pl.len().over(L) + pl.len().over(R)
    return (
        candidates.with_columns(degree.alias("__deg"))
        .sort([CONF, "__deg", L, R], descending=[True, False, False, False])
        .drop("__deg")
        .with_row_index(ORDER)
    )


def resolve_one_to_one(candidates: pl.DataFrame) -> pl.DataFrame:
    """The accepted pairs: each left and right row at most once, best rank first.

    Pairs whose rows have no other candidate are accepted as they are (no rival, so
    confidence = base); only the contested rest is ranked and resolved.
    """
    alone = (pl.len().over(L) == 1) & (pl.len().over(R) == 1)
    flagged = candidates.with_columns(alone.alias("__alone"))
    uncontested = flagged.filter("__alone").drop("__alone").with_columns(pl.col(BASE).alias(CONF))
    contested = ranked(with_confidence(flagged.filter(~pl.col("__alone")).drop("__alone")))
    won = accept_greedy(contested.select(ORDER, L, R))
    accepted = contested.join(won, on=ORDER, how="semi").select(uncontested.columns)
    return pl.concat([uncontested, accepted])


def accept_greedy(edges: pl.DataFrame) -> pl.DataFrame:
    """ORDERs of the groups the greedy accepts; `edges` has one row per (group, L, R).

    A group (one ORDER) is accepted when, on every row it touches, it is the best-ranked
    group still open; its rows are then closed. For pairs this is the classic greedy.
    """
    remaining = edges
    accepted: list[pl.DataFrame] = []
    for _ in range(MAX_ROUNDS):
        if remaining.height == 0:
            break
        won = _locally_best(remaining)
        accepted.append(won.select(ORDER).unique())
        lost = pl.concat(
            [
                remaining.join(won.select(L).unique(), on=L, how="semi").select(ORDER),
                remaining.join(won.select(R).unique(), on=R, how="semi").select(ORDER),
            ]
        )
        remaining = remaining.join(lost, on=ORDER, how="anti")
    if remaining.height:
        accepted.append(_greedy(remaining))
    if not accepted:
        return edges.select(ORDER).clear()
    return pl.concat(accepted)


def _locally_best(edges: pl.DataFrame) -> pl.DataFrame:
    """Rows of the groups that rank first on every row they touch."""
    best = (pl.col(ORDER) == pl.col(ORDER).min().over(L)) & (
        pl.col(ORDER) == pl.col(ORDER).min().over(R)
    )
    flagged = edges.with_columns(best.alias("__best"))
    beaten = flagged.filter(~pl.col("__best")).select(ORDER)
    return flagged.join(beaten, on=ORDER, how="anti").drop("__best")


def _greedy(remaining: pl.DataFrame) -> pl.DataFrame:
    """Plain greedy over groups in rank order; only for long chains of conflicts."""
    groups = remaining.sort(ORDER).group_by(ORDER, maintain_order=True).agg(L, R)
    used_l: set[int] = set()
    used_r: set[int] = set()
    keep: list[int] = []
    for order, lefts, rights in groups.iter_rows():
        if used_l.isdisjoint(lefts) and used_r.isdisjoint(rights):
            used_l.update(lefts)
            used_r.update(rights)
            keep.append(order)
    return pl.DataFrame({ORDER: keep}, schema={ORDER: remaining.schema[ORDER]})
