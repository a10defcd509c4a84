"""What each condition compares: the prepared value of each side and how it is joined.

A condition becomes one of three plans:
- `KeyPlan`: exact equality, used as a hash-join key (equals; within with tolerance 0).
- `RangePlan`: |left - right| <= tolerance on a float value, joined through grid buckets
  (within, within_days, and within with tolerance_pct on a log scale).
- `TextPlan`: a similarity score of two strings, computed only on candidate pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from engine.dtypes import is_temporal
from engine.matching.ruleset import Equals, Similar, Within, WithinDays

FLOAT_DECIMALS = 6  # floats compare for equality after rounding to this many decimals
MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class KeyPlan:
    left: pl.Expr
    right: pl.Expr


@dataclass(frozen=True)
class RangePlan:
    """|left - right| <= tolerance; with `relative`, tolerance scales with |left|."""

    left: pl.Expr
    right: pl.Expr
    tolerance: float
    relative: bool = False


@dataclass(frozen=True)
class TextPlan:
    left: pl.Expr
    right: pl.Expr
    scorer: str
    minimum: float


Plan = KeyPlan | RangePlan | TextPlan
Cond = Equals | Within | WithinDays | Similar


def plan_condition(cond: Cond, left: pl.DataType, right: pl.DataType) -> Plan:
    """The plan of one condition, given the dtypes of its two columns."""
    lcol, rcol = pl.col(cond.left), pl.col(cond.right)
    if isinstance(cond, Equals):
        return _equals_plan(cond, lcol, rcol, left, right)
    if isinstance(cond, Within):
        return _within_plan(cond, lcol.cast(pl.Float64), rcol.cast(pl.Float64))
    if isinstance(cond, WithinDays):
        lday, rday = day_number(lcol, left), day_number(rcol, right)
        if cond.days == 0:
            return KeyPlan(lday, rday)
        return RangePlan(lday, rday, cond.days)
    return TextPlan(
        normalized(as_text(lcol, left), cond.normalize),
        normalized(as_text(rcol, right), cond.normalize),
        cond.scorer,
        cond.min,
    )


def _equals_plan(
    cond: Equals, lcol: pl.Expr, rcol: pl.Expr, left: pl.DataType, right: pl.DataType
) -> KeyPlan:
    if cond.normalize:
        # with normalize, both sides compare as text, whatever their types
        return KeyPlan(
            normalized(as_text(lcol, left), cond.normalize),
            normalized(as_text(rcol, right), cond.normalize),
        )
    if left.is_numeric() and right.is_numeric():
        if left.is_integer() and right.is_integer():
            return KeyPlan(lcol.cast(pl.Int64), rcol.cast(pl.Int64))
        return KeyPlan(_rounded(lcol), _rounded(rcol))
    if is_temporal(left) or is_temporal(right):
        return KeyPlan(_epoch_micros(lcol, left), _epoch_micros(rcol, right))
    if pl.Boolean in (left, right):
        return KeyPlan(lcol.cast(pl.Boolean), rcol.cast(pl.Boolean))
    return KeyPlan(normalized(lcol.cast(pl.String), ()), normalized(rcol.cast(pl.String), ()))


def _within_plan(cond: Within, lval: pl.Expr, rval: pl.Expr) -> Plan:
    if cond.tolerance is not None:
        if cond.tolerance == 0:
            return KeyPlan(_rounded(lval), _rounded(rval))
        return RangePlan(lval, rval, cond.tolerance)
    pct = cond.tolerance_pct or 0.0
    if pct == 0:
        return KeyPlan(_rounded(lval), _rounded(rval))
    return RangePlan(lval, rval, pct / 100.0, relative=True)


def _rounded(expr: pl.Expr) -> pl.Expr:
    # + 0.0 turns -0.0 into 0.0 so that both hash alike
    return expr.cast(pl.Float64).round(FLOAT_DECIMALS) + 0.0


def _epoch_micros(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Date:
        return expr.cast(pl.Int64) * MICROS_PER_DAY
    return expr.dt.epoch("us")


def day_number(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Days since 1970-01-01 as a float (a Datetime keeps its time of day as a fraction)."""
    return _epoch_micros(expr, dtype).cast(pl.Float64) / MICROS_PER_DAY


def as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A value as text: polars' cast to String (`5551234567`, `12.5`, `2024-01-31`, `true`)."""
    return expr if dtype == pl.String else expr.cast(pl.String)


def normalized(expr: pl.Expr, steps: tuple[str, ...]) -> pl.Expr:
    """Apply `normalize` steps in order; an empty result counts as missing (null)."""
    for step in steps:
        if step == "lower":
            expr = expr.str.to_lowercase()
        elif step == "trim":
            expr = expr.str.strip_chars()
        elif step == "alnum":
            expr = _alnum(expr)
        elif step == "digits":
            expr = expr.str.replace_all(r"[^0-9]+", "")
        elif step == "nospace":
            expr = expr.str.replace_all(r"\s+", "")
        else:
            raise ValueError(f"unknown normalize step {step!r}")
    return expr.replace("", None)


def _alnum(expr: pl.Expr) -> pl.Expr:
    """Keep letters, digits and single spaces: 'INV-001' -> 'INV001', ' A  B. ' -> 'A B'."""
    kept = expr.str.replace_all(r"[^\p{L}\p{N}\s]+", "")
    # same as \s+ -> " ", but a lone plain space (the common case) is not rewritten
    return kept.str.replace_all(r"\s\s+|[^ \S]", " ").str.strip_chars()


def log_tolerance(relative: float) -> float:
    """Width on a log scale that covers |x - y| <= relative * |x| for same-signed x, y."""
    return -math.log1p(-relative)
