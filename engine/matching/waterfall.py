"""The `match` entry: rules run as a waterfall over the rows no earlier rule took."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine import polars_memory
from engine.errors import BadInputError
from engine.matching.conditions import Plan, TextPlan, plan_condition
from engine.matching.many_to_one import resolve_groups
from engine.matching.prepared import PreparedValues
from engine.matching.resolve import resolve_one_to_one
from engine.matching.result import Carried, MatchResult
from engine.matching.ruleset import Rule, Ruleset
from engine.matching.schemas import (
    BASE,
    CANDIDATE_TAKEN,
    CONF,
    CONFIDENCE,
    DONE,
    GROUP,
    GROUP_ID,
    ID,
    LEFT_ID,
    MATCHED,
    MATCHES_SCHEMA,
    NEAR,
    NEAR_MISS,
    NO_CANDIDATE,
    REASON,
    RIGHT_ID,
    RIVAL,
    ROW,
    RULE,
    RUNNER_UP,
    SCORED,
    SCORES,
    SIDE,
    STATUS,
    SUGGESTED,
    UNMATCHED_ID,
    L,
    R,
    score_column,
)
from engine.matching.scoring import scored_candidates
from engine.matching.sides import prepare_sides

Progress = Callable[[str, int, int], None]
MARGIN_NOISE = 1e-9
Frame = pl.DataFrame | pl.LazyFrame


@dataclass
class _State:
    """Per side, a flag per row: taken by a decision so far; ever had a candidate."""

    taken: dict[str, np.ndarray]
    seen: dict[str, np.ndarray]

    def remaining(self, side: str) -> pl.Series:
        return pl.Series(ROW, np.flatnonzero(~self.taken[side]), dtype=pl.UInt32)

    def mark(self, flags: dict[str, np.ndarray], side: str, rows: pl.Series) -> None:
        flags[side][rows.to_numpy()] = True


def match(
    left: Frame,
    right: Frame,
    ruleset: Ruleset,
    *,
    progress: Progress | None = None,
    carry: tuple[Sequence[str], Sequence[str]] | None = None,
) -> MatchResult:
    """Match two frames with a ruleset; pure: same inputs, same bytes out.

    `carry` names input columns, left's and right's, to hand back beside the decisions
    and unmatched rows (`MatchResult.carried`): taken by row number while the sides are
    at hand, which costs a gather where a caller would otherwise join on the ids."""
    frames = [_collected(left), _collected(right)]
    del left, right
    ruleset.check_columns(frames[0].schema, frames[1].schema)
    for columns, frame, side in zip(carry or ((), ()), frames, ("left", "right"), strict=True):
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise BadInputError(f"{side}: no column {missing[0]!r} to carry")
    del frame
    # the sides are copies (sorted, one chunk a column), made from `frames`, which
    # `prepare_sides` empties: a caller that handed its frames over (`tieout match`)
    # holds no other reference, so each input column is freed once its copy is made
    lside, rside = prepare_sides(frames, (ruleset.left.id, ruleset.right.id))
    state = _State(
        {"left": np.zeros(lside.height, bool), "right": np.zeros(rside.height, bool)},
        {"left": np.zeros(lside.height, bool), "right": np.zeros(rside.height, bool)},
    )
    decisions: list[pl.DataFrame] = []
    plans = [_plans(rule, lside.schema, rside.schema) for rule in ruleset.rules]
    # from here on the sides live in `prepared` alone, which frees each column and value
    # after the last rule that needs it
    prepared = PreparedValues(lside, rside)
    del lside, rside
    total = len(ruleset.rules)
    for number, rule in enumerate(ruleset.rules):
        _report(progress, f"rule {rule.name}", number, total)
        decisions.append(
            _run_rule(rule, plans[number], state, prepared, _later(ruleset, plans, number, carry))
        )
    prepared.release({}, _kept([], carry))
    lside, rside = prepared.side("left"), prepared.side("right")
    # the prepared values (text as Python strings for rapidfuzz among them) are done
    # with: freed before the outputs are built, which is when memory peaks
    del prepared
    # reported once the rules' data is freed: a caller may hand freed memory back then
    _report(progress, DONE, total, total)
    rows = _in_output_order(decisions)  # empties `decisions`
    carried = None if carry is None else _carried(rows, lside, rside, state, carry)
    lside, rside = lside.select(ID), rside.select(ID)
    matches = _matches(rows, lside, rside)
    del rows  # its scores and row numbers, before the unmatched rows are made
    return MatchResult(
        matches=matches,
        unmatched=_unmatched(lside, rside, state),
        left_rows=lside.height,
        right_rows=rside.height,
        rules=tuple(rule.name for rule in ruleset.rules),
        carried=carried,
    )


def _collected(frame: Frame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _run_rule(
    rule: Rule,
    plans: list[Plan],
    state: _State,
    prepared: PreparedValues,
    later: tuple[dict[str, list[pl.Expr]], dict[str, set[str]]],
) -> pl.DataFrame:
    """One rule's decisions. `later`: the expressions and the columns this rule and the
    rules after it still need (`_later`); the rest is released once this rule's values
    are computed."""
    rows = (state.remaining("left"), state.remaining("right"))
    prepared.release(*later)  # what the rules before used last, before this one's values
    prepared.precompute(
        {"left": [plan.left for plan in plans], "right": [plan.right for plan in plans]},
        {"left": rows[0], "right": rows[1]},
        later,
    )
    prepared.release(*later)  # the columns this rule's values were the last to read
    polars_memory.purge()  # what computing the values took (see engine.polars_memory)
    reach = rule.near_margin if rule.sum is None else 0.0
    scored = scored_candidates(rows, plans, prepared, reach=reach)
    pairs = scored.pairs
    state.mark(state.seen, "left", pairs.get_column(L))
    state.mark(state.seen, "right", pairs.get_column(R))
    if rule.sum is None:
        accepted = resolve_one_to_one(pairs).with_columns(pl.col(L).alias(GROUP))
    else:
        sides = prepared.side("left"), prepared.side("right")
        accepted = resolve_groups(pairs, sides[0], sides[1], rule.sum, len(plans))
    state.mark(state.taken, "left", accepted.get_column(L))
    state.mark(state.taken, "right", accepted.get_column(R))
    return _decisions(_with_near_misses(accepted, scored.near), rule, plans)


def _later(
    ruleset: Ruleset,
    plans: list[list[Plan]],
    number: int,
    carry: tuple[Sequence[str], Sequence[str]] | None,
) -> tuple[dict[str, list[pl.Expr]], dict[str, set[str]]]:
    """What rule `number` and the rules after it need: each side's expressions, and each
    side's columns read other than through them (`_kept`)."""
    exprs: dict[str, list[pl.Expr]] = {"left": [], "right": []}
    for rule_plans in plans[number:]:
        exprs["left"] += [plan.left for plan in rule_plans]
        exprs["right"] += [plan.right for plan in rule_plans]
    return exprs, _kept(ruleset.rules[number:], carry)


