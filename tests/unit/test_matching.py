"""The matcher on literal frames: conditions, waterfall, conflicts, groups, outputs."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from demo.datagen import bank_ledger_rules, generate_bank_ledger
from engine.errors import BadInputError
from engine.matching import (
    MatchResult,
    blocks,
    candidates,
    decisions_hash,
    match,
    parse_ruleset,
    scoring,
)
from engine.matching.prepared import PreparedValues
from engine.matching.ruleset import Ruleset, ruleset_from_dict
from engine.matching.schemas import MATCHES_SCHEMA, UNMATCHED_SCHEMA


def ruleset(*rules: dict[str, Any]) -> Ruleset:
    return ruleset_from_dict({"left": {"id": "id"}, "right": {"id": "id"}, "rules": list(rules)})


def one_rule(*when: dict[str, Any], **extra: Any) -> Ruleset:
    return ruleset({"name": "r", "when": list(when), **extra})


def pairs(result: MatchResult) -> list[tuple[str, str]]:
    return list(result.matches.select("left_id", "right_id").iter_rows())


def cond(column: str, op: str, **options: Any) -> dict[str, Any]:
    return {"left": column, "right": column, "op": op, **options}


def test_equals_matches_exact_values_and_never_null_to_null() -> None:
    left = pl.DataFrame({"id": [1, 2, 3], "k": ["a", None, "c"]})
    right = pl.DataFrame({"id": [10, 20, 30], "k": ["c", None, "a"]})
    result = match(left, right, one_rule(cond("k", "equals")))
    assert pairs(result) == [("1", "30"), ("3", "10")]
    assert result.unmatched.rows() == [
        ("left", "2", "no_candidate"),
        ("right", "20", "no_candidate"),
    ]


def test_equals_on_floats_ignores_float_noise_and_normalize_applies() -> None:
    left = pl.DataFrame(
        {"id": ["a", "b", "e"], "x": [0.1 + 0.2, 5.0, 1.0], "s": [" ACME  Corp. ", "INV-001", "x"]}
    )
    right = pl.DataFrame(
        {"id": ["c", "d", "f"], "x": [0.3, 5.0, 1.0], "s": ["acme corp", "inv001", "y"]}
    )
    rules = one_rule(cond("x", "equals"), cond("s", "equals", normalize=["lower", "trim", "alnum"]))
    assert pairs(match(left, right, rules)) == [("a", "c"), ("b", "d")]


@pytest.mark.parametrize(
    ("options", "right_values", "expected"),
    [
        ({"tolerance": 0.05}, [100.05, 100.06], ["r0"]),
        ({"tolerance": 0.05}, [99.95, 99.94], ["r0"]),
        ({"tolerance": 0}, [100.0, 100.01], ["r0"]),
        ({"tolerance_pct": 1}, [101.0, 101.01], ["r0"]),
        ({"tolerance_pct": 1}, [99.0, 98.99], ["r0"]),
    ],
)
def test_within_is_inclusive_at_the_tolerance(
    options: dict[str, float], right_values: list[float], expected: list[str]
) -> None:
    left = pl.DataFrame({"id": ["l0"], "x": [100.0]})
    right = pl.DataFrame({"id": ["r0", "r1"], "x": right_values})
    result = match(left, right, one_rule(cond("x", "within", **options)))
    assert result.matches["right_id"].to_list() == expected


def test_within_pct_needs_the_same_sign_and_zero_meets_only_zero() -> None:
    left = pl.DataFrame({"id": ["a", "b"], "x": [-10.0, 0.0]})
    right = pl.DataFrame({"id": ["c", "d", "e"], "x": [10.0, -10.05, 0.0]})
    result = match(left, right, one_rule(cond("x", "within", tolerance_pct=1)))
    assert pairs(result) == [("a", "d"), ("b", "e")]


def test_within_days_works_on_dates_and_datetimes() -> None:
    day = dt.date(2024, 3, 1)
    left = pl.DataFrame({"id": ["a", "b"], "t": [day, day + dt.timedelta(days=10)]})
    right = pl.DataFrame(
        {
            "id": ["c", "d"],
            "t": [
                dt.datetime(2024, 3, 3, tzinfo=dt.UTC),
                dt.datetime(2024, 3, 13, 0, 1, tzinfo=dt.UTC),
            ],
        }
    )
    result = match(left, right, one_rule(cond("t", "within_days", days=2)))
    assert pairs(result) == [("a", "c")]
    assert result.matches["scores"].to_list() == [[0.75]]


@pytest.mark.parametrize(
    ("scorer", "minimum", "expected"),
    [
        ("ratio", 90, [("a", "c")]),
        ("token_set_ratio", 90, [("a", "c"), ("b", "d")]),
        ("token_sort_ratio", 90, [("a", "c"), ("b", "d")]),
        ("partial_ratio", 100, [("a", "c")]),
        ("WRatio", 90, [("a", "c"), ("b", "d")]),
        ("QRatio", 90, [("a", "c")]),
        ("jaro_winkler", 90, [("a", "c")]),
    ],
)
def test_similar_uses_the_named_scorer(
    scorer: str, minimum: float, expected: list[tuple[str, str]]
) -> None:
    left = pl.DataFrame({"id": ["a", "b"], "k": [1, 2], "s": ["acme corp", "blue sky ltd"]})
    right = pl.DataFrame({"id": ["c", "d"], "k": [1, 2], "s": ["acme corp.", "ltd blue sky"]})
    rules = one_rule(cond("k", "equals"), cond("s", "similar", scorer=scorer, min=minimum))
    assert pairs(match(left, right, rules)) == expected


def test_similar_without_blocking_keys_scores_every_pair_and_skips_nulls() -> None:
    left = pl.DataFrame({"id": ["a", "b", "c"], "s": ["Jonathan Smith", None, "Mary Jones"]})
    right = pl.DataFrame({"id": ["x", "y", "z"], "s": ["mary jones", "jonathon smith", None]})
    rules = one_rule(cond("s", "similar", scorer="ratio", min=85, normalize=["lower"]))
    assert pairs(match(left, right, rules)) == [("a", "y"), ("c", "x")]


def test_chunked_candidate_generation_gives_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    left = pl.DataFrame({"id": list(range(60)), "x": [i % 4 for i in range(60)]})
    right = pl.DataFrame({"id": list(range(100, 150)), "x": [i % 4 for i in range(50)]})
    rules = one_rule(cond("x", "within", tolerance=1))
    whole = match(left, right, rules)
    monkeypatch.setattr(scoring, "PAIR_BUDGET", 50)
    assert_frame_equal(match(left, right, rules).matches, whole.matches)


def test_a_text_only_rule_scores_in_slices_of_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["anna", "bert", "carl", "dora", "emil", "fred"]
    left = pl.DataFrame({"id": names, "s": names, "t": [*names[:5], None]})
    right = pl.DataFrame({"id": [n.upper() for n in names], "s": [n + "x" for n in names]})
    right = right.with_columns(t=pl.col("s"))
    rules = one_rule(
        cond("s", "similar", scorer="ratio", min=80),
        cond("t", "similar", scorer="jaro_winkler", min=50),
    )
    monkeypatch.setattr(scoring, "MATRIX_BUDGET", 7)
    result = match(left, right, rules)
    assert pairs(result) == [(n, n.upper()) for n in names[:5]]
    assert result.matches["scores"].to_list()[0] == pytest.approx([0.888889, 0.96], abs=1e-6)


def test_big_key_blocks_score_as_matrices_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = ["anna smith", "bert jones", "carl brown", "dora white", "emil black", "fred green"]
    left = pl.DataFrame(
        {"id": range(12), "k": [i % 2 for i in range(12)], "s": names * 2, "t": names[::-1] * 2}
    )
    right = pl.DataFrame(
        {
            "id": range(100, 112),
            "k": [i % 2 for i in range(12)],
            "s": [n.upper() for n in names] * 2,
            "t": [*names[::-1][:5], None] * 2,
        }
    )
    rules = one_rule(
        cond("k", "equals"),
        cond("s", "similar", scorer="ratio", min=60, normalize=["lower"]),
        cond("t", "similar", scorer="token_sort_ratio", min=50),
    )
    monkeypatch.setattr(blocks, "EXACT_BLOCK", 10**9)
    joined = match(left, right, rules)
    monkeypatch.setattr(blocks, "EXACT_BLOCK", 4)
    monkeypatch.setattr(scoring, "MATRIX_BUDGET", 10)
    as_matrices = match(left, right, rules)
    assert_frame_equal(as_matrices.matches, joined.matches)
    monkeypatch.setattr(blocks, "HEAVY_KEY", 30)  # the 6 x 6 keys: on the thread pool
    assert_frame_equal(match(left, right, rules).matches, joined.matches)
    assert joined.matches.height == 10


@pytest.mark.parametrize(("lefts", "rights"), [(3, 8), (8, 3)])
def test_left_rows_are_offered_to_neighbouring_buckets(
    lefts: int, rights: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The left side is the repeated one, whichever side is larger; every pair within
    tolerance is found once."""
    left = pl.DataFrame(
        {"id": [f"a{i}" for i in range(lefts)], "x": [10.0 * i for i in range(lefts)]}
    )
    right = pl.DataFrame(
        {"id": [f"b{j}" for j in range(rights)], "x": [10.0 * j + 1.5 for j in range(rights)]}
    )
    entries: list[tuple[int, int]] = []
    keyed = candidates.partitions

    def counting(*args: Any) -> Iterator[candidates.Blocks]:
        for found in keyed(*args):
            entries.append((found.left.keys.size, found.right.keys.size))
            yield found

    monkeypatch.setattr(scoring, "partitions", counting)
    result = match(left, right, one_rule(cond("x", "within", tolerance=1.5)))
    shared = min(lefts, rights)
    assert pairs(result) == [(f"a{i}", f"b{i}") for i in range(shared)]
    assert entries == [(2 * lefts, rights)]


