"""Candidate generation: a sort-merge join on one hashed composite key per row.

Each side's rows get one 64-bit key: the hash of the rule's exact values (equals) and of
one grid bucket per range condition (|x - y| <= t). Grid buckets have width w = 2t: a
right row keeps its bucket floor(y / w); a left row is offered to its own bucket and to the
one neighbour that its window [x - t, x + t] reaches (below if x sits in the lower half of
its bucket, above otherwise). So k range conditions give each left row 2^k keys (entries;
the row's values are computed once, with one hash column per combination of neighbours)
and every pair of rows within tolerance shares exactly one key. It is always the left side
that is repeated, whatever the sides' sizes: the grid's slack, t * 1e-9, is narrower than
the range test's float-noise allowance at large magnitudes, so a pair just past the
tolerance there may meet on one orientation and not the other, and choosing the
orientation by row counts would let unrelated rows decide such a pair.

Both sides' entries are sorted by key (numpy's sort of the hash's top bits with the
entry's position below them, which is stable by construction), so a key's entries are
one contiguous slice of each side and a left entry's candidates are found by binary
search: no hash table, no group-by, and the number of pairs of every key is known before
a single pair is made (block sizes, memory budget and big blocks come free). Pairs are
then expanded with vectorized numpy and the exact range tests run on them. A hash
collision puts two different keys in one slice, so pairs are checked on the values: grid
buckets with the range tests, exact values on the pairs that pass every test
(`same_keys`); a collision costs work, never a wrong pair.
See docs/adr/0004-matcher-blocking-and-grid-joins.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.matching.conditions import KeyPlan, Plan, RangePlan, TextPlan, log_tolerance
from engine.matching.prepared import PreparedValues

# A range condition scores 1 at no difference, 1 - RANGE_DROP at the tolerance: being in
# range is the evidence, where in the range only tips the balance between candidates.
RANGE_DROP = 0.25
GRID_SLACK = 1e-9  # widens buckets and tolerances past float noise
GRID_EDGE = 2.0**50  # the largest grid position kept (value / bucket width); exact in a float
SIDES = ("left", "right")
HASH = "__h"  # one column per copy: __h0, __h1, ...
ROWNUM = "__row"
# per range condition: value, bucket and (left side only) the neighbour's direction
_GRID_KINDS = {"left": "vbd", "right": "vb"}
HASH_MIX = 0x9E3779B97F4A7C15  # odd: multiplying by it mixes without losing bits
# entries (both sides) a partition of a rule's keys holds at most on average: what bounds
# the memory of the entries, candidate pairs and strings made at once
PARTITION_ENTRIES = 1 << 20
MAX_PARTITIONS = 1 << 16  # a partition number is 16 bits
SAME_KEYS_BATCH = 1 << 20  # candidate pairs whose exact values are compared at once


@dataclass(frozen=True)
class Entries:
    """One side's rows sorted by key: row numbers, keys and the values range tests need."""

    rows: np.ndarray  # uint32 row numbers (a left row appears once per grid neighbour)
    keys: np.ndarray  # uint64, ascending
    ranges: dict[int, np.ndarray]  # condition position -> float64 values, same order
    grids: list[np.ndarray]  # grid buckets (and signs) of the range conditions, as floats
    largest: dict[int, float]  # condition position -> the largest |value| (float noise bound)


@dataclass(frozen=True)
class Blocks:
    """Both sides' entries and, per left entry, the slice [lo, hi) of right entries with
    the same key."""

    left: Entries
    right: Entries
    lo: np.ndarray
    counts: np.ndarray  # how many right entries each left entry meets (hi - lo)