def _kept(
    rules: Sequence[Rule], carry: tuple[Sequence[str], Sequence[str]] | None
) -> dict[str, set[str]]:
    """Each side's columns needed whatever the values: ROW and ID, the sums of `rules`
    and the columns to carry."""
    kept = {
        "left": {ROW, ID, *(carry[0] if carry else ())},
        "right": {ROW, ID, *(carry[1] if carry else ())},
    }
    for rule in rules:
        if rule.sum is not None:
            kept["left"].add(rule.sum.left)
            kept["right"].add(rule.sum.right)
    return kept


def _with_near_misses(
    accepted: pl.DataFrame, near: tuple[pl.DataFrame, pl.DataFrame] | None
) -> pl.DataFrame:
    """The accepted pairs with NEAR_MISS: the best near-miss score of either of their rows
    (null when neither has one)."""
    if near is None:
        return accepted.with_columns(pl.lit(None, dtype=pl.Float64).alias(NEAR_MISS))
    by_left, by_right = near
    return (
        accepted.join(by_left.rename({NEAR: "__nl"}), on=L, how="left", maintain_order="left")
        .join(by_right.rename({NEAR: "__nr"}), on=R, how="left", maintain_order="left")
        .with_columns(pl.max_horizontal("__nl", "__nr").alias(NEAR_MISS))
        .drop("__nl", "__nr")
    )


def _decisions(accepted: pl.DataFrame, rule: Rule, plans: list[Plan]) -> pl.DataFrame:
    """The accepted pairs in output form, each score a column of its own (a many-to-one
    rule's sum score last) and SCORED their number; `_matches` makes the list.

    A decision is matched when it is sure and unambiguous: its confidence reaches the
    rule's `accept_at`, its runner-up (the best other candidate of any of its rows) is
    at least the rule's `margin` below its base, and the best near miss of its rows is at
    least the rule's `near_margin` below its score on the first `similar` condition
    (MARGIN_NOISE forgives float noise)."""
    scored = len(plans) + (rule.sum is not None)
    clear = pl.col(BASE) - pl.col(RIVAL) >= rule.margin - MARGIN_NOISE
    text = next((k for k, plan in enumerate(plans) if isinstance(plan, TextPlan)), None)
    if text is not None:
        lead = pl.col(score_column(text)) - pl.col(NEAR_MISS)
        clear &= pl.col(NEAR_MISS).is_null() | (lead >= rule.near_margin - MARGIN_NOISE)
    sure = (pl.col(CONF) >= rule.accept_at) & clear
    status = pl.when(sure).then(pl.lit(MATCHED)).otherwise(pl.lit(SUGGESTED))
    runner_up = pl.when(pl.col(RIVAL).is_finite()).then(pl.col(RIVAL))
    return accepted.select(
        L,
        R,
        GROUP,
        pl.lit(rule.name).alias(RULE),
        pl.col(CONF).clip(0.0, 1.0).alias(CONFIDENCE),
        status.alias(STATUS),
        runner_up.alias(RUNNER_UP),
        NEAR_MISS,
        *(pl.col(score_column(k)) for k in range(scored)),
        pl.lit(scored, dtype=pl.UInt8).alias(SCORED),
    )


