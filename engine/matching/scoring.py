"""Scoring candidates: every condition's score and the base confidence of each pair.

Every condition scores in [0, 1]: equals 1; within and within_days 1 at no difference
falling linearly to 0.75 at the tolerance; similar the rapidfuzz score / 100. A pair's base
confidence is the mean of its condition scores (see docs/matching.md).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from engine import polars_memory
from engine.matching.blocks import long_text_plan, score_big_blocks, split_big_blocks
from engine.matching.candidates import Blocks, expand, in_range, partitions, positions, same_keys
from engine.matching.conditions import KeyPlan, Plan, RangePlan, TextPlan
from engine.matching.prepared import Lookup, PreparedValues
from engine.matching.schemas import BASE, NEAR, L, R, score_column
from engine.matching.similarity import all_pairs_above, native_pairs, pair_scores, pair_scores_at

# candidate pairs made and range-tested at once: small enough that the tests' arrays stay
# in the cores' caches
PAIR_BUDGET = 1 << 16
AHEAD = 2  # slices of long text made ahead of the one being scored
MATRIX_BUDGET = 10_000_000  # cells of a similarity matrix scored at once (big keys, no key)
# near misses checked and reduced to their rows' best at once; 2^20 held up to 30 MB of
# them, and their concatenation, when dense blocks peak (round amounts: 45 MB more peak)
NEAR_BATCH = 1 << 18
CELL_BATCH = 1 << 18  # big keys' cells range-tested at once


@dataclass(frozen=True)
class Scored:
    """A rule's candidates (every condition holds), scored, with BASE; and its near misses
    (the pairs that hold every condition but fall short of the first `similar` condition's
    `min` by less than the reach asked for) as the best such score of each left row (L,
    NEAR) and of each right row (R, NEAR)."""

    pairs: pl.DataFrame
    near: tuple[pl.DataFrame, pl.DataFrame] | None


def scored_candidates(
    rows: tuple[pl.Series, pl.Series],
    plans: list[Plan],
    prepared: PreparedValues,
    *,
    reach: float = 0.0,
) -> Scored:
    """Every pair of the given rows that satisfies all conditions, scored, with BASE; and
    with `reach` > 0 (a score 0-1), the near misses down to `reach` below `min`.

    A rule with keys goes one partition of its keys at a time (`partitions`); only the
    candidates and each row's best near miss outlive a partition."""
    book = _NearMissBook(plans, prepared)
    found: Iterable[pl.DataFrame]
    if all(isinstance(plan, TextPlan) for plan in plans):
        found = [book.take(_text_only(rows, plans, prepared, reach))]
    else:
        found = (
            _keyed(part, plans, prepared, reach, book) for part in partitions(rows, plans, prepared)
        )
    checked = []
    for part in found:
        checked.append(_checked(part, plans, prepared))
        del part
        polars_memory.purge()  # the partition's work (see engine.polars_memory)
    frame = pl.concat(checked, how="diagonal")
    scores = [
        pl.lit(1.0).alias(score_column(k)) for k, p in enumerate(plans) if isinstance(p, KeyPlan)
    ]
    names = [score_column(k) for k in range(len(plans))]
    frame = frame.with_columns(scores).select(L, R, *names)
    return Scored(frame.with_columns(pl.mean_horizontal(names).alias(BASE)), book.best())


NearMisses = tuple[pl.DataFrame, pl.DataFrame]


def _checked(frame: pl.DataFrame, plans: list[Plan], prepared: PreparedValues) -> pl.DataFrame:
    """The pairs that hold every condition: the other `similar` ones scored, the exact
    values compared (what a hash collision let through is dropped)."""
    return same_keys(_score_text(frame, plans, prepared), plans, prepared, (L, R))