def partitions(
    rows: tuple[pl.Series, pl.Series], plans: list[Plan], prepared: PreparedValues
) -> Iterator[Blocks]:
    """Entries of both sides keyed and sorted, and each left entry's block of right ones,
    one partition of the keys at a time.

    Rows missing a value of any condition (or with a non-finite range value) are left out.
    A partition holds the keys whose hash has the same top bits, so every pair of rows that
    meets in a key meets in exactly one partition, and what a partition finds does not
    depend on the others; there are as many as keep each near PARTITION_ENTRIES entries
    (a power of two). Within a partition, entries are in the order of the whole sort.
    """
    ranges = _ranges(plans)
    copies = [1 << len(ranges), 1]  # a left row once per combination of neighbours
    frames = pl.collect_all(
        [
            _side_frame(side, side_rows, plans, prepared).select(
                ROWNUM,
                *(_key_hash(plans, copy).alias(f"{HASH}{copy}") for copy in range(count)),
                *(f"__{kind}{k}" for k in ranges for kind in _GRID_KINDS[side]),
                *(f"__s{k}" for k in ranges if _relative(plans[k])),
            )
            for side, side_rows, count in zip(SIDES, rows, copies, strict=True)
        ],
        # the in-memory engine: about 20% faster here than the default (streaming) one
        engine="in-memory",
    )
    # both sides' keys keep the same top bits of the hash
    size = max(frame.height * count for frame, count in zip(frames, copies, strict=True))
    bits = size.bit_length()
    hashes = [_hashes(frame, count) for frame, count in zip(frames, copies, strict=True)]
    count = partition_count(sum(side.size for side in hashes))
    if count == 1:
        sides = [
            _entries(frame, plans, height, *sorted_keys(side, bits))
            for frame, height, side in zip(frames, copies, hashes, strict=True)
        ]
        yield Blocks(sides[0], sides[1], *_slices(sides[0].keys, sides[1].keys))
        return
    members = [_by_partition(side, count) for side in hashes]
    for part in range(count):
        sides = []
        for frame, height, side, (order, bounds) in zip(
            frames, copies, hashes, members, strict=True
        ):
            chosen = order[bounds[part] : bounds[part + 1]]
            ranked, keys = sorted_keys(side[chosen], bits)
            sides.append(_entries(frame, plans, height, chosen[ranked], keys))
        yield Blocks(sides[0], sides[1], *_slices(sides[0].keys, sides[1].keys))


