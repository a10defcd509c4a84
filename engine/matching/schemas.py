"""Column names and schemas of the matcher's frames, internal and public."""

from __future__ import annotations

import polars as pl

# Internal columns. The leading "__" keeps them apart from user columns.
ROW = "__i"  # row number of a side after sorting it by id (so id order == row order)
ID = "__id"  # the id cast to String
L = "__l"  # a candidate's left row
R = "__r"  # a candidate's right row
BASE = "__base"  # confidence before the ambiguity factor
CONF = "__conf"  # confidence after it
RIVAL = "__rival"  # the best base of another candidate sharing a row (-inf: none)
GROUP = "__g"  # a many-to-one group's number
NEAR = "__near"  # a pair that holds every condition but the first `similar` one's `min`

# Public output columns (the `tieout match` contract in docs/matching.md, plus `scores`).
LEFT_ID = "left_id"
RIGHT_ID = "right_id"
GROUP_ID = "group_id"
RULE = "rule"
CONFIDENCE = "confidence"
STATUS = "status"
SCORES = "scores"
RUNNER_UP = "runner_up"
NEAR_MISS = "near_miss"
SCORED = "__scored"  # how many scores a decision has (its rule's conditions, + 1 for a sum)
SIDE = "side"
UNMATCHED_ID = "id"
REASON = "reason"

MATCHED = "matched"
SUGGESTED = "suggested"

# The last progress stage `match` reports: every rule has run and the rules' working data
# (prepared values, the sides' columns other than the id) is freed; the outputs come next.
DONE = "done"

NO_CANDIDATE = "no_candidate"
CANDIDATE_TAKEN = "candidates_taken"

_MATCH_TYPES: dict[str, pl.DataType] = {
    LEFT_ID: pl.String(),
    RIGHT_ID: pl.String(),
    GROUP_ID: pl.String(),
    RULE: pl.String(),
    CONFIDENCE: pl.Float64(),
    STATUS: pl.String(),
    SCORES: pl.List(pl.Float64),
    RUNNER_UP: pl.Float64(),
    NEAR_MISS: pl.Float64(),
}
MATCHES_SCHEMA = pl.Schema(_MATCH_TYPES)
UNMATCHED_SCHEMA = pl.Schema({SIDE: pl.String, UNMATCHED_ID: pl.String, REASON: pl.String})


def score_column(position: int) -> str:
    """The candidate column holding the score of a rule's `when[position]`."""
    return f"__s{position}"
