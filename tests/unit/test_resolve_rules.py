"""Rules of `engine.matching.resolve` checked at their documented points, where the
mutation run found the matcher's tests silent (make test-deep, #18)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.matching.resolve import (
    AMBIGUITY_MARGIN,
    NO_RIVAL,
    TIE_FACTOR,
    confidence,
    greedy_groups,
)


# TIE_FACTOR for a rival as good, linear up to the margin, and never above 1 past it: a
# clear winner keeps its base confidence and never gains any.
@pytest.mark.parametrize(
    ("base", "rival", "expected"),
    [
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