def _by_partition(hashes: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries ordered by partition (the top bits of the hash), each partition's in
    ascending position, and where each partition starts (`count` + 1 bounds). One stable
    sort of 16-bit numbers (a radix sort in numpy) instead of a pass per partition."""
    shift = np.uint64(64 - (count.bit_length() - 1))
    owners = (hashes >> shift).astype(np.uint16)
    order = np.argsort(owners, kind="stable")
    bounds = np.searchsorted(owners[order], np.arange(count + 1), side="left")
    return order, bounds


def partition_count(entries: int) -> int:
    """How many partitions `entries` entries (both sides) go in: the least power of two
    that keeps each at PARTITION_ENTRIES or fewer on average, MAX_PARTITIONS at most."""
    count = 1
    while entries > count * PARTITION_ENTRIES and count < MAX_PARTITIONS:
        count *= 2
    return count


def _hashes(frame: pl.DataFrame, copies: int) -> np.ndarray:
    """The key hash of every entry of one side's keyed frame: entry e is copy e // height
    of row e % height."""
    hashes = [frame.get_column(f"{HASH}{copy}").to_numpy() for copy in range(copies)]
    return np.concatenate(hashes) if copies > 1 else hashes[0]


def key_hash(keys: list[pl.Expr]) -> pl.Expr:
    """One 64-bit hash of a row's key values. Equal keys hash alike; unequal keys that
    collide only cost work: pairs are checked on the values themselves (`in_range` for the
    grid buckets, `same_keys` for the exact values). Each column is hashed on its own and
    the hashes are mixed (multiply, add; wrapping): a third of the time of hashing them as
    one struct."""
    mixed = keys[0].hash(0)
    for seed, key in enumerate(keys[1:], start=1):
        mixed = mixed * HASH_MIX + key.hash(seed)
    return mixed


def _key_hash(plans: list[Plan], copy: int) -> pl.Expr:
    """The key of one copy of a row: its exact values, then per range condition its grid
    bucket (the neighbour if that condition's bit of `copy` is set) and, for a relative
    tolerance, its sign. Both sides list the same fields in the same order."""
    keys = [pl.col(f"__k{k}") for k, plan in enumerate(plans) if isinstance(plan, KeyPlan)]
    for bit, k in enumerate(_ranges(plans)):
        bucket = pl.col(f"__b{k}")
        if copy >> bit & 1:
            bucket = bucket + pl.col(f"__d{k}")
        keys.append(bucket.alias(f"__g{k}"))
        if _relative(plans[k]):
            keys.append(pl.col(f"__s{k}"))
    return key_hash(keys)


def _ranges(plans: list[Plan]) -> list[int]:
    return [k for k, plan in enumerate(plans) if isinstance(plan, RangePlan)]


def _relative(plan: Plan) -> bool:
    return isinstance(plan, RangePlan) and plan.relative


def _side_frame(
    side: str, rows: pl.Series, plans: list[Plan], prepared: PreparedValues
) -> pl.LazyFrame:
    """Row numbers, the exact key values (__k) and per range condition the value (__v),
    its grid bucket (__b), the direction of the neighbouring bucket its window reaches
    (__d, -1 or 1) and for a relative tolerance its sign (__s)."""
    values: dict[str, pl.Series] = {ROWNUM: rows}
    for k, plan in enumerate(plans):
        expr = plan.left if side == "left" else plan.right
        values[f"__k{k}"] = prepared.gather(side, expr, rows)
    frame = pl.DataFrame(values).drop_nulls().lazy()
    for k, plan in enumerate(plans):
        key = pl.col(f"__k{k}")
        if isinstance(plan, TextPlan):
            frame = frame.drop(f"__k{k}")
        elif isinstance(plan, KeyPlan):
            if values[f"__k{k}"].dtype.is_float():
                frame = frame.filter(~key.is_nan())  # NaN equals nothing, as null does
        else:
            grid = _grid(key, plan, k, neighbours=side == "left")
            frame = frame.filter(key.is_finite()).with_columns(grid)
    return frame


def _grid(value: pl.Expr, plan: RangePlan, k: int, *, neighbours: bool) -> list[pl.Expr]:
    """Range condition k's value, grid bucket, sign (for a relative tolerance) and, with
    `neighbours` (the left side), the direction of the neighbouring bucket."""
    columns = [value.alias(f"__v{k}")]
    width = 2 * plan.tolerance * (1 + GRID_SLACK)
    if plan.relative:
        # same sign, then |ln|x| - ln|y|| <= -ln(1 - p); zero only meets zero
        width = 2 * log_tolerance(plan.tolerance) * (1 + GRID_SLACK)
        columns.append(value.sign().alias(f"__s{k}"))
        value = pl.when(value == 0).then(0.0).otherwise(value.abs().log())
    # positions past +-GRID_EDGE share the edge bucket (an Int64 holds no more): such rows
    # meet each other and their neighbours there, and the exact range test decides
    position = (value / width).clip(-GRID_EDGE, GRID_EDGE)
    bucket = position.floor()
    columns.append(bucket.cast(pl.Int64).alias(f"__b{k}"))
    if neighbours:
        lower = position - bucket < 0.5  # noqa: PLR2004
        columns.append(pl.when(lower).then(-1).otherwise(1).cast(pl.Int64).alias(f"__d{k}"))
    return columns


def _slices(lkeys: np.ndarray, rkeys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per left key, the start and length of the run of equal right keys (length 0 if
    none); both ascending. One binary search per distinct left key, among the distinct
    right keys (two searches of every left key among every right key took 40% longer)."""
    if lkeys.size == 0 or rkeys.size == 0:
        return np.zeros(lkeys.size, dtype=np.int64), np.zeros(lkeys.size, dtype=np.int64)
    lstarts, lsizes = runs(lkeys)
    rstarts, rsizes = runs(rkeys)
    distinct = rkeys[rstarts]
    wanted = lkeys[lstarts]
    found = np.minimum(np.searchsorted(distinct, wanted), distinct.size - 1)
    hit = distinct[found] == wanted
    lo = np.where(hit, rstarts[found], 0)
    counts = np.where(hit, rsizes[found], 0)
    return np.repeat(lo, lsizes), np.repeat(counts, lsizes)


def sorted_keys(hashes: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The order of the entries by key, and their keys in that order (ascending).

    A key is the top 64 - `bits` bits of the hash (the same on both sides, and enough
    low bits for every position); below them goes the entry's position, so every
    value is distinct and numpy's plain sort of them (SIMD, several times faster than
    polars' stable arg-sort of the hashes) is stable by construction: equal keys keep the
    entries' order. Dropping the hash's low bits only makes collisions (checked on the
    values, like any other) a little likelier."""
    if hashes.size > 1 << bits:
        raise ValueError(f"{hashes.size} positions do not fit in {bits} bits")
    low = np.uint64((1 << bits) - 1)
    packed = (hashes & ~low) | np.arange(hashes.size, dtype=np.uint64)
    packed.sort()
    order: np.ndarray = (packed & low).astype(np.intp)
    return order, packed >> np.uint64(bits)


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values in `keys`."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else keys[:0]
    return starts, np.diff(np.r_[starts, keys.size]).astype(np.intp)


def _entries(
    frame: pl.DataFrame, plans: list[Plan], copies: int, order: np.ndarray, keys: np.ndarray
) -> Entries:
    """The entries of one side's keyed frame (`copies` hash columns: entry e is copy
    e // height of row e % height) at the positions `order`, whose keys are `keys`
    (ascending). Values are gathered from the frame's columns, each a row's, which stay in
    cache where the copies would not."""
    height = frame.height
    base, copy = (order % height, order // height) if copies > 1 else (order, None)

    def column(name: str) -> np.ndarray:
        values: np.ndarray = frame.get_column(name).to_numpy()[base]
        return values

    ranges, grids = {}, []
    for bit, k in enumerate(_ranges(plans)):
        ranges[k] = column(f"__v{k}").astype(np.float64, copy=False)
        bucket = column(f"__b{k}")
        if copy is not None:
            bucket = bucket + (copy >> bit & 1) * column(f"__d{k}")
        grids.append(bucket.astype(np.float64))
        if _relative(plans[k]):
            grids.append(column(f"__s{k}").astype(np.float64, copy=False))
    return Entries(
        column(ROWNUM).astype(np.uint32, copy=False),
        keys,
        ranges,
        grids,
        {k: float(np.abs(values).max()) if values.size else 0.0 for k, values in ranges.items()},
    )


def same_keys(
    pairs: pl.DataFrame, plans: list[Plan], prepared: PreparedValues, columns: tuple[str, str]
) -> pl.DataFrame:
    """The pairs (rows in `columns`) whose exact values are equal: what a hash collision
    would have let through is dropped here.

    The values are gathered and compared SAME_KEYS_BATCH pairs at a time (a dense rule
    has millions of candidates, whose gathered values would otherwise all be live at
    once), and the pairs are copied only if a collision is found, which is rare."""
    keys = [plan for plan in plans if isinstance(plan, KeyPlan)]
    if not keys or pairs.is_empty():
        return pairs
    lrows, rrows = pairs.get_column(columns[0]), pairs.get_column(columns[1])
    equal = np.ones(pairs.height, dtype=bool)
    for start in range(0, pairs.height, SAME_KEYS_BATCH):
        lslice, rslice = lrows.slice(start, SAME_KEYS_BATCH), rrows.slice(start, SAME_KEYS_BATCH)
        for plan in keys:
            lvalues = prepared.gather("left", plan.left, lslice)
            rvalues = prepared.gather("right", plan.right, rslice)
            same = (lvalues == rvalues).fill_null(value=False).to_numpy()
            equal[start : start + lslice.len()] &= same
    return pairs if equal.all() else pairs.filter(pl.Series(equal))


def expand(found: Blocks, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (left entry, right entry) pair of the given left entries' blocks."""
    counts = found.counts[entries]
    return np.repeat(entries, counts), positions(found.lo[entries], counts)


def positions(firsts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """firsts[0], firsts[0] + 1, ..., firsts[0] + sizes[0] - 1, firsts[1], ... (int64)."""
    ends = np.cumsum(sizes)
    total = int(ends[-1]) if ends.size else 0
    offsets = np.repeat(firsts - (ends - sizes), sizes)
    result: np.ndarray = np.arange(total, dtype=np.int64) + offsets
    return result


def in_range(
    found: Blocks, plans: list[Plan], lefts: np.ndarray, rights: np.ndarray
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Positions (in `lefts`/`rights`) of the pairs that pass every range test, and each
    test's score for them. The tests filter first; only the survivors are scored, from
    the differences the tests computed."""
    ranges = [(k, plan) for k, plan in enumerate(plans) if isinstance(plan, RangePlan)]
    if not ranges:
        return np.arange(len(lefts)), {}
    # one mask over all tests, then one compaction (boolean indexing costs more than
    # the tests themselves)
    keep = np.ones(len(lefts), dtype=bool)
    diffs = {}
    for k, plan in ranges:
        passed, diffs[k] = _within(found, plan, k, (lefts, rights))
        keep &= passed
    kept = np.flatnonzero(keep)
    lefts, rights = lefts[kept], rights[kept]
    # a pair in range meets in exactly one grid cell, unless a hash collision merged two
    for lgrid, rgrid in zip(found.left.grids, found.right.grids, strict=True):
        same = np.flatnonzero(lgrid[lefts] == rgrid[rights])
        if same.size < kept.size:
            kept, lefts, rights = kept[same], lefts[same], rights[same]
    scores = {}
    for k, plan in ranges:
        diff = diffs[k][kept]
        tolerance = (
            plan.tolerance * np.abs(found.left.ranges[k][lefts])
            if plan.relative
            else np.broadcast_to(plan.tolerance, diff.shape)
        )
        scores[k] = range_score(diff, tolerance)
    return kept, scores


def _within(
    found: Blocks, plan: RangePlan, k: int, pairs: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, whether |left - right| <= tolerance + noise, and |left - right|. For an
    absolute tolerance the noise term is computed only for the few pairs just past the
    tolerance (a pair within the tolerance is in whatever the noise; one past it plus the
    largest noise is out)."""
    lval = found.left.ranges[k][pairs[0]]
    rval = found.right.ranges[k][pairs[1]]
    diff = np.abs(lval - rval)
    if plan.relative:
        tolerance = plan.tolerance * np.abs(lval)
        passed: np.ndarray = diff <= tolerance + _noise(lval, rval)
        return passed, diff
    passed = diff <= plan.tolerance
    largest = found.left.largest[k] + found.right.largest[k]
    edge = np.flatnonzero(~passed & (diff <= plan.tolerance + largest * GRID_SLACK + GRID_SLACK))
    if edge.size:
        passed[edge] = diff[edge] <= plan.tolerance + _noise(lval[edge], rval[edge])
    return passed, diff


def _noise(lval: np.ndarray, rval: np.ndarray) -> np.ndarray:
    """The float noise allowed on top of a tolerance when comparing `lval` and `rval`."""
    noise: np.ndarray = (np.abs(lval) + np.abs(rval)) * GRID_SLACK + GRID_SLACK
    return noise


def range_score(diff: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """1 at no difference, falling linearly to 1 - RANGE_DROP at the tolerance."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(tolerance > 0, 1.0 - RANGE_DROP * diff / tolerance, 1.0)
    clipped: np.ndarray = np.clip(score, 1.0 - RANGE_DROP, 1.0)
    return clipped