class _NearMissBook:
    """Each row's best near-miss score, kept part by part: a part's near misses are set
    aside as soon as the part is made, and every NEAR_BATCH of them are checked like
    candidates and reduced to their rows' best, so they never pile up (on long text most
    pairs in range are near misses) and the checks run on batches, not slices."""

    def __init__(self, plans: list[Plan], prepared: PreparedValues) -> None:
        self._plans, self._prepared = plans, prepared
        text = (k for k, plan in enumerate(plans) if isinstance(plan, TextPlan))
        self._score = score_column(next(text, 0))
        # long text's parts come from the scoring thread as well as this one
        self._lock = threading.Lock()
        self._pending: list[pl.DataFrame] = []
        self._held = 0
        self._parts: list[NearMisses] = []

    def take(self, part: pl.DataFrame) -> pl.DataFrame:
        """The part without its near misses (NEAR), which are set aside."""
        if NEAR not in part.columns:
            return part
        self.set_aside(part.filter(NEAR).drop(NEAR))
        return part.filter(~pl.col(NEAR)).drop(NEAR)

    def set_aside(self, near: pl.DataFrame) -> None:
        """Near misses (pairs as a part holds them, without NEAR), to be checked later."""
        if near.is_empty():
            return
        with self._lock:
            self._pending.append(near)
            self._held += near.height
            if self._held >= NEAR_BATCH:
                self._reduce()

    def best(self) -> NearMisses | None:
        """Each left row's and each right row's best near-miss score, None if none."""
        with self._lock:
            self._reduce()
            return _best_by_row(self._parts) if self._parts else None

    def _reduce(self) -> None:
        if not self._pending:
            return
        near = _checked(pl.concat(self._pending, how="diagonal"), self._plans, self._prepared)
        self._pending, self._held = [], 0
        if not near.is_empty():
            scores = near.select(L, R, pl.col(self._score).alias(NEAR))
            self._parts.append(_best_by_row([(scores, scores)]))


def _best_by_row(parts: list[NearMisses]) -> NearMisses:
    return (
        pl.concat([left.select(L, NEAR) for left, _ in parts]).group_by(L).agg(pl.col(NEAR).max()),
        pl.concat([right.select(R, NEAR) for _, right in parts])
        .group_by(R)
        .agg(pl.col(NEAR).max()),
    )


def _reaching(plan: TextPlan, reach: float) -> TextPlan:
    """The plan with its `min` lowered by `reach` (a score 0-1), to find near misses."""
    return replace(plan, minimum=max(0.0, plan.minimum - 100.0 * reach)) if reach else plan


def _keyed(
    found: Blocks,
    plans: list[Plan],
    prepared: PreparedValues,
    reach: float,
    book: _NearMissBook,
) -> pl.DataFrame:
    """The pairs of the blocks that pass the range tests and the first `similar` test,
    scored on those; big keys of a rule with text as matrices, the rest pair by pair.
    With `reach`, the first `similar` test keeps the near misses too, for `book`.

    The matrices of the big keys score first (`score_big_blocks`: heavy keys on threads,
    as `cdist` releases the GIL, light ones on this thread meanwhile); the pairs of the
    other keys then go through on this thread in slices of at most PAIR_BUDGET pairs,
    `cpdist` using every core. The two phases do not overlap: the string lookups and
    `cpdist`'s preparation of its strings hold the GIL, so threads doing both at once only
    queue for it. Long text is the exception (`_pair_parts`)."""
    text = next(((k, p) for k, p in enumerate(plans) if isinstance(p, TextPlan)), None)
    if text is None:
        chunks = _chunks(found, np.flatnonzero(found.counts))
        parts = [_in_range(found, plans, *expand(found, chunk)) for chunk in chunks]
        return pl.concat(parts) if parts else _empty(plans)
    k, plan = text
    # only rows that meet a partner are ever scored (on the matrix's data about half of a
    # partition's left rows in the first text rule)
    texts = _pair_texts(
        plan, prepared, (found.left.rows[found.counts > 0], found.right.rows[_met(found)])
    )
    ranged = any(isinstance(p, RangePlan) for p in plans)
    long_text = long_text_plan(found, plan, prepared)
    starts, ends, entries = split_big_blocks(found, ranged=ranged, long_text=long_text)
    lefts, rights, scores = score_big_blocks(
        found,
        (starts, ends),
        _matrix_lookups(found, (starts, ends), plan, prepared, texts),
        _reaching(plan, reach),
        MATRIX_BUDGET,
        long_text=long_text,
    )
    parts = _pair_parts(found, plans, entries, texts, text, book, reach=reach, overlap=long_text)
    near = scores < plan.minimum if reach else None
    # the big keys' cells are range-tested CELL_BATCH at a time: on dense data they are
    # millions, and the tests' arrays for all of them at once were the rule's peak; the
    # last part (at least one, maybe empty) sets the column order
    for start in range(0, max(lefts.size, 1), CELL_BATCH):
        cells = slice(start, start + CELL_BATCH)
        tested = _in_range(
            found,
            plans,
            lefts[cells],
            rights[cells],
            {k: scores[cells] / 100.0},
            None if near is None else near[cells],
        )
        parts.append(book.take(tested))
    del lefts, rights, scores, near
    return pl.concat([part.select(parts[-1].columns) for part in parts])