def test_sorted_keys_keep_equal_keys_in_entry_order() -> None:
    """Keys are the hashes' top bits, ascending; equal keys keep the entries' order (the
    position below the key makes every sorted value distinct, so the sort is stable)."""
    low = (1 << 5) - 1  # the bits the positions take; the hashes' own are dropped
    tops = [7, 3, 7, 3, 0] + [5] * 20
    hashes = np.array([(top << 60) | (low if n % 2 == 0 else 0) for n, top in enumerate(tops)],
                      dtype=np.uint64)  # fmt: skip
    order, keys = candidates.sorted_keys(hashes, 5)
    assert order.tolist() == [4, 1, 3, *range(5, 25), 0, 2]
    assert keys.tolist() == [0, 3 << 55, 3 << 55, *[5 << 55] * 20, 7 << 55, 7 << 55]
    with pytest.raises(ValueError, match="do not fit"):
        candidates.sorted_keys(hashes, 4)


def test_huge_range_values_share_the_grid_edge_and_are_decided_by_their_values() -> None:
    """Values too far out for a grid bucket (x / 2t past 2**50) share the edge bucket;
    the range test still decides each pair."""
    rules = one_rule(cond("x", "within", tolerance=1))
    left = pl.DataFrame({"id": ["a", "c", "d", "g"], "x": [1e300, -1e300, 5e15, 2e15]})
    right = pl.DataFrame({"id": ["b", "e", "f", "h"], "x": [1e300, 1e299, 5e15 + 0.5, 3e15]})
    assert pairs(match(left, right, rules)) == [("a", "b"), ("d", "f")]


