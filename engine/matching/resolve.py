"""One-to-one conflict resolution and the ambiguity part of confidence.

Confidence = base x ambiguity factor. The factor is 1 when the pair beats its best rival
(any other candidate sharing its left or right row) by at least AMBIGUITY_MARGIN, and falls
linearly to TIE_FACTOR when the rival scores as high: a coin toss is never a sure match.

Candidates are ranked by (confidence desc, degree asc, left id asc, right id asc), where
degree is how many candidates share either row; row numbers follow id order, so the rank
never depends on input row order. Resolution is the greedy matching over that rank: a pair
is accepted when neither row was taken by a better-ranked pair. Pairs whose rows have no
other candidate are accepted at once; the contested rest is sorted by the rank and walked
in order with a flag per row.

The work is done on numpy arrays of row numbers: counts per row are `bincount`s, the best
and second-best base per row are `maximum.at` scatters, the rank is one sort of a packed
integer key (a lexsort when the key does not fit in 64 bits), and the walk goes in chunks:
a vectorized test first drops the pairs of the chunk whose rows earlier chunks took, and
only the rest goes through the Python loop (for 7.4 million contested pairs of an
amount-and-date rule, about 0.6 million loop steps instead of 7.4 million). Pairs and
many-to-one groups share that walk (`_walk`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from engine.matching.schemas import BASE, CONF, RIVAL, L, R

AMBIGUITY_MARGIN = 0.1
TIE_FACTOR = 0.4
CHUNK = 2048  # pairs or groups per vectorized "already taken" test of the greedy walk
NO_RIVAL = -np.inf
ALONE = 2  # the degree of a pair whose rows have no other candidate
KEY_BITS = 64

Rows = npt.NDArray[np.intp]
Floats = npt.NDArray[np.float64]


def resolve_one_to_one(candidates: pl.DataFrame) -> pl.DataFrame:
    """The accepted pairs, with CONF and RIVAL: each left and right row at most once, best
    rank first.

    Pairs whose rows have no other candidate come first, as they are (no rival, so
    confidence = base); then the accepted contested pairs in rank order.
    """
    lefts, rights = rows(candidates, L), rows(candidates, R)
    degree = np.bincount(lefts)[lefts] + np.bincount(rights)[rights]
    alone = degree == ALONE
    uncontested = candidates.filter(alone).with_columns(
        pl.col(BASE).alias(CONF), pl.lit(NO_RIVAL).alias(RIVAL)
    )
    contested = np.flatnonzero(~alone)
    if contested.size == 0:
        return uncontested
    lefts, rights, degree = lefts[contested], rights[contested], degree[contested]
    base = candidates.get_column(BASE).to_numpy()[contested]
    rival = np.maximum(best_rival(lefts, base), best_rival(rights, base))
    conf = confidence(base, rival)
    order = rank_order([descending(conf), degree, lefts, rights])
    won = order[greedy(lefts[order], rights[order])]
    accepted = candidates[contested[won]].with_columns(
        pl.Series(CONF, conf[won]), pl.Series(RIVAL, rival[won])
    )
    return pl.concat([uncontested, accepted])


def rows(frame: pl.DataFrame, column: str) -> Rows:
    """A column of row numbers as an index array."""
    return frame.get_column(column).to_numpy().astype(np.intp, copy=False)


def best_rival(keys: Rows, base: Floats) -> Floats:
    """Per candidate: the best base among the other candidates with the same key, or
    NO_RIVAL if there is none.

    The best base of a key is every candidate's rival except the best's own when it is the
    only one that high: its rival is the best base below it."""
    if keys.size == 0:
        return np.empty(0)
    size = int(keys.max()) + 1
    if keys.size * 4 < size:  # few keys spread wide: number them densely first
        distinct, keys = np.unique(keys, return_inverse=True)
        size = distinct.size
    best = np.full(size, NO_RIVAL)
    np.maximum.at(best, keys, base)
    top = best[keys]
    is_top = base == top
    tops = np.bincount(keys[is_top], minlength=size)
    below = np.full(size, NO_RIVAL)
    np.maximum.at(below, keys, np.where(is_top, NO_RIVAL, base))
    rival: Floats = np.where(is_top & (tops[keys] == 1), below[keys], top)
    return rival


def confidence(base: Floats, rival: Floats) -> Floats:
    """base x factor; the factor goes from TIE_FACTOR (rival as good) to 1 (margin reached,
    or NO_RIVAL). Polars arithmetic on purpose: it divides by a constant as a product by
    its inverse, which numpy does not, and the decisions' bytes depend on it."""
    margin = pl.col("base") - pl.col("rival")
    factor = TIE_FACTOR + (1 - TIE_FACTOR) * (margin / AMBIGUITY_MARGIN).clip(0.0, 1.0)
    frame = pl.DataFrame({"base": base, "rival": rival})
    result: Floats = frame.select(pl.col("base") * factor).to_series().to_numpy()
    return result