@dataclass(frozen=True)
class _PairTexts:
    """How the pairs of a text condition are scored: `lookups` turn each side's row
    numbers into what `score` takes, positions in the values' UTF-8 for a scorer the
    native code has (no Python string made), else Python strings for rapidfuzz."""

    lookups: tuple[Lookup, Lookup]
    score: Callable[[np.ndarray, np.ndarray, float], np.ndarray]  # (lefts, rights, min)
    strings: bool  # whether `lookups` answer Python strings


def _pair_texts(
    plan: TextPlan, prepared: PreparedValues, rows: tuple[np.ndarray, np.ndarray]
) -> _PairTexts:
    """The `_PairTexts` of the plan's values of `rows` (each side's row numbers that will
    be looked up)."""
    if native_pairs(plan.scorer):
        left = prepared.position_lookup("left", plan.left, rows[0])
        right = prepared.position_lookup("right", plan.right, rows[1])
        if left is not None and right is not None:
            (lcolumn, lefts), (rcolumn, rights) = left, right

            def at(lpos: np.ndarray, rpos: np.ndarray, minimum: float) -> np.ndarray:
                return pair_scores_at(lcolumn, lpos, rcolumn, rpos, plan.scorer, minimum)

            return _PairTexts((lefts, rights), at, strings=False)

    def by_strings(lefts: np.ndarray, rights: np.ndarray, minimum: float) -> np.ndarray:
        return pair_scores(lefts, rights, plan.scorer, minimum)

    lookups = (
        prepared.string_lookup("left", plan.left, rows[0]),
        prepared.string_lookup("right", plan.right, rows[1]),
    )
    return _PairTexts(lookups, by_strings, strings=True)


def _matrix_lookups(
    found: Blocks,
    spans: tuple[np.ndarray, np.ndarray],
    plan: TextPlan,
    prepared: PreparedValues,
    texts: _PairTexts,
) -> tuple[Lookup, Lookup]:
    """The string lookups of the big keys' matrices (`score_big_blocks`): the pairs'
    own where they are strings; else made for the big keys' rows alone, only when
    there are big keys."""
    starts, ends = spans
    if texts.strings or starts.size == 0:
        return texts.lookups
    lefts = found.left.rows[positions(starts, ends - starts)]
    rights = found.right.rows[positions(found.lo[starts], found.counts[starts])]
    return (
        prepared.string_lookup("left", plan.left, lefts),
        prepared.string_lookup("right", plan.right, rights),
    )


