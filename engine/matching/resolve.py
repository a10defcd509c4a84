"""One-to-one conflict resolution and the ambiguity part of confidence.

Confidence = base x ambiguity factor. The factor is 1 when the pair beats its best rival
(any other candidate sharing its left or right row) by at least AMBIGUITY_MARGIN, and falls
linearly to TIE_FACTOR when the rival scores as high: a coin toss is never a sure match.

Candidates are ranked by (confidence desc, degree asc, left id asc, right id asc), where
degree is how many candidates share either row; row numbers follow id order, so the rank
never depends on input row order. Resolution is the greedy matching over that rank: a pair
is accepted when neither row was taken by a better-ranked pair. Pairs whose rows have no
other candidate are accepted at once; a vectorized round of "accept every pair that is the
best for both its rows" (which agrees exactly with the greedy) settles most conflicts; the
chains of conflicts it leaves go through a plain loop over the remaining pairs in rank
order (a flag per row, about 0.3 microseconds a pair).
"""

from __future__ import annotations

import polars as pl

from engine.matching.schemas import BASE, CONF, L, R

AMBIGUITY_MARGIN = 0.1
TIE_FACTOR = 0.4
MAX_ROUNDS = 1  # vectorized rounds; what they leave (chains of conflicts) goes to the loop
ORDER = "__ord"
DEGREE = "__deg"  # candidates sharing the left row + those sharing the right row


def with_confidence(candidates: pl.DataFrame) -> pl.DataFrame:
    """Add CONF: the base confidence times the ambiguity factor against the best rival."""
    frame = with_rival(with_rival(candidates, L, "__rl"), R, "__rr")
    best_rival = pl.max_horizontal("__rl", "__rr")
    degree = pl.col("__rl_n") + pl.col("__rr_n")
    return frame.with_columns(
        confidence(pl.col(BASE), best_rival).alias(CONF), degree.alias(DEGREE)
    ).drop("__rl", "__rr", "__rl_n", "__rr_n")


def confidence(base: pl.Expr, best_rival: pl.Expr) -> pl.Expr:
    """base x factor; the factor goes from TIE_FACTOR (rival as good) to 1 (margin reached)."""
    margin = (base - best_rival).fill_null(1.0)
    factor = TIE_FACTOR + (1 - TIE_FACTOR) * (margin / AMBIGUITY_MARGIN).clip(0.0, 1.0)
    return base * factor


def with_rival(frame: pl.DataFrame, key: str, name: str) -> pl.DataFrame:
    """Add `name`: the best BASE among the other candidates sharing `key` (null if none),
    and `name`_n: how many candidates share `key`.

    Plain group-by aggregations joined back (a windowed top-2, or a filter inside the
    aggregation, is several times slower)."""
    base = pl.col(BASE)
    best = frame.group_by(key).agg(base.max().alias("__best"), pl.len().alias("__n"))
    marked = frame.join(best, on=key).with_columns(
        pl.when(base < pl.col("__best")).then(base).alias("__below"),
        (base == pl.col("__best")).alias("__is_best"),
    )
    second = marked.group_by(key).agg(
        pl.col("__below").max().alias("__second"), pl.col("__is_best").sum().alias("__nbest")
    )
    only_best = pl.col("__is_best") & (pl.col("__nbest") == 1)
    best_rival = (
        pl.when(pl.col("__n") == 1)
        .then(None)
        .when(only_best)
        .then(pl.col("__second"))
        .otherwise(pl.col("__best"))
    )
    return (
        marked.join(second, on=key)
        .with_columns(best_rival.alias(name), pl.col("__n").alias(f"{name}_n"))
        .drop("__best", "__n", "__below", "__is_best", "__second", "__nbest")
    )


def ranked(candidates: pl.DataFrame) -> pl.DataFrame:
    """Candidates (from `with_confidence`) sorted by the documented total order, with
    their rank in ORDER."""
    return (
        candidates.sort([CONF, DEGREE, L, R], descending=[True, False, False, False])
        .drop(DEGREE)
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
    """Plain greedy over what the rounds left, in rank order."""
    if remaining.get_column(ORDER).is_unique().all():
        return _greedy_pairs(remaining.sort(ORDER))
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


def _greedy_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """The greedy over pairs sorted by rank, with a flag per row: about 0.3 us a pair."""
    lefts = pairs.get_column(L).to_list()
    rights = pairs.get_column(R).to_list()
    used_l = bytearray(max(lefts) + 1)
    used_r = bytearray(max(rights) + 1)
    keep = bytearray(len(lefts))
    for i, (left, right) in enumerate(zip(lefts, rights, strict=True)):
        if not used_l[left] and not used_r[right]:
            used_l[left] = used_r[right] = keep[i] = 1
    mask = pl.Series(memoryview(keep)).cast(pl.Boolean)
    return pairs.filter(mask).select(ORDER)
