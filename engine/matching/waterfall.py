"""The `match` entry: rules run as a waterfall over the rows no earlier rule took."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from engine.matching.conditions import Plan, plan_condition
from engine.matching.many_to_one import resolve_groups
from engine.matching.prepared import PreparedValues
from engine.matching.resolve import resolve_one_to_one
from engine.matching.result import MatchResult
from engine.matching.ruleset import Rule, Ruleset
from engine.matching.schemas import (
    CANDIDATE_TAKEN,
    CONF,
    CONFIDENCE,
    GROUP,
    GROUP_ID,
    ID,
    LEFT_ID,
    MATCHED,
    MATCHES_SCHEMA,
    NO_CANDIDATE,
    REASON,
    RIGHT_ID,
    ROW,
    RULE,
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
from engine.matching.sides import prepare_side

Progress = Callable[[str, int, int], None]
Frame = pl.DataFrame | pl.LazyFrame


@dataclass
class _State:
    """Rows taken by decisions so far and rows that ever had a candidate."""

    taken_left: pl.Series
    taken_right: pl.Series
    seen_left: pl.Series
    seen_right: pl.Series


def match(
    left: Frame, right: Frame, ruleset: Ruleset, *, progress: Progress | None = None
) -> MatchResult:
    """Match two frames with a ruleset; pure: same inputs, same bytes out."""
    lframe, rframe = _collected(left), _collected(right)
    ruleset.check_columns(lframe.schema, rframe.schema)
    lside = prepare_side(lframe, ruleset.left.id, "left")
    rside = prepare_side(rframe, ruleset.right.id, "right")
    empty = pl.Series(ROW, [], dtype=lside.schema[ROW])
    state = _State(empty, empty, empty, empty)
    decisions: list[pl.DataFrame] = []
    plans = [_plans(rule, lside.schema, rside.schema) for rule in ruleset.rules]
    prepared = PreparedValues(lside, rside)
    total = len(ruleset.rules)
    for number, rule in enumerate(ruleset.rules):
        _report(progress, f"rule {rule.name}", number, total)
        decisions.append(_run_rule(rule, plans[number], (lside, rside), state, prepared))
    _report(progress, "done", total, total)
    return MatchResult(
        matches=_matches(decisions, lside, rside),
        unmatched=_unmatched(lside, rside, state),
        left_rows=lside.height,
        right_rows=rside.height,
        rules=tuple(rule.name for rule in ruleset.rules),
    )


def _collected(frame: Frame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _run_rule(
    rule: Rule,
    plans: list[Plan],
    sides: tuple[pl.DataFrame, pl.DataFrame],
    state: _State,
    prepared: PreparedValues,
) -> pl.DataFrame:
    left = sides[0].filter(~pl.col(ROW).is_in(state.taken_left.implode()))
    right = sides[1].filter(~pl.col(ROW).is_in(state.taken_right.implode()))
    prepared.precompute("left", [plan.left for plan in plans], left[ROW])
    prepared.precompute("right", [plan.right for plan in plans], right[ROW])
    pairs = scored_candidates((left[ROW], right[ROW]), plans, prepared)
    state.seen_left = pl.concat([state.seen_left, pairs.get_column(L).unique()])
    state.seen_right = pl.concat([state.seen_right, pairs.get_column(R).unique()])
    if rule.sum is None:
        accepted = resolve_one_to_one(pairs).with_columns(pl.col(L).alias(GROUP))
    else:
        accepted = resolve_groups(pairs, left, right, rule.sum, len(plans))
    state.taken_left = pl.concat([state.taken_left, accepted.get_column(L).unique()])
    state.taken_right = pl.concat([state.taken_right, accepted.get_column(R)])
    return _decisions(accepted, rule, len(plans))


def _decisions(accepted: pl.DataFrame, rule: Rule, conditions: int) -> pl.DataFrame:
    """The accepted pairs in output form; a many-to-one rule's sum score comes last."""
    scored = conditions + (rule.sum is not None)
    names = [score_column(k) for k in range(scored)]
    status = (
        pl.when(pl.col(CONF) >= rule.accept_at).then(pl.lit(MATCHED)).otherwise(pl.lit(SUGGESTED))
    )
    return accepted.select(
        L,
        R,
        GROUP,
        pl.lit(rule.name).alias(RULE),
        pl.col(CONF).clip(0.0, 1.0).alias(CONFIDENCE),
        status.alias(STATUS),
        pl.concat_list(names).alias(SCORES) if names else pl.lit([]).alias(SCORES),
    )


def _plans(rule: Rule, left: pl.Schema, right: pl.Schema) -> list[Plan]:
    return [plan_condition(c, left[c.left], right[c.right]) for c in rule.when]


def _matches(
    decisions: list[pl.DataFrame], lside: pl.DataFrame, rside: pl.DataFrame
) -> pl.DataFrame:
    if not decisions:
        return pl.DataFrame(schema=MATCHES_SCHEMA)
    rows = pl.concat(decisions).sort(L, R)
    left_ids = lside.get_column(ID).gather(rows.get_column(L))
    right_ids = rside.get_column(ID).gather(rows.get_column(R))
    group_ids = lside.get_column(ID).gather(rows.get_column(GROUP))
    return (
        rows.with_columns(
            left_ids.alias(LEFT_ID), right_ids.alias(RIGHT_ID), group_ids.alias(GROUP_ID)
        )
        .select(MATCHES_SCHEMA.names())
        .cast(MATCHES_SCHEMA)
    )


def _unmatched(lside: pl.DataFrame, rside: pl.DataFrame, state: _State) -> pl.DataFrame:
    parts = [
        _unmatched_side(lside, "left", state.taken_left, state.seen_left),
        _unmatched_side(rside, "right", state.taken_right, state.seen_right),
    ]
    return pl.concat(parts)


def _unmatched_side(
    side: pl.DataFrame, name: str, taken: pl.Series, seen: pl.Series
) -> pl.DataFrame:
    reason = pl.when(pl.col(ROW).is_in(seen.implode())).then(pl.lit(CANDIDATE_TAKEN))
    return side.filter(~pl.col(ROW).is_in(taken.implode())).select(
        pl.lit(name).alias(SIDE),
        pl.col(ID).alias(UNMATCHED_ID),
        reason.otherwise(pl.lit(NO_CANDIDATE)).alias(REASON),
    )
