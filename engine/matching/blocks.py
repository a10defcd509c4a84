"""Big blocks: keys whose candidates are scored as one similarity matrix.

In a rule with a `similar` condition, the candidates of one key (exact values plus grid
buckets) are that key's left entries x right entries, less the pairs the range tests
remove. When a key holds at least BIG_BLOCK such pairs, the key's two slices of strings go
straight to `rapidfuzz.process.cdist` (each string prepared once, SIMD for short strings,
about 16 million cells a second a thread against about 4 million pairs a second for
`cpdist`), which keeps the cells at or above `min`; the range tests then run on those
cells. A matrix call has a fixed cost (4-8 us of Python and conversions under the GIL,
measured on 2026-12-01 evening) and scores the cells out of range too (41-46% of the big
keys' cells on the 1M benchmark, about two thirds in keys of 16-256 cells), so in a rule
with range conditions smaller keys go pair by pair: on the 1M benchmark a threshold of 64
cells took 4.2 s, 512 to 8,192 cells 3.8-3.9 s, matrices never 5.9 s. In a rule without
range conditions every cell is a candidate and `cpdist` costs 150-450 ns a pair against
20-60 ns a cell, so keys are matrices from EXACT_BLOCK (32) cells: on 1M people records
the birth-date-and-name rule's keys of 32-256 cells took 0.22 s as matrices against 0.41 s
pair by pair, the whole CLI run 2.42 s against 2.82 s (medians of 7 alternating runs).
Matrices of up to WHOLE_MATRIX cells are read in bulk, many at once (`kept_cells`).
A pair within tolerance meets in exactly one key, so nothing is found twice. The keys are
scored in batches of about equal cells on polars' thread pool size in threads (rapidfuzz
releases the GIL while it scores), with every key's strings looked up once beforehand.
Lowering the threshold to 256 or 512 cells moved no measurable work off `cpdist`: the
pairs left there sit in keys of a few rows. Measured on 1M x 1M people records matched on
birth date (blocks of about 50 x 50) and name similarity: 63 s joined and scored pair by
pair, 6.9 s as matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import polars as pl

from engine.matching.candidates import Blocks, positions
from engine.matching.conditions import TextPlan
from engine.matching.similarity import (
    PARALLEL_CELLS,
    Found,
    cells_above,
    joined,
    kept_cells,
    raw_matrix,
)

BIG_BLOCK = 1024  # cells; below it a matrix call costs more than cpdist on the pairs in range
# cells, for a rule without range conditions: every cell of a key is then a candidate, and
# from about 32 cells one `cdist` call (its per-call cost about 4-8 us, under the GIL)
# costs less than `cpdist` on the same pairs (150-450 ns a pair, against 20-60 ns a cell)
EXACT_BLOCK = 32
# a key of at most this many cells is one `cdist` call on its thread, and the cells of many
# such matrices are read at once (`kept_cells`); a larger key is scored in slices on every core
WHOLE_MATRIX = PARALLEL_CELLS
BATCHES_PER_THREAD = 4  # batches of big keys per scoring thread, to even out their ends
Lookup = Callable[[np.ndarray], np.ndarray]


def split_big_blocks(found: Blocks, *, ranged: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, end) left entry of every big key, and the left entries of the other keys
    that meet at least one right entry. A key is big from BIG_BLOCK cells in a rule with
    range conditions (`ranged`), from EXACT_BLOCK cells in one without."""
    keys = found.left.keys
    if keys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], keys.size]
    counts = found.counts
    big = (ends - starts) * counts[starts] >= (BIG_BLOCK if ranged else EXACT_BLOCK)
    in_big = np.repeat(big, ends - starts)
    return starts[big], ends[big], np.flatnonzero(~in_big & (counts > 0))


def score_big_blocks(
    found: Blocks,
    spans: tuple[np.ndarray, np.ndarray],
    lookups: tuple[Lookup, Lookup],
    plan: TextPlan,
    budget: int,
) -> Found:
    """(left entry, right entry, score 0-100) of every cell of the big keys at or above
    the plan's `min`; `lookups` give each side's strings by row number.

    The strings of every big key are looked up and listed once, and the keys are scored
    in a few batches of about equal cells per thread: per key, only the `cdist` call and
    the reading of the cells it kept remain (about 185 µs of Python and numpy a key
    before, on 700 keys of the 1M benchmark, under the GIL)."""
    starts, ends = spans
    if starts.size == 0:
        return joined([])
    lows = found.lo[starts]
    lsizes, rsizes = ends - starts, found.counts[starts]
    lstrings = lookups[0](found.left.rows[positions(starts, lsizes)]).tolist()
    rstrings = lookups[1](found.right.rows[positions(lows, rsizes)]).tolist()
    loffsets = np.r_[0, np.cumsum(lsizes)].tolist()
    roffsets = np.r_[0, np.cumsum(rsizes)].tolist()
    firsts, lowest = starts.tolist(), lows.tolist()
    first_entry, low_entry = starts.astype(np.int64), lows.astype(np.int64)

    def score(batch: tuple[int, int]) -> Found:
        parts: list[Found] = []
        matrices: list[np.ndarray] = []
        keys: list[int] = []

        def read_matrices() -> None:
            if matrices:
                which, rows, cols, scores = kept_cells(matrices, plan.scorer, plan.minimum)
                key = np.asarray(keys, dtype=np.int64)[which]
                parts.append((rows + first_entry[key], cols + low_entry[key], scores))
                matrices.clear()
                keys.clear()

        held = 0
        for key in range(*batch):
            lefts = lstrings[loffsets[key] : loffsets[key + 1]]
            rights = rstrings[roffsets[key] : roffsets[key + 1]]
            cells = len(lefts) * len(rights)
            if cells > WHOLE_MATRIX:
                read_matrices()
                lpos, rpos, scores = cells_above(lefts, rights, plan.scorer, plan.minimum, budget)
                parts.append((lpos + firsts[key], rpos + lowest[key], scores))
                continue
            if held + cells > budget:
                read_matrices()
                held = 0
            matrices.append(raw_matrix(lefts, rights, plan.scorer, plan.minimum))
            keys.append(key)
            held += cells
        read_matrices()
        return joined(parts)

    threads = pl.thread_pool_size()
    batches = _batches(lsizes * rsizes, threads * BATCHES_PER_THREAD)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return joined(list(pool.map(score, batches)))


def _batches(cells: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Consecutive runs of keys, `count` at most, of about equal cells."""
    total = np.cumsum(cells)
    cuts = np.searchsorted(total, np.arange(1, count) * (total[-1] / count), "right")
    bounds = np.unique(np.r_[0, cuts, cells.size]).tolist()
    return [(a, b) for a, b in pairwise(bounds) if b > a]
