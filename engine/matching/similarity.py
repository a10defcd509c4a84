"""Similarity scores through rapidfuzz's batch APIs, never a Python loop per pair.

- Candidate pairs from a join (keys with few pairs): `cpdist` over the pairs, one call;
  jaro_winkler through `_jaro` (native, built from `_jaro.c` at install): the same
  scores bit for bit, about 3.5x faster than `cpdist` on text past 64 characters and 1.2-1.4x
  on shorter text (docs/adr/0020-native-jaro-winkler.md), on every core. The matcher hands
  it the text as UTF-8 buffers and the pairs as positions (`jaro_winkler_at`,
  docs/adr/0023-pairs-by-position.md): no Python string is made for a pair.
- The rows of one key (blocks.py), or of a rule with no key at all: `cdist` over the left
  x right matrix, in slices of rows, keeping the cells at or above `min`. `cdist` prepares
  each string once and fills rows with SIMD for short strings (ratio, QRatio,
  token_sort_ratio, jaro_winkler); small matrices run on one thread, where a thread pool
  costs more than it saves. Both give identical scores. jaro_winkler on strings past
  NATIVE_MATRIX_CHARS goes to `_jaro`'s matrix call instead, where rapidfuzz has no SIMD
  and a cell costs what a pair does (five times the extension's).

jaro_winkler is scored exactly and then held to `min` (`_held_to`): rapidfuzz's own cutoff
for it goes through a distance with a tolerance of 1e-5 and a Jaro cutoff derived from the
prefix, and so drops some pairs whose score is `min` exactly, and keeps others a few ulps
below it, where a condition's contract is score >= min.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from engine.matching import ruleset
from engine.matching.utf8 import Utf8Column

try:
    from engine.matching import _jaro
except ImportError:  # built where it was installed without a C compiler: rapidfuzz alone
    _jaro = None  # type: ignore[assignment]

# every scorer of the ruleset's list: rapidfuzz's `fuzz` function of the same name, but
# jaro_winkler, which lives in rapidfuzz.distance
_ELSEWHERE: dict[str, Callable[..., Any]] = {"jaro_winkler": JaroWinkler.normalized_similarity}
SCORERS: dict[str, Callable[..., Any]] = {
    name: _ELSEWHERE.get(name) or getattr(fuzz, name) for name in ruleset.SCORERS
}
SCALE = {"jaro_winkler": 100.0}  # scorers that answer 0-1 instead of 0-100
PARALLEL_CELLS = 250_000
# pairs: below this, one thread scores them all (a thread's start costs more)
PARALLEL_PAIRS = 8192
EXACT = "jaro_winkler"  # the scorer computed with no cutoff, then held to `min`
# characters: past this rapidfuzz's jaro_winkler leaves its one-word path (and `cdist` its
# SIMD), and `_jaro` scores a matrix cell about five times faster; below it rapidfuzz's
# SIMD `cdist` is faster than `_jaro` (about 53 against 70 ns a cell)
NATIVE_MATRIX_CHARS = 64
Strings = np.ndarray | list[str]


def pair_scores(left: Strings, right: Strings, scorer: str, minimum: float) -> np.ndarray:
    """Scores (0-100) of two equally long sequences of strings, pair by pair, in one batch;
    below `minimum` as 0."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float64)
    scale = SCALE.get(scorer, 1.0)
    if scorer == EXACT:
        raw = _held_to(jaro_winkler_pairs(_as_list(left), _as_list(right)), minimum / scale)
    else:
        raw = process.cpdist(
            _as_list(left),
            _as_list(right),
            scorer=SCORERS[scorer],
            score_cutoff=minimum / scale,
            dtype=np.float64,
            workers=-1,
        )
    return np.asarray(raw, dtype=np.float64) * scale


def jaro_winkler_pairs(left: list[str], right: list[str]) -> np.ndarray:
    """rapidfuzz's jaro_winkler (0-1, no cutoff) of each pair as its batch calls answer it
    (`JaroWinkler.similarity`), bit for bit: by `_jaro` on every core where it is built;
    the pairs it does not take (a left string past 128 code points, a right one past 512)
    and everything else by rapidfuzz."""
    if _jaro is None:
        return np.asarray(_rapidfuzz_pairs(left, right), dtype=np.float64)
    return _native_pairs(
        len(left),
        _jaro.pairs,
        lambda a, b, out: (left[a:b], right[a:b], out),
        lambda rest: ([left[i] for i in rest], [right[i] for i in rest]),
    )