def test_sides_of_very_different_sizes_meet_on_the_same_keys() -> None:
    """Both sides' keys drop the same low bits of the hash, however many entries each
    side has (here 2 x 600 left entries against one right row)."""
    left = pl.DataFrame(
        {"id": [f"a{i:03}" for i in range(600)], "x": [float(i) for i in range(600)]}
    )
    right = pl.DataFrame({"id": ["b"], "x": [299.5]})
    result = match(left, right, one_rule(cond("x", "within", tolerance=0.5)))
    assert pairs(result) == [("a299", "b")]


def test_a_pair_at_the_tolerance_is_decided_by_its_values_alone() -> None:
    """At a large magnitude a pair one cent apart differs by a little more than 0.01 in
    floating point; whether it meets in the grid must not depend on unrelated rows (it did
    when the side with fewer rows was the repeated one)."""
    rules = one_rule(cond("amt", "within", tolerance=0.01))
    left = pl.DataFrame({"id": ["a"], "amt": [5539999805.15]})
    right = pl.DataFrame({"id": ["b"], "amt": [5539999805.16]})
    alone = pairs(match(left, right, rules))
    more_left = pl.concat([left, pl.DataFrame({"id": ["z"], "amt": [1.0]})])
    more_right = pl.concat([right, pl.DataFrame({"id": ["x", "y"], "amt": [2.0, 3.0]})])
    assert pairs(match(more_left, right, rules)) == alone
    assert pairs(match(left, more_right, rules)) == alone


