"""Rules of `engine.matching.resolve` checked at their documented points, where the
mutation run found the matcher's tests silent (make test-deep, #18)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.matching.resolve import (
    AMBIGUITY_MARGIN,
    NO_RIVAL,
    TIE_FACTOR,
    best_rival,
    confidence,
    descending,
    greedy,
    greedy_groups,
    rank_order,
)

NOTHING = np.empty(0, dtype=np.intp)


# TIE_FACTOR for a rival as good, linear up to the margin, and never above 1 past it: a
# clear winner keeps its base confidence and never gains any.
@pytest.mark.parametrize(
    ("base", "rival", "expected"),
    [
        (0.5, 0.9, 0.5 * TIE_FACTOR),  # a better rival: the floor, not below it
        (0.8, 0.8, 0.8 * TIE_FACTOR),  # a coin toss
        (0.8, 0.8 - AMBIGUITY_MARGIN / 2, 0.8 * (TIE_FACTOR + (1 - TIE_FACTOR) / 2)),
        (0.8, 0.8 - AMBIGUITY_MARGIN, 0.8),  # the margin reached
        (1.0, 0.2, 1.0),  # far past it: still the base, not more
        (0.9, NO_RIVAL, 0.9),
    ],
)
def test_confidence_is_base_times_the_ambiguity_factor(
    base: float, rival: float, expected: float
) -> None:
    (found,) = confidence(np.array([base]), np.array([rival])).tolist()
    assert found == pytest.approx(expected)


def test_two_groups_of_one_left_row_are_contested_even_with_no_right_row_in_common() -> None:
    """Groups in rank order: left row 0 with right rows {1, 2}, then left row 0 with {3, 4}.
    Only the first is accepted: a left row is in one decision, whichever rows it shares."""
    lefts = np.array([0, 0], dtype=np.intp)
    rights = np.array([1, 2, 3, 4], dtype=np.intp)
    starts = np.array([0, 2], dtype=np.intp)
    assert greedy_groups(lefts, rights, starts).tolist() == [0]


def test_with_nothing_to_resolve_nothing_is_accepted_and_the_result_still_indexes() -> None:
    """Callers index their rank order with the accepted positions (`order[greedy(...)]`),
    also when a rule found no candidate or no group."""
    assert NOTHING[greedy(NOTHING, NOTHING)].tolist() == []
    assert NOTHING[greedy_groups(NOTHING, NOTHING, NOTHING)].tolist() == []


def test_a_lone_pair_or_group_is_accepted() -> None:
    one, two = np.array([4], dtype=np.intp), np.array([7, 9], dtype=np.intp)
    assert greedy(one, two[:1]).tolist() == [0]
    assert greedy_groups(one, two, np.array([0], dtype=np.intp)).tolist() == [0]


def test_descending_ranks_are_dense_with_the_highest_value_first() -> None:
    values = np.array([0.5, 0.9, 0.5, 0.7, 0.9])
    assert descending(values).tolist() == [2, 0, 2, 1, 0]


def test_rank_order_of_one_key_or_of_no_rows() -> None:
    assert rank_order([np.array([2, 0, 1], dtype=np.intp)]).tolist() == [1, 2, 0]
    assert rank_order([NOTHING, NOTHING, NOTHING]).tolist() == []


def test_no_candidates_have_no_rivals() -> None:
    """One rival per candidate: none for none (a many-to-one rule that found no group)."""
    assert best_rival(NOTHING, np.empty(0)).shape == (0,)
