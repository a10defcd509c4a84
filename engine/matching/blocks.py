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
A pair within tolerance meets in exactly one key, so nothing is found twice. Every key's
strings are looked up once beforehand; keys of HEAVY_KEY cells or more are scored in
batches of about equal cells on polars' thread pool size in threads (rapidfuzz releases
the GIL while it scores), lighter ones on the calling thread meanwhile (their cost is the
Python around each call, under the GIL, where more threads only queue). In the bank
benchmark's rules (with range conditions), lowering BIG_BLOCK to 256 or 512 cells moved no
measurable work off `cpdist`: most pairs left there sit in keys of a few rows. Measured on
1M x 1M people records matched on birth date (blocks of about 50 x 50) and name
similarity: 63 s joined and scored pair by pair, 6.9 s as matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import polars as pl

from engine.matching.candidates import Blocks, positions, runs
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
BATCHES_PER_THREAD = 4  # batches of heavy keys per scoring thread, to even out their ends
# cells; a key this big is scored on the thread pool: its `cdist` work outweighs the Python
# around the call (about 6-8 us a key under the GIL; 1,024 cells take 20-60 us)
HEAVY_KEY = 1024
# cells of small matrices held before their kept cells are read at once: a few MB, so that
# the reading stays in cache and memory stays small whatever the budget
BULK_CELLS = 1 << 18
Lookup = Callable[[np.ndarray], np.ndarray]
KeyedCells = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # Found + key per cell


def split_big_blocks(found: Blocks, *, ranged: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, end) left entry of every big key, and the left entries of the other keys
    that meet at least one right entry. A key is big from BIG_BLOCK cells in a rule with
    range conditions (`ranged`), from EXACT_BLOCK cells in one without."""
    keys = found.left.keys
    if keys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts, sizes = runs(keys)
    counts = found.counts
    big = sizes * counts[starts] >= (BIG_BLOCK if ranged else EXACT_BLOCK)
    in_big = np.repeat(big, sizes)
    return starts[big], (starts + sizes)[big], np.flatnonzero(~in_big & (counts > 0))


def score_big_blocks(
    found: Blocks,
    spans: tuple[np.ndarray, np.ndarray],
    lookups: tuple[Lookup, Lookup],
    plan: TextPlan,
    budget: int,
) -> Found:
    """(left entry, right entry, score 0-100) of every cell of the big keys at or above
    the plan's `min`, key by key (in the order of `spans`), each key's cells row-major;
    `lookups` give each side's strings by row number.

    The strings of every big key are looked up and listed once. Keys of at least
    HEAVY_KEY cells are scored in a few batches of about equal cells on a thread pool
    (`cdist` releases the GIL while it scores); lighter keys, whose cost is mostly the
    Python around each `cdist` call (under the GIL, where more threads only queue), are
    scored on this thread meanwhile."""
    starts, ends = spans
    if starts.size == 0:
        return joined([])
    lows = found.lo[starts]
    lsizes, rsizes = ends - starts, found.counts[starts]
    lstrings = lookups[0](found.left.rows[positions(starts, lsizes)]).tolist()
    rstrings = lookups[1](found.right.rows[positions(lows, rsizes)]).tolist()
    loffsets = np.r_[0, np.cumsum(lsizes)].tolist()
    roffsets = np.r_[0, np.cumsum(rsizes)].tolist()
    first_entry, low_entry = starts.astype(np.int64), lows.astype(np.int64)

    def score(keys: list[int]) -> list[KeyedCells]:
        parts: list[KeyedCells] = []
        matrices: list[np.ndarray] = []
        held_keys: list[int] = []

        def read_matrices() -> None:
            if matrices:
                which, rows, cols, scores = kept_cells(matrices, plan.scorer, plan.minimum)
                key = np.asarray(held_keys, dtype=np.int64)[which]
                parts.append((rows + first_entry[key], cols + low_entry[key], scores, key))
                matrices.clear()
                held_keys.clear()

        held = 0
        for key in keys:
            lefts = lstrings[loffsets[key] : loffsets[key + 1]]
            rights = rstrings[roffsets[key] : roffsets[key + 1]]
            cells = len(lefts) * len(rights)
            if cells > WHOLE_MATRIX:
                lpos, rpos, scores = cells_above(lefts, rights, plan.scorer, plan.minimum, budget)
                firsts = (first_entry[key], low_entry[key])
                parts.append((lpos + firsts[0], rpos + firsts[1], scores, np.full(lpos.size, key)))
                continue
            if held + cells > BULK_CELLS:
                read_matrices()
                held = 0
            matrices.append(raw_matrix(lefts, rights, plan.scorer, plan.minimum))
            held_keys.append(key)
            held += cells
        read_matrices()
        return parts

    cells = lsizes * rsizes
    heavy, light = np.flatnonzero(cells >= HEAVY_KEY), np.flatnonzero(cells < HEAVY_KEY)
    threads = pl.thread_pool_size()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        batches = _batches(heavy, cells[heavy], threads * BATCHES_PER_THREAD)
        pending = [pool.submit(score, batch) for batch in batches]
        parts = score(light.tolist())
        for future in pending:
            parts += future.result()
    return _in_key_order(parts)


def _in_key_order(parts: list[KeyedCells]) -> Found:
    """The parts' cells ordered by key; a key's cells keep their order (one part each)."""
    if not parts:
        return joined([])
    lpos, rpos, scores, keys = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.argsort(keys, kind="stable")
    return lpos[order], rpos[order], scores[order]


def _batches(keys: np.ndarray, cells: np.ndarray, count: int) -> list[list[int]]:
    """`keys` cut into consecutive runs, `count` at most, of about equal `cells`."""
    if keys.size == 0:
        return []
    total = np.cumsum(cells)
    cuts = np.searchsorted(total, np.arange(1, count) * (total[-1] / count), "right")
    bounds = np.unique(np.r_[0, cuts, keys.size]).tolist()
    return [keys[a:b].tolist() for a, b in pairwise(bounds) if b > a]