def test_the_waterfall_offers_later_rules_only_what_is_left() -> None:
    left = pl.DataFrame({"id": ["a", "b"], "ref": ["R1", None], "x": [5, 5]})
    right = pl.DataFrame({"id": ["c", "d"], "ref": ["R1", None], "x": [5, 5]})
    rules = ruleset(
        {"name": "by-ref", "when": [cond("ref", "equals")]},
        {"name": "by-amount", "when": [cond("x", "equals")]},
    )
    result = match(left, right, rules)
    assert result.matches.select("left_id", "right_id", "rule").rows() == [
        ("a", "c", "by-ref"),
        ("b", "d", "by-amount"),
    ]
    assert result.summary()["rules"] == {
        "by-ref": {"matched": 1, "suggested": 0},
        "by-amount": {"matched": 1, "suggested": 0},
    }


def test_conflicts_go_to_the_higher_confidence() -> None:
    day = dt.date(2024, 1, 10)
    left = pl.DataFrame({"id": ["a", "b"], "x": [5, 5], "t": [day, day + dt.timedelta(days=2)]})
    right = pl.DataFrame({"id": ["c"], "x": [5], "t": [day + dt.timedelta(days=2)]})
    rules = one_rule(cond("x", "equals"), cond("t", "within_days", days=3))
    assert pairs(match(left, right, rules)) == [("b", "c")]


def test_ties_break_by_id_and_a_tie_is_only_a_suggestion() -> None:
    left = pl.DataFrame({"id": ["b", "a"], "x": [5, 5]})
    right = pl.DataFrame({"id": ["d", "c"], "x": [5, 5]})
    result = match(left, right, one_rule(cond("x", "equals")))
    assert pairs(result) == [("a", "c"), ("b", "d")]
    assert result.matches["status"].to_list() == ["suggested", "suggested"]
    assert result.matches["confidence"].to_list() == [0.4, 0.4]


def test_a_clear_winner_keeps_full_confidence() -> None:
    left = pl.DataFrame({"id": ["a"], "x": [5.0]})
    right = pl.DataFrame({"id": ["c", "d"], "x": [5.0, 6.0]})
    result = match(left, right, one_rule(cond("x", "within", tolerance=1)))
    assert result.matches.select("right_id", "confidence", "status").rows() == [
        ("c", 1.0, "matched")
    ]


def test_accept_at_splits_matched_from_suggested() -> None:
    left = pl.DataFrame({"id": ["a", "b"], "x": [10.0, 20.0]})
    right = pl.DataFrame({"id": ["c", "d"], "x": [10.0, 20.5]})
    result = match(left, right, one_rule(cond("x", "within", tolerance=1), accept_at=0.9))
    assert result.matches.select("left_id", "confidence", "status").rows() == [
        ("a", 1.0, "matched"),
        ("b", 0.875, "suggested"),
    ]


@pytest.mark.parametrize(
    ("near_margin", "near_miss", "status"),
    [(0.07, 0.761905, "suggested"), (0.03, None, "matched"), (0.0, None, "matched")],
)
def test_a_near_miss_in_the_block_makes_a_bare_pass_a_suggestion(
    near_margin: float, near_miss: float | None, status: str
) -> None:
    """`c` clears `min` (80) by nothing, `d` misses it by 3.8 points in the same block:
    the only candidate is no evidence that `a` has found its partner."""
    left = pl.DataFrame({"id": ["a"], "k": [1], "s": ["abcdefghij"]})
    right = pl.DataFrame({"id": ["c", "d"], "k": [1, 1], "s": ["abcdefghxx", "abcdefghxxy"]})
    rules = one_rule(
        cond("k", "equals"),
        cond("s", "similar", scorer="ratio", min=80),
        near_margin=near_margin,
    )
    found = match(left, right, rules).matches
    assert found.select("right_id", "runner_up", "status").rows() == [("c", None, status)]
    assert found["near_miss"].round(6).to_list() == [near_miss]