def _plans(rule: Rule, left: pl.Schema, right: pl.Schema) -> list[Plan]:
    return [plan_condition(c, left[c.left], right[c.right]) for c in rule.when]


def _in_output_order(decisions: list[pl.DataFrame]) -> pl.DataFrame | None:
    """Every rule's decisions in one frame, by left row, then right row (None if no rule
    ran). Sorted while the scores are still plain columns: sorting the list column cost
    more than everything else in the outputs together. The list is emptied, and the
    frame is sorted a column at a time (one arg-sort, then each column gathered and its
    unsorted chunks dropped), so the decisions are held about once, not twice as a
    whole-frame sort holds them; the pages freed go back to the system before the
    outputs are built (at 1M rows a side, 12-25 MB lower peaks where the outputs set
    the peak)."""
    if not decisions:
        return None
    order = pl.col(L).cast(pl.UInt64) * (1 << 32) + pl.col(R).cast(pl.UInt64)
    frame = pl.concat(decisions, how="diagonal")
    decisions.clear()
    positions = frame.select(order.arg_sort()).to_series()
    columns = []
    for name in frame.columns:
        columns.append(frame.get_column(name).gather(positions))
        frame = frame.drop(name)  # each column freed once its sorted copy is made
    polars_memory.purge()
    return pl.DataFrame(columns)


def _matches(rows: pl.DataFrame | None, lside: pl.DataFrame, rside: pl.DataFrame) -> pl.DataFrame:
    if rows is None:
        return pl.DataFrame(schema=MATCHES_SCHEMA)
    left_ids = lside.get_column(ID).gather(rows.get_column(L))
    right_ids = rside.get_column(ID).gather(rows.get_column(R))
    groups = rows.get_column(GROUP)
    # a group is named by its left row, so this is nearly always left_ids again
    same = bool((groups == rows.get_column(L)).all())
    group_ids = left_ids if same else lside.get_column(ID).gather(groups)
    widest = int(rows.get_column(SCORED).max() or 0)  # type: ignore[arg-type]
    names = [score_column(k) for k in range(widest)]
    # concat_arr + to_list: the same List column, about 15x faster than concat_list; each
    # row keeps its rule's SCORED first scores (the rest are nulls of wider rules)
    scores = (
        pl.concat_arr(names).arr.to_list().list.head(pl.col(SCORED))
        if names
        else pl.lit([], dtype=pl.List(pl.Float64))
    )
    return (
        rows.with_columns(
            left_ids.alias(LEFT_ID),
            right_ids.alias(RIGHT_ID),
            group_ids.alias(GROUP_ID),
            scores.alias(SCORES),
        )
        .select(MATCHES_SCHEMA.names())
        .cast(MATCHES_SCHEMA)
    )


def _carried(
    rows: pl.DataFrame | None,
    lside: pl.DataFrame,
    rside: pl.DataFrame,
    state: _State,
    carry: tuple[Sequence[str], Sequence[str]],
) -> Carried:
    """The `carry` columns of each decision row's left and right rows (in `_matches`'
    order) and of each unmatched row (in `_unmatched`'s)."""

    def taken(side: pl.DataFrame, columns: Sequence[str], rows: pl.Series | None) -> pl.DataFrame:
        if not columns:  # a frame of no columns has no rows either: the caller knows none
            return pl.DataFrame()
        values = side.select(columns)
        return values.clear() if rows is None else values.select(pl.all().gather(rows))

    left_rows = None if rows is None else rows.get_column(L)
    right_rows = None if rows is None else rows.get_column(R)
    return Carried(
        matches_left=taken(lside, carry[0], left_rows),
        matches_right=taken(rside, carry[1], right_rows),
        unmatched_left=taken(lside, carry[0], state.remaining("left")),
        unmatched_right=taken(rside, carry[1], state.remaining("right")),
    )


def _unmatched(lside: pl.DataFrame, rside: pl.DataFrame, state: _State) -> pl.DataFrame:
    parts = [
        _unmatched_side(lside, "left", state),
        _unmatched_side(rside, "right", state),
    ]
    return pl.concat(parts)


def _unmatched_side(side: pl.DataFrame, name: str, state: _State) -> pl.DataFrame:
    open_rows = ~state.taken[name]
    seen = pl.Series(state.seen[name][open_rows])
    reason = pl.when(seen).then(pl.lit(CANDIDATE_TAKEN)).otherwise(pl.lit(NO_CANDIDATE))
    # one chunk, so the Parquet file's row groups never depend on how polars split a filter
    return (
        side.filter(pl.Series(open_rows))
        .select(pl.lit(name).alias(SIDE), pl.col(ID).alias(UNMATCHED_ID), reason.alias(REASON))
        .rechunk()
    )
