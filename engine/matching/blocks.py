"""Big blocks: keys whose candidates are scored as one similarity matrix.

In a rule with a `similar` condition, the candidates of one key (exact values plus grid
buckets) are that key's left entries x right entries, less the pairs the range tests
remove. When a key holds at least BIG_BLOCK such pairs, the key's two slices of strings go
straight to `rapidfuzz.process.cdist` (each string prepared once, SIMD for short strings,
about 16 million cells a second a thread against about 4 million pairs a second for
`cpdist`), which keeps the cells at or above `min`; the range tests then run on those
cells. A matrix call has a fixed cost of some tens of microseconds and scores the cells out
of range too (about half of them), so smaller keys go pair by pair: on the 1M benchmark a
threshold of 64 cells took 4.2 s, 512 to 8,192 cells 3.8-3.9 s, matrices never 5.9 s.
A pair within tolerance meets in exactly one key, so nothing is found twice. The matrices
are spread over polars' thread pool size in threads (rapidfuzz releases the GIL
while it scores). Measured on 1M x 1M people records matched on birth date (blocks of
about 50 x 50) and name similarity: 63 s joined and scored pair by pair, 6.9 s as matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from engine.matching.candidates import Blocks
from engine.matching.conditions import TextPlan
from engine.matching.similarity import all_pairs_above

BIG_BLOCK = 1024  # cells; below it a matrix call costs more than cpdist on the pairs in range
Found = tuple[np.ndarray, np.ndarray, np.ndarray]
Lookup = Callable[[np.ndarray], np.ndarray]


def split_big_blocks(found: Blocks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, end) left entry of every big key, and the left entries of the other keys
    that meet at least one right entry."""
    keys = found.left.keys
    if keys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], keys.size]
    counts = found.counts
    big = (ends - starts) * counts[starts] >= BIG_BLOCK
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
    the plan's `min`; `lookups` give each side's strings by row number."""
    lrows, rrows = found.left.rows, found.right.rows

    def score(block: tuple[int, int]) -> Found:
        start, end = block
        low = int(found.lo[start])
        high = low + int(found.counts[start])
        lpos, rpos, scores = all_pairs_above(
            lookups[0](lrows[start:end]),
            lookups[1](rrows[low:high]),
            plan.scorer,
            plan.minimum,
            budget,
        )
        return lpos + start, rpos + low, scores

    blocks = list(zip(spans[0].tolist(), spans[1].tolist(), strict=True))
    with ThreadPoolExecutor(max_workers=pl.thread_pool_size()) as pool:
        parts = list(pool.map(score, blocks))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    return tuple(np.concatenate(part) for part in zip(*parts, strict=True))  # type: ignore[return-value]