def test_many_to_one_groups_right_rows_that_sum_to_a_left_row() -> None:
    left = pl.DataFrame({"id": ["a", "b"], "ref": ["R", "S"], "x": [100.0, 50.0]})
    right = pl.DataFrame(
        {
            "id": ["c", "d", "e", "f", "g"],
            "ref": ["R", "R", "R", "S", "S"],
            "x": [30.0, 70.0, 99.0, 20.0, 20.0],
        }
    )
    rules = ruleset(
        {
            "name": "split",
            "kind": "many_to_one",
            "when": [cond("ref", "equals")],
            "sum": {"left": "x", "right": "x", "tolerance": 0.01},
        }
    )
    result = match(left, right, rules)
    assert result.matches.select("left_id", "right_id", "group_id", "scores").rows() == [
        ("a", "c", "a", [1.0, 1.0]),
        ("a", "d", "a", [1.0, 1.0]),
    ]
    assert result.summary()["unmatched_right"] == 3


def test_outputs_have_the_contract_schemas_and_sorted_rows() -> None:
    left = pl.DataFrame({"id": [3, 1, 2], "x": [1, 2, 3]})
    right = pl.DataFrame({"id": ["z", "y", "x"], "x": [3, 2, 9]})
    result = match(left.lazy(), right.lazy(), one_rule(cond("x", "equals")))
    assert result.matches.schema == MATCHES_SCHEMA
    assert result.unmatched.schema == UNMATCHED_SCHEMA
    assert pairs(result) == [("1", "y"), ("2", "z")]
    assert result.summary() == {
        "left_rows": 3,
        "right_rows": 3,
        "matched": 2,
        "suggested": 0,
        "matched_left": 2,
        "matched_right": 2,
        "unmatched_left": 1,
        "unmatched_right": 1,
        "rules": {"r": {"matched": 2, "suggested": 0}},
    }


def test_results_and_hash_do_not_depend_on_row_order() -> None:
    left = pl.DataFrame({"id": list(range(8)), "x": [5, 5, 5, 6, 6, 7, 8, 9]})
    right = pl.DataFrame({"id": list(range(10, 18)), "x": [5, 6, 5, 6, 7, 7, 5, 1]})
    rules = one_rule(cond("x", "equals"))
    first = match(left, right, rules)
    second = match(left.reverse(), right.sample(fraction=1.0, shuffle=True, seed=3), rules)
    assert_frame_equal(first.matches, second.matches)
    assert_frame_equal(first.unmatched, second.unmatched)
    assert decisions_hash(first) == decisions_hash(second)


def test_partitions_of_the_keys_write_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bank generator's data matched whole and with each rule's keys cut into many
    partitions (hundreds of entries each): the same Parquet bytes."""
    data = generate_bank_ledger(4_000, seed=11)
    rules = parse_ruleset(bank_ledger_rules())
    whole = match(data.left, data.right, rules)
    counts: list[int] = []
    real = candidates.partition_count

    def counted(entries: int) -> int:
        counts.append(real(entries))
        return counts[-1]

    monkeypatch.setattr(candidates, "PARTITION_ENTRIES", 256)
    monkeypatch.setattr(candidates, "partition_count", counted)
    parted = match(data.left, data.right, rules)
    assert min(counts) >= 4, counts
    for frame in ("matches", "unmatched"):
        bytes_whole, bytes_parted = io.BytesIO(), io.BytesIO()
        getattr(whole, frame).write_parquet(bytes_whole)
        getattr(parted, frame).write_parquet(bytes_parted)
        assert bytes_whole.getvalue() == bytes_parted.getvalue(), frame


def test_batched_range_tests_and_key_checks_write_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The big keys' cells range-tested, and the candidates' exact values compared, a few
    at a time: the same Parquet bytes as in large batches. (Keys of 4 cells are big, so
    that this small data set has big keys.)"""
    data = generate_bank_ledger(4_000, seed=11)
    rules = parse_ruleset(bank_ledger_rules())
    monkeypatch.setattr(blocks, "BIG_BLOCK", 4)
    whole = match(data.left, data.right, rules)
    big_cells: list[int] = []
    real = scoring._in_range

    def counted(found: Any, plans: Any, lefts: np.ndarray, *args: Any) -> pl.DataFrame:
        if len(args) > 1 and args[1]:  # the big keys' cells come with their scores
            big_cells.append(lefts.size)
        return real(found, plans, lefts, *args)

    monkeypatch.setattr(scoring, "CELL_BATCH", 4)
    monkeypatch.setattr(candidates, "SAME_KEYS_BATCH", 100)
    monkeypatch.setattr(scoring, "_in_range", counted)
    batched = match(data.left, data.right, rules)
    assert big_cells.count(4) >= 2, big_cells
    for frame in ("matches", "unmatched"):
        bytes_whole, bytes_batched = io.BytesIO(), io.BytesIO()
        getattr(whole, frame).write_parquet(bytes_whole)
        getattr(batched, frame).write_parquet(bytes_batched)
        assert bytes_whole.getvalue() == bytes_batched.getvalue(), frame