def descending(values: Floats) -> Rows:
    """Dense ranks with the highest value first (0), for an ascending integer sort key."""
    distinct = np.sort(pl.Series(values).unique().to_numpy())
    ranks: Rows = distinct.size - 1 - np.searchsorted(distinct, values)
    return ranks


def rank_order(keys: list[Rows]) -> Rows:
    """The permutation sorting by the non-negative integer `keys`, first most significant,
    which together must tell every row apart. The keys are packed into as few unsigned
    64-bit words as hold them, in order; one word is one sort, more a lexsort of the words,
    far cheaper than a lexsort of every key."""
    widths = [max(int(key.max()).bit_length(), 1) if key.size else 1 for key in keys]
    words: list[np.ndarray] = []
    used = KEY_BITS
    for key, width in zip(keys, widths, strict=True):
        if width > KEY_BITS:  # pragma: no cover - row numbers and ranks are far smaller
            return np.lexsort(keys[::-1])
        if used + width > KEY_BITS:
            words.append(np.zeros(keys[0].size, dtype=np.uint64))
            used = 0
        words[-1] = (words[-1] << np.uint64(width)) | key.astype(np.uint64)
        used += width
    if len(words) == 1:
        order: Rows = np.argsort(words[0])
        return order
    lexical: Rows = np.lexsort(words[::-1])
    return lexical


def greedy(lefts: Rows, rights: Rows) -> Rows:
    """Positions of the pairs the greedy accepts; pairs in rank order."""
    if lefts.size == 0:
        return np.empty(0, dtype=np.intp)
    return _walk(lefts, rights, None)


def greedy_groups(lefts: Rows, rights: Rows, starts: Rows) -> Rows:
    """Numbers of the groups the greedy accepts, ascending; groups in rank order, group g
    is the left row lefts[g] with the distinct right rows rights[starts[g]:starts[g + 1]].

    A group is accepted when none of its rows was taken by a better group. Groups that
    share no row with another are accepted at once; the rest are walked like `greedy`."""
    if lefts.size == 0:
        return np.empty(0, dtype=np.intp)
    sizes = np.diff(starts, append=rights.size)
    shared = (np.bincount(lefts)[lefts] > 1) | np.logical_or.reduceat(
        np.bincount(rights)[rights] > 1, starts
    )
    contested = np.flatnonzero(shared)
    if contested.size == 0:
        return np.flatnonzero(~shared)
    sizes = sizes[contested]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    edges = np.repeat(starts[contested] - bounds[:-1], sizes) + np.arange(bounds[-1])
    won = contested[_walk(lefts[contested], rights[edges], bounds)]
    accepted: Rows = np.sort(np.concatenate([np.flatnonzero(~shared), won]))
    return accepted


def _walk(lefts: Rows, rights: Rows, bounds: Rows | None) -> Rows:
    """Positions of the groups the greedy accepts, in rank order: group g is the left row
    lefts[g] with the right rows rights[bounds[g]:bounds[g + 1]] (with no `bounds`, the one
    right row rights[g]); a group is accepted when none of its rows is taken yet.

    The walk goes CHUNK groups at a time: one vectorized test drops the groups whose rows
    earlier chunks took, and only the rest go through the Python loop, which also sees
    the rows taken within the chunk."""
    used_l, used_r = bytearray(int(lefts.max()) + 1), bytearray(int(rights.max()) + 1)
    taken_l, taken_r = np.frombuffer(used_l, np.uint8), np.frombuffer(used_r, np.uint8)
    all_r: list[int] = rights.tolist() if bounds is not None else []
    ends: list[int] = bounds.tolist() if bounds is not None else []
    keep: list[int] = []
    for first in range(0, lefts.size, CHUNK):
        taken = taken_l[lefts[first : first + CHUNK]]
        if bounds is None:
            taken = taken | taken_r[rights[first : first + CHUNK]]
        else:
            chunk = bounds[first : first + CHUNK + 1]
            members = taken_r[rights[chunk[0] : chunk[-1]]]
            taken = taken | np.logical_or.reduceat(members, chunk[:-1] - chunk[0])
        open_ = np.flatnonzero(taken == 0) + first
        if bounds is None:  # one right row a group: the loop's hottest case, kept lean
            walk = zip(open_.tolist(), lefts[open_].tolist(), rights[open_].tolist(), strict=True)
            for group, left, right in walk:
                if not used_l[left] and not used_r[right]:
                    used_l[left] = used_r[right] = 1
                    keep.append(group)
            continue
        for group, left in zip(open_.tolist(), lefts[open_].tolist(), strict=True):
            span = all_r[ends[group] : ends[group + 1]]
            if used_l[left] or any(map(used_r.__getitem__, span)):
                continue
            used_l[left] = 1
            for right in span:
                used_r[right] = 1
            keep.append(group)
    return np.array(keep, dtype=np.intp)
