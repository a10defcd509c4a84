"""Resolution against plain-Python references: rivals, rank, greedy, many-to-one groups."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl
import pytest

from engine.matching import many_to_one, resolve
from engine.matching.many_to_one import resolve_groups
from engine.matching.resolve import best_rival, greedy_groups, rank_order, resolve_one_to_one
from engine.matching.ruleset import SumSpec
from engine.matching.schemas import BASE, CONF, GROUP, RIVAL, ROW, L, R, score_column

BASES = [0.75, 0.8, 0.875, 0.9, 0.95, 1.0]


def candidates(seed: int, rows: int, pairs: int, spread: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    chosen = [divmod(int(cell), rows) for cell in rng.choice(rows * rows, pairs, replace=False)]
    return pl.DataFrame(
        {
            L: [a * spread for a, _ in chosen],
            R: [b * spread for _, b in chosen],
            BASE: [float(rng.choice(BASES)) for _ in chosen],
        },
        schema={L: pl.UInt32, R: pl.UInt32, BASE: pl.Float64},
    )


def reference_rivals(keys: list[int], base: list[float]) -> list[float]:
    return [
        max(
            (b for j, (k, b) in enumerate(zip(keys, base, strict=True)) if k == key and j != i),
            default=-np.inf,
        )
        for i, key in enumerate(keys)
    ]


def reference_one_to_one(frame: pl.DataFrame) -> set[tuple[int, int, float, float]]:
    lefts, rights, base = frame[L].to_list(), frame[R].to_list(), frame[BASE].to_list()
    rival = np.maximum(reference_rivals(lefts, base), reference_rivals(rights, base))
    conf = resolve.confidence(np.array(base), rival).tolist()
    degree = [lefts.count(a) + rights.count(b) for a, b in zip(lefts, rights, strict=True)]
    rank = sorted(range(len(lefts)), key=lambda i: (-conf[i], degree[i], lefts[i], rights[i]))
    used_l: set[int] = set()
    used_r: set[int] = set()
    won: set[tuple[int, int, float, float]] = set()
    for i in rank:
        if lefts[i] not in used_l and rights[i] not in used_r:
            used_l.add(lefts[i])
            used_r.add(rights[i])
            won.add((lefts[i], rights[i], conf[i], float(rival[i])))
    return won


@pytest.mark.parametrize("chunk", [1, 3, resolve.CHUNK])
@pytest.mark.parametrize("seed", range(8))
def test_one_to_one_is_the_greedy_over_the_documented_rank(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "CHUNK", chunk)
    frame = candidates(seed, rows=12, pairs=40, spread=1 if seed % 2 else 100_003)
    result = resolve_one_to_one(frame)
    assert set(result.select(L, R, CONF, RIVAL).iter_rows()) == reference_one_to_one(frame)
    assert result.columns == [*frame.columns, CONF, RIVAL]


def test_rivals_are_the_best_other_base() -> None:
    keys = np.array([5, 5, 5, 7, 9, 9, 3_000_000], dtype=np.intp)
    base = np.array([1.0, 0.9, 0.8, 1.0, 0.9, 0.9, 0.5])
    expected = reference_rivals(keys.tolist(), base.tolist())
    assert (
        best_rival(keys, base).tolist() == expected == [0.9, 1.0, 1.0, -np.inf, 0.9, 0.9, -np.inf]
    )


def test_rank_order_beyond_64_bits_is_a_lexicographic_sort() -> None:
    rng = np.random.default_rng(1)
    keys = [rng.integers(0, 3, 50), rng.integers(0, 2**40, 50), rng.integers(0, 2**40, 50)]
    expected = sorted(range(50), key=lambda i: tuple(int(key[i]) for key in keys))
    assert rank_order(keys).tolist() == expected
    small = [key % 4 for key in keys[:2]] + [np.arange(50)]
    expected = sorted(range(50), key=lambda i: tuple(int(key[i]) for key in small))
    assert rank_order(small).tolist() == expected
    # the many-to-one groups' keys: six of 8 + 2 + 4 x 20 bits, packed into two words
    grouped = [rng.integers(0, 2**8, 400), rng.integers(0, 3, 400)]
    grouped += [rng.integers(0, 2, 400) * (2**20 - 1) for _ in range(3)] + [np.arange(400)]
    expected = sorted(range(400), key=lambda i: tuple(int(key[i]) for key in grouped))
    assert rank_order(grouped).tolist() == expected


@pytest.mark.parametrize("chunk", [1, 4, resolve.CHUNK])
@pytest.mark.parametrize("seed", range(6))
def test_group_greedy_takes_each_group_whose_rows_are_still_free(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "CHUNK", chunk)
    rng = np.random.default_rng(seed)
    groups = [
        (int(rng.integers(15)), rng.choice(25, int(rng.integers(2, 4)), replace=False).tolist())
        for _ in range(40)
    ]
    used_l: set[int] = set()
    used_r: set[int] = set()
    expected = []
    for number, (left, rights) in enumerate(groups):
        if left not in used_l and used_r.isdisjoint(rights):
            used_l.add(left)
            used_r.update(rights)
            expected.append(number)
    lefts = np.array([left for left, _ in groups], dtype=np.intp)
    flat = np.array([right for _, rights in groups for right in rights], dtype=np.intp)
    starts = np.cumsum([0] + [len(rights) for _, rights in groups[:-1]])
    assert greedy_groups(lefts, flat, starts).tolist() == expected


def reference_groups(
    pairs: pl.DataFrame, amounts: tuple[list[float], list[float]], spec: SumSpec
) -> set[tuple[int, int, int, float]]:
    """(group, left, right, confidence) of the accepted groups, by brute force."""
    found = []
    for left in sorted(set(pairs[L].to_list())):
        members = pairs.filter(pl.col(L) == left).sort([BASE, R], descending=[True, False])
        rows = list(members.select(R, BASE).iter_rows())[: spec.max_candidates]
        for size in range(2, spec.max_group_size + 1):
            for subset in combinations(rows, size):
                total = sum(amounts[1][right] for right, _ in subset)
                if abs(total - amounts[0][left]) <= spec.tolerance + 1e-9:
                    base = (sum(b for _, b in subset) / size * 1 + 1.0) / 2
                    found.append((left, tuple(sorted(right for right, _ in subset)), base))
    bases = [base for _, _, base in found]
    rival = np.maximum(
        reference_rivals([left for left, _, _ in found], bases),
        [
            max(
                (b for j, (_, rs, b) in enumerate(found) if j != i and set(rs) & set(rights)),
                default=-np.inf,
            )
            for i, (_, rights, _) in enumerate(found)
        ],
    )
    conf = resolve.confidence(np.array(bases), rival).tolist()
    rank = sorted(range(len(found)), key=lambda i: (-conf[i], len(found[i][1]), *found[i][:2]))
    used_l: set[int] = set()
    used_r: set[int] = set()
    won: set[tuple[int, int, int, float]] = set()
    for i in rank:
        left, rights, _ = found[i]
        if left not in used_l and used_r.isdisjoint(rights):
            used_l.add(left)
            used_r.update(rights)
            won.update((left, left, right, conf[i]) for right in rights)
    return won


@pytest.mark.parametrize("subsets", [1, many_to_one.SUBSETS])
@pytest.mark.parametrize("seed", range(6))
def test_many_to_one_is_the_greedy_over_brute_force_groups(
    seed: int, subsets: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(many_to_one, "SUBSETS", subsets)
    rng = np.random.default_rng(seed)
    spec = SumSpec(left="amount", right="amount", tolerance=0.0, max_candidates=4)
    left_amounts = [float(rng.choice([3, 4, 5, 6])) for _ in range(6)]
    right_amounts = [float(rng.choice([1, 2, 3])) for _ in range(12)]
    pairs = candidates(seed, rows=12, pairs=50).filter(pl.col(L) < len(left_amounts))
    pairs = pairs.with_columns(pl.col(BASE).alias(score_column(0)))
    sides = [
        pl.DataFrame(
            {ROW: range(len(a)), "amount": a}, schema={ROW: pl.UInt32, "amount": pl.Float64}
        )
        for a in (left_amounts, right_amounts)
    ]
    result = resolve_groups(pairs, sides[0], sides[1], spec, conditions=1)
    got = set(result.select(GROUP, L, R, CONF).iter_rows())
    assert got == reference_groups(pairs, (left_amounts, right_amounts), spec)
    assert result.columns == [GROUP, L, R, BASE, CONF, RIVAL, score_column(0), score_column(1)]