def test_prepared_values_release_what_no_later_rule_needs() -> None:
    left = pl.DataFrame({"__i": [0, 1], "__id": ["a", "b"], "x": [1.0, 2.0], "s": ["p", "q"]})
    right = left.clone()
    prepared = PreparedValues(left, right)
    doubled, text = pl.col("x") * 2, pl.col("s").str.to_uppercase()
    rows = pl.Series([0, 1], dtype=pl.UInt32)
    prepared.precompute({"left": [doubled, text]}, {"left": rows})
    # the doubled values stay, so x is not needed; s is read by a value not computed yet
    later = pl.col("s").str.to_lowercase()
    prepared.release({"left": [doubled, later]}, {"left": {"__i", "__id"}, "right": {"__i"}})
    assert prepared.side("left").columns == ["__i", "__id", "s"]
    assert prepared.side("right").columns == ["__i"]
    assert prepared.gather("left", doubled, rows).to_list() == [2.0, 4.0]
    prepared.release({}, {"left": {"__id"}, "right": {"__i"}})
    assert prepared.side("left").columns == ["__id"]


def test_no_candidates_gives_empty_typed_outputs() -> None:
    left = pl.DataFrame({"id": [1], "x": [1]})
    right = pl.DataFrame({"id": [2], "x": [2]})
    result = match(left, right, one_rule(cond("x", "equals")))
    assert result.matches.height == 0
    assert result.matches.schema == MATCHES_SCHEMA
    assert len(decisions_hash(result)) == 64


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([1, 1], "left.id: column 'id' repeats the id '1'"),
        ([1, None], "left.id: column 'id' has 1 missing values"),
    ],
)
def test_ids_must_be_unique_and_present(ids: list[int | None], message: str) -> None:
    left = pl.DataFrame({"id": ids, "x": [1, 2]})
    right = pl.DataFrame({"id": [1], "x": [1]})
    with pytest.raises(BadInputError, match=message):
        match(left, right, one_rule(cond("x", "equals")))


def test_progress_reports_each_rule() -> None:
    seen: list[tuple[str, int, int]] = []
    left = pl.DataFrame({"id": [1], "x": [1]})
    match(left, left, one_rule(cond("x", "equals")), progress=lambda *a: seen.append(a))
    assert seen == [("rule r", 0, 1), ("done", 1, 1)]


def test_the_generator_is_deterministic_and_its_truth_is_found() -> None:
    first, second = generate_bank_ledger(3_000, seed=5), generate_bank_ledger(3_000, seed=5)
    assert_frame_equal(first.left, second.left)
    assert_frame_equal(first.truth, second.truth)
    assert set(first.truth["kind"]) == {"exact", "shifted", "fuzzy", "split"}
    result = match(first.left, first.right, parse_ruleset(bank_ledger_rules()))
    found = result.matches.join(first.truth, on=["left_id", "right_id"]).height
    assert found / first.truth.height > 0.99
    assert found / result.matches.height > 0.99