def _pair_parts(
    found: Blocks,
    plans: list[Plan],
    entries: np.ndarray,
    texts: _PairTexts,
    text: tuple[int, TextPlan],
    book: _NearMissBook,
    *,
    reach: float,
    overlap: bool,
) -> list[pl.DataFrame]:
    """The pairs of the given left entries' blocks that pass the range tests and the text
    condition, scored, in slices of at most PAIR_BUDGET pairs, in order; with `reach`,
    the near misses go to `book`.

    With `overlap` (long text, where `cpdist` works long with the GIL released), a slice
    is scored on a second thread while the next one is made here, at most AHEAD slices
    ahead so that memory stays bounded."""
    k, plan = text
    lowest = _reaching(plan, reach).minimum

    def made(chunk: np.ndarray) -> tuple[_Ranged, np.ndarray, np.ndarray]:
        pairs = _ranged(found, plans, *expand(found, chunk))
        return pairs, texts.lookups[0](pairs.lefts), texts.lookups[1](pairs.rights)

    def scored(pairs: _Ranged, lefts: np.ndarray, rights: np.ndarray) -> pl.DataFrame:
        # the pairs the text condition drops (most, on most data) never become a frame
        found_scores = texts.score(lefts, rights, lowest)
        kept = np.flatnonzero(found_scores >= lowest)
        found_scores = found_scores[kept]
        scores = {n: values[kept] for n, values in pairs.scores.items()}
        scores[k] = found_scores / 100.0
        lefts, rights = pairs.lefts[kept], pairs.rights[kept]
        if not reach:
            return _frame(lefts, rights, scores, None)
        # the near misses go to `book` as their own frame, split here in numpy
        near = np.flatnonzero(found_scores < plan.minimum)
        far = np.flatnonzero(found_scores >= plan.minimum)
        book.set_aside(_frame(lefts[near], rights[near], _at(scores, near), None))
        return _frame(lefts[far], rights[far], _at(scores, far), None)

    chunks = _chunks(found, entries)
    if not overlap:
        return [scored(*made(chunk)) for chunk in chunks]
    parts: list[pl.DataFrame] = []
    pending: deque[Future[pl.DataFrame]] = deque()
    with ThreadPoolExecutor(max_workers=1) as pool:
        for chunk in chunks:
            pending.append(pool.submit(scored, *made(chunk)))
            if len(pending) > AHEAD:
                parts.append(pending.popleft().result())
        parts += [future.result() for future in pending]
    return parts


def _met(found: Blocks) -> np.ndarray:
    """Per right entry, whether it is in some left entry's block."""
    size = found.right.rows.size + 1
    meets = found.counts > 0
    opened = np.bincount(found.lo[meets], minlength=size)
    closed = np.bincount(found.lo[meets] + found.counts[meets], minlength=size)
    met: np.ndarray = np.cumsum(opened - closed)[:-1] > 0
    return met


@dataclass(frozen=True)
class _Ranged:
    """Pairs that pass the range tests: their rows and each range test's score."""

    lefts: np.ndarray  # left row numbers
    rights: np.ndarray
    scores: dict[int, np.ndarray]  # condition number: scores


def _ranged(found: Blocks, plans: list[Plan], lefts: np.ndarray, rights: np.ndarray) -> _Ranged:
    """The pairs (entry positions) that pass the range tests, as rows and scores."""
    kept, scores = in_range(found, plans, lefts, rights)
    return _Ranged(found.left.rows[lefts[kept]], found.right.rows[rights[kept]], scores)


def _in_range(
    found: Blocks,
    plans: list[Plan],
    lefts: np.ndarray,
    rights: np.ndarray,
    scored: dict[int, np.ndarray] | None = None,
    near: np.ndarray | None = None,
) -> pl.DataFrame:
    """The pairs (entry positions) that pass the range tests as a frame (`_frame`), with
    the scores of the conditions `scored` and the `near` flags (NEAR) if given."""
    kept, scores = in_range(found, plans, lefts, rights)
    scores.update({k: values[kept] for k, values in (scored or {}).items()})
    rows = found.left.rows[lefts[kept]], found.right.rows[rights[kept]]
    return _frame(*rows, scores, None if near is None else near[kept])