def _native_pairs(
    count: int,
    call: Callable[..., int],
    arguments: Callable[[int, int, np.ndarray], tuple[Any, ...]],
    strings: Callable[[np.ndarray], tuple[list[str], list[str]]],
) -> np.ndarray:
    """`count` pair scores by the native `call`, its `arguments` for pairs [a, b) and
    their slice of the output, in spans on every core; the pairs it does not take
    (-1.0) by rapidfuzz, on the `strings` of their positions."""
    out = np.empty(count, dtype=np.float64)
    step = max(PARALLEL_PAIRS, -(-count // _cores()))
    skipped = _on_cores(call, [arguments(a, b, out[a:b]) for a, b in _spans(count, step)])
    if skipped:
        rest = np.flatnonzero(out < 0.0)
        out[rest] = _rapidfuzz_pairs(*strings(rest))
    return out


def native_pairs(scorer: str) -> bool:
    """Whether pairs of this scorer are scored from UTF-8 by position (`jaro_winkler_at`)."""
    return scorer == EXACT and _jaro is not None


def jaro_winkler_at(
    left: Utf8Column, lefts: np.ndarray, right: Utf8Column, rights: np.ndarray
) -> np.ndarray:
    """`jaro_winkler_pairs` of the strings at positions `lefts` of `left` and `rights` of
    `right`, read from their UTF-8 by `_jaro` with no Python string made (but for the
    pairs it does not take); bit for bit the same scores."""
    if _jaro is None:  # native_pairs checks first
        raise RuntimeError("engine.matching._jaro is not built")
    lefts, rights = (np.ascontiguousarray(at, dtype=np.int64) for at in (lefts, rights))
    columns = (left.offsets, left.data), (right.offsets, right.data)
    return _native_pairs(
        lefts.size,
        _jaro.pairs_at,
        lambda a, b, out: (*columns[0], lefts[a:b], *columns[1], rights[a:b], out),
        lambda rest: (left.strings(lefts[rest]), right.strings(rights[rest])),
    )


def pair_scores_at(
    left: Utf8Column,
    lefts: np.ndarray,
    right: Utf8Column,
    rights: np.ndarray,
    scorer: str,
    minimum: float,
) -> np.ndarray:
    """`pair_scores` of the strings at the given positions, for a `native_pairs` scorer."""
    raw = _held_to(jaro_winkler_at(left, lefts, right, rights), minimum / SCALE.get(scorer, 1.0))
    return raw * SCALE.get(scorer, 1.0)


def _rapidfuzz_pairs(left: list[str], right: list[str]) -> np.ndarray:
    raw: np.ndarray = process.cpdist(
        left, right, scorer=SCORERS["jaro_winkler"], dtype=np.float64, workers=-1
    )
    return raw


def _held_to(raw: np.ndarray, cutoff: float) -> np.ndarray:
    """`raw` with the scores below `cutoff` set to 0, as rapidfuzz answers them."""
    raw[raw < cutoff] = 0.0
    return raw


def _spans(count: int, step: int) -> list[tuple[int, int]]:
    """[start, end) runs of at most `step` of `count` items (one, empty, for none)."""
    return [(start, min(start + step, count)) for start in range(0, max(count, 1), step)]


def _on_cores(call: Callable[..., int], calls: list[tuple[Any, ...]]) -> int:
    """`call` on each argument tuple, on `_pool` when there are several (`_jaro` releases
    the GIL), in this thread when one; the sum of what they return (pairs not taken)."""
    if len(calls) == 1:
        return call(*calls[0])
    return sum(run.result() for run in [_pool().submit(call, *args) for args in calls])


@cache
def _cores() -> int:
    """As many threads as polars' pool, as the big keys are scored on (blocks.py)."""
    return max(1, pl.thread_pool_size())


@cache
def _pool() -> ThreadPoolExecutor:
    """The threads `_jaro` scores on (it releases the GIL), made at first use."""
    return ThreadPoolExecutor(_cores(), thread_name_prefix="jaro-winkler")


def matrix_scores(
    left: Strings, right: Strings, scorer: str, minimum: float, workers: int = -1
) -> np.ndarray:
    """The len(left) x len(right) matrix of scores (0-100), below `minimum` as 0."""
    raw = raw_matrix(_as_list(left), _as_list(right), scorer, minimum, workers)
    return raw * SCALE.get(scorer, 1.0)


def raw_matrix(
    left: list[str], right: list[str], scorer: str, minimum: float, workers: int = 1
) -> np.ndarray:
    """`cdist` as rapidfuzz answers it (no scaling; below the cutoff 0); jaro_winkler
    exactly, then held to the cutoff (see the top of the module), by `_jaro` where the
    left strings run past NATIVE_MATRIX_CHARS characters."""
    cutoff = minimum / SCALE.get(scorer, 1.0)
    if scorer == EXACT and _jaro is not None and _any_longer(left, NATIVE_MATRIX_CHARS):
        return _held_to(_jaro_matrix(left, right, workers), cutoff)
    raw: np.ndarray = process.cdist(
        left,
        right,
        scorer=SCORERS[scorer],
        score_cutoff=0.0 if scorer == EXACT else cutoff,
        dtype=np.float64,
        workers=workers,
    )
    return _held_to(raw, cutoff) if scorer == EXACT else raw


def _any_longer(texts: list[str], chars: int) -> bool:
    return any(len(text) > chars for text in texts)


def _jaro_matrix(left: list[str], right: list[str], workers: int) -> np.ndarray:
    """The len(left) x len(right) jaro_winkler matrix, exact, by `_jaro`: rows on every
    core unless `workers` is 1; the rows it does not take (see `jaro_winkler_pairs`) by
    rapidfuzz."""
    if _jaro is None:  # raw_matrix checks first
        raise RuntimeError("engine.matching._jaro is not built")
    out = np.empty((len(left), len(right)), dtype=np.float64)
    step = max(1, -(-len(left) // (1 if workers == 1 else _cores())))
    skipped = _on_cores(
        _jaro.matrix,
        [(left[a:b], right, out[a:b].reshape(-1)) for a, b in _spans(len(left), step)],
    )
    if skipped:
        for row in np.flatnonzero((out < 0.0).any(axis=1)):
            out[row] = process.cdist(
                [left[row]], right, scorer=SCORERS["jaro_winkler"], dtype=np.float64, workers=1
            )[0]
    return out


def kept_cells(
    matrices: list[np.ndarray], scorer: str, minimum: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(matrix number, row, column, score 0-100) of every cell of `raw_matrix` answers at
    or above `minimum`, matrix by matrix, each row-major: the cells `cells_above` keeps, read
    from all the matrices at once (a handful of numpy calls in all instead of a handful
    per matrix, which cost more than `cdist` itself on matrices of tens of cells)."""
    if not matrices:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0, dtype=np.float64)
    sizes = np.fromiter((m.size for m in matrices), dtype=np.int64, count=len(matrices))
    widths = np.fromiter((m.shape[1] for m in matrices), dtype=np.int64, count=len(matrices))
    flat = np.concatenate([m.ravel() for m in matrices])
    # `cdist` answers 0 for a cell below its cutoff, so for a `min` above 0 the nonzero
    # cells are the candidates; for `min` 0 every cell is
    hits = np.flatnonzero(flat) if minimum > 0 else np.arange(flat.size)
    scores = flat[hits] * SCALE.get(scorer, 1.0)
    above = np.flatnonzero(scores >= minimum)
    hits, scores = hits[above], scores[above]
    starts = np.cumsum(sizes) - sizes
    which = np.searchsorted(starts, hits, side="right") - 1
    rows, cols = np.divmod(hits - starts[which], widths[which])
    return which, rows, cols, scores


def _as_list(strings: Strings) -> list[str]:
    return strings.tolist() if isinstance(strings, np.ndarray) else list(strings)


Found = tuple[np.ndarray, np.ndarray, np.ndarray]  # left positions, right positions, scores
Reader = Callable[[list[str], list[str], int], Found]


def all_pairs_above(
    left: np.ndarray, right: np.ndarray, scorer: str, minimum: float, budget: int
) -> Found:
    """Every (left position, right position, score) with score >= minimum, by matrix rows."""

    def whole(lefts: list[str], rights: list[str], workers: int) -> Found:
        matrix = matrix_scores(lefts, rights, scorer, minimum, workers)
        rows, cols = np.nonzero(matrix >= minimum)
        return rows, cols, matrix[rows, cols]

    return _by_slices(left.tolist(), right.tolist(), budget, whole)


def cells_above(
    left: list[str], right: list[str], scorer: str, minimum: float, budget: int
) -> Found:
    """`all_pairs_above` for lists of strings, reading only the cells `cdist` kept
    (`kept_cells`); the same cells and scores."""

    def kept(lefts: list[str], rights: list[str], workers: int) -> Found:
        matrix = raw_matrix(lefts, rights, scorer, minimum, workers)
        _, rows, cols, scores = kept_cells([matrix], scorer, minimum)
        return rows, cols, scores

    return _by_slices(left, right, budget, kept)


def _by_slices(left: list[str], right: list[str], budget: int, read: Reader) -> Found:
    """`read` over the left x right matrix in slices of rows of at most about `budget`
    cells, its row positions shifted to the whole matrix's."""
    step = max(1, budget // max(len(right), 1))
    # a thread pool costs more than it saves on a small matrix
    workers = -1 if len(left) * len(right) >= PARALLEL_CELLS else 1
    parts = []
    for start in range(0, len(left), step):
        rows, cols, scores = read(left[start : start + step], right, workers)
        parts.append((rows + start, cols, scores))
    return joined(parts)


def joined(parts: list[Found]) -> Found:
    """The parts one after the other (empty arrays for none)."""
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(part) for part in zip(*parts, strict=True))  # type: ignore[return-value]
