"""Big blocks: keys whose candidates are scored as one similarity matrix.

In a rule with a `similar` condition, the candidates of one key (exact values plus grid
buckets) are that key's left entries x right entries, less the pairs the range tests
remove. A key with at least BIG_BLOCK such cells sends its two slices of strings straight
to `rapidfuzz.process.cdist`, which prepares each string once and scores a cell for a
fraction of what `cpdist` spends on a pair; it keeps the cells at or above `min`, and the
range tests then run on those cells. A matrix call has a fixed cost (Python and
conversions under the GIL) and also scores the cells out of range, so in a rule with range
conditions smaller keys go pair by pair. In a rule without range conditions every cell is
a candidate, so keys are matrices from EXACT_BLOCK cells. Matrices of up to WHOLE_MATRIX
cells are read in bulk, many at once (`kept_cells`). A pair within tolerance meets in
exactly one key, so nothing is found twice.

Long text changes the balance. rapidfuzz scores strings of up to LONG_TEXT characters
with one machine word per string (and SIMD in `cdist`); past that a cell costs about as
much as a pair, tens of times a short cell. So in a rule with range conditions whose
strings are long on average, no key is a matrix: only the pairs in range are scored, a
band join inside each key (the pairs of a key are expanded and range-tested first, then
scored with `cpdist`), which on long shared-vocabulary descriptions scores about 40% fewer
strings.

Every key's strings are looked up once beforehand. Keys of HEAVY_KEY cells or more
(LONG_HEAVY_KEY for long text, where the scoring outweighs the Python sooner) are scored in
batches of about equal cells on polars' thread pool size in threads (rapidfuzz releases
the GIL while it scores); lighter ones on the calling thread meanwhile, as their cost is
the Python around each call, under the GIL, where more threads only queue.
docs/performance.md has the measurements behind the thresholds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import polars as pl

from engine.matching.candidates import Blocks, positions, runs
from engine.matching.conditions import TextPlan
from engine.matching.prepared import Lookup, PreparedValues
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
# from about this many cells one `cdist` call costs less than `cpdist` on the same pairs
EXACT_BLOCK = 32
# a key of at most this many cells is one `cdist` call on its thread, and the cells of many
# such matrices are read at once (`kept_cells`); a larger key is scored in slices on every core
WHOLE_MATRIX = PARALLEL_CELLS
BATCHES_PER_THREAD = 4  # batches of heavy keys per scoring thread, to even out their ends
# cells; a key this big is scored on the thread pool: its `cdist` work outweighs the Python
# around the call, which holds the GIL
HEAVY_KEY = 1024
LONG_HEAVY_KEY = 64
# characters: longer strings no longer fit rapidfuzz's one-word bit-parallel scorers
LONG_TEXT = 64
# cells of small matrices held before their kept cells are read at once: a few MB, so that
# the reading stays in cache and memory stays small whatever the budget
BULK_CELLS = 1 << 18
KeyedCells = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # Found + key per cell


def long_text_plan(found: Blocks, plan: TextPlan, prepared: PreparedValues) -> bool:
    """Whether either side's strings of the plan are longer than LONG_TEXT characters on
    average."""
    longest = max(
        prepared.mean_chars("left", plan.left, found.left.rows),
        prepared.mean_chars("right", plan.right, found.right.rows),
    )
    return longest > LONG_TEXT


def split_big_blocks(
    found: Blocks, *, ranged: bool, long_text: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, end) left entry of every big key, and the left entries of the other keys
    that meet at least one right entry. A key is big from BIG_BLOCK cells in a rule with
    range conditions (`ranged`), from EXACT_BLOCK cells in one without; in a rule with
    range conditions and `long_text`, no key is big."""
    keys = found.left.keys
    if keys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts, sizes = runs(keys)
    counts = found.counts
    if ranged and long_text:
        return starts[:0], starts[:0], np.flatnonzero(counts > 0)
    big = sizes * counts[starts] >= (BIG_BLOCK if ranged else EXACT_BLOCK)
    in_big = np.repeat(big, sizes)
    return starts[big], (starts + sizes)[big], np.flatnonzero(~in_big & (counts > 0))


def score_big_blocks(
    found: Blocks,
    spans: tuple[np.ndarray, np.ndarray],
    lookups: tuple[Lookup, Lookup],
    plan: TextPlan,
    budget: int,
    *,
    long_text: bool = False,
) -> Found:
    """(left entry, right entry, score 0-100) of every cell of the big keys at or above
    the plan's `min`, in a fixed order (`_joined_parts`); `lookups` give each side's
    strings by row number.

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
    threshold = LONG_HEAVY_KEY if long_text else HEAVY_KEY
    heavy, light = np.flatnonzero(cells >= threshold), np.flatnonzero(cells < threshold)
    threads = pl.thread_pool_size()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        batches = _batches(heavy, cells[heavy], threads * BATCHES_PER_THREAD)
        pending = [pool.submit(score, batch) for batch in batches]
        parts = score(light.tolist())
        for future in pending:
            parts += future.result()
    return _joined_parts(parts)


def _joined_parts(parts: list[KeyedCells]) -> Found:
    """The parts' cells one after the other. Their order is fixed (the light keys', then
    each batch of heavy keys' in the order submitted), and nothing downstream depends on
    it: the resolution ranks every pair by its scores and ids."""
    if not parts:
        return joined([])
    lpos, rpos, scores, _ = (np.concatenate(column) for column in zip(*parts, strict=True))
    return lpos, rpos, scores


def _batches(keys: np.ndarray, cells: np.ndarray, count: int) -> list[list[int]]:
    """`keys` cut into consecutive runs, `count` at most, of about equal `cells`."""
    if keys.size == 0:
        return []
    total = np.cumsum(cells)
    cuts = np.searchsorted(total, np.arange(1, count) * (total[-1] / count), "right")
    bounds = np.unique(np.r_[0, cuts, keys.size]).tolist()
    return [keys[a:b].tolist() for a, b in pairwise(bounds) if b > a]