def _at(scores: dict[int, np.ndarray], positions: np.ndarray) -> dict[int, np.ndarray]:
    return {k: values[positions] for k, values in scores.items()}


def _frame(
    lefts: np.ndarray, rights: np.ndarray, scores: dict[int, np.ndarray], near: np.ndarray | None
) -> pl.DataFrame:
    """Pairs as the rule's frames hold them: rows (L, R), the score of each condition
    numbered in `scores`, and the `near` flags (NEAR) if given."""
    columns = [pl.Series(L, lefts, dtype=pl.UInt32), pl.Series(R, rights, dtype=pl.UInt32)]
    columns += [pl.Series(score_column(k), scores[k], dtype=pl.Float64) for k in sorted(scores)]
    if near is not None:
        columns.append(pl.Series(NEAR, near, dtype=pl.Boolean))
    return pl.DataFrame(columns)


def _chunks(found: Blocks, entries: np.ndarray) -> list[np.ndarray]:
    """`entries` cut into consecutive runs of at most about PAIR_BUDGET pairs (at least
    one entry each)."""
    if entries.size == 0:
        return []
    total = np.cumsum(found.counts[entries])
    cuts = np.searchsorted(total, np.arange(PAIR_BUDGET, int(total[-1]), PAIR_BUDGET), "right")
    return [chunk for chunk in np.split(entries, np.unique(cuts)) if chunk.size]


def _score_text(frame: pl.DataFrame, plans: list[Plan], prepared: PreparedValues) -> pl.DataFrame:
    for k, plan in enumerate(plans):
        if not isinstance(plan, TextPlan) or score_column(k) in frame.columns:
            continue
        rows = (frame[L].to_numpy(), frame[R].to_numpy())
        texts = _pair_texts(plan, prepared, rows)
        lookups = texts.lookups
        scores = texts.score(lookups[0](rows[0]), lookups[1](rows[1]), plan.minimum)
        frame = frame.with_columns(pl.Series(score_column(k), scores / 100.0)).filter(
            pl.Series(scores >= plan.minimum)
        )
    return frame


def _text_only(
    rows: tuple[pl.Series, pl.Series], plans: list[Plan], prepared: PreparedValues, reach: float
) -> pl.DataFrame:
    """No key to join on: the first condition scores the full matrix, in slices of rows
    (with `reach`, down to `reach` below its `min`, the near misses flagged in NEAR)."""
    first = plans[0]
    assert isinstance(first, TextPlan)  # noqa: S101 - the caller checked
    lrows = _complete_rows(rows[0], plans, prepared, "left")
    rrows = _complete_rows(rows[1], plans, prepared, "right")
    lpos, rpos, scores = all_pairs_above(
        prepared.strings("left", first.left, lrows.to_numpy()),
        prepared.strings("right", first.right, rrows.to_numpy()),
        first.scorer,
        _reaching(first, reach).minimum,
        MATRIX_BUDGET,
    )
    pairs = pl.DataFrame(
        {L: lrows.gather(lpos), R: rrows.gather(rpos), score_column(0): scores / 100.0}
    )
    if reach:
        pairs = pairs.with_columns(pl.Series(NEAR, scores < first.minimum))
    return _score_text(pairs, plans, prepared)


def _complete_rows(
    rows: pl.Series, plans: list[Plan], prepared: PreparedValues, side: str
) -> pl.Series:
    """The rows with a value for every condition."""
    values = {
        str(k): prepared.gather(side, plan.left if side == "left" else plan.right, rows)
        for k, plan in enumerate(plans)
    }
    return pl.DataFrame({"__row": rows, **values}).drop_nulls().get_column("__row")


def _empty(plans: list[Plan]) -> pl.DataFrame:
    columns: dict[str, pl.DataType] = {L: pl.UInt32(), R: pl.UInt32()}
    for k, plan in enumerate(plans):
        if not isinstance(plan, KeyPlan):
            columns[score_column(k)] = pl.Float64()
    return pl.DataFrame(schema=columns)
