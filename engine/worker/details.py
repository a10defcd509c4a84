"""The amounts and dates recorded beside a job's decisions and unmatched rows.

Analysts age open items and total what was matched; the read models need each row's
amount and date for that, and they cannot read the inputs. So the worker records them in
the batches, next to the matcher's columns: `left_amount`, `right_amount`, `left_date`
and `right_date` for a decision row (the date ages an item that a review frees again),
`amount` and `date` for an unmatched row. Which input columns they are comes
from the ruleset: the amount is the first many-to-one `sum` or `within` condition (or an
`equals` on numbers), the date the first `within_days` condition. A ruleset without one
leaves the column null. The decisions hash is computed on the matcher's columns only, so
these details never change it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from engine.matching.result import MatchResult
from engine.matching.ruleset import Equals, Ruleset, Within, WithinDays
from engine.matching.schemas import SIDE

LEFT_AMOUNT, RIGHT_AMOUNT, AMOUNT, DATE = "left_amount", "right_amount", "amount", "date"
LEFT_DATE, RIGHT_DATE = "left_date", "right_date"
DETAIL_COLUMNS = (LEFT_AMOUNT, RIGHT_AMOUNT, LEFT_DATE, RIGHT_DATE, AMOUNT, DATE)


@dataclass(frozen=True)
class DetailColumns:
    """The input columns holding each side's amount and date (None: the ruleset has none)."""

    left_amount: str | None
    right_amount: str | None
    left_date: str | None
    right_date: str | None


def detail_columns(ruleset: Ruleset, left: pl.Schema, right: pl.Schema) -> DetailColumns:
    """The amount and date columns the ruleset names, first found in rule order."""
    amounts: tuple[str, str] | None = None
    dates: tuple[str, str] | None = None
    for rule in ruleset.rules:
        if amounts is None and rule.sum is not None:
            amounts = (rule.sum.left, rule.sum.right)
        for condition in rule.when:
            numeric = _numeric(left, condition.left) and _numeric(right, condition.right)
            if amounts is None and isinstance(condition, Within | Equals) and numeric:
                amounts = (condition.left, condition.right)
            if dates is None and isinstance(condition, WithinDays):
                dates = (condition.left, condition.right)
    return DetailColumns(
        left_amount=amounts[0] if amounts else None,
        right_amount=amounts[1] if amounts else None,
        left_date=dates[0] if dates else None,
        right_date=dates[1] if dates else None,
    )


def carried_columns(columns: DetailColumns) -> tuple[list[str], list[str]]:
    """The input columns `match(carry=...)` is to hand back for `with_details`."""
    left = [name for name in (columns.left_amount, columns.left_date) if name]
    right = [name for name in (columns.right_amount, columns.right_date) if name]
    return list(dict.fromkeys(left)), list(dict.fromkeys(right))


def with_details(result: MatchResult, columns: DetailColumns) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The result's matches and unmatched rows, each with its detail columns added, from
    the columns the matcher carried (`carried_columns`)."""
    carried = result.carried
    if carried is None:
        raise ValueError("with_details needs a result matched with carry=carried_columns(...)")
    rows = result.matches.height
    left_amount, left_date = _details(
        carried.matches_left, columns.left_amount, columns.left_date, rows
    )
    right_amount, right_date = _details(
        carried.matches_right, columns.right_amount, columns.right_date, rows
    )
    matches = result.matches.with_columns(
        left_amount.alias(LEFT_AMOUNT),
        right_amount.alias(RIGHT_AMOUNT),
        left_date.alias(LEFT_DATE),
        right_date.alias(RIGHT_DATE),
    )
    sides = result.unmatched.get_column(SIDE)
    open_left = _details(
        carried.unmatched_left, columns.left_amount, columns.left_date, int((sides == "left").sum())
    )
    open_right = _details(
        carried.unmatched_right,
        columns.right_amount,
        columns.right_date,
        int((sides == "right").sum()),
    )
    unmatched = result.unmatched.with_columns(
        pl.concat([open_left[0], open_right[0]]).alias(AMOUNT),
        pl.concat([open_left[1], open_right[1]]).alias(DATE),
    )
    return matches, unmatched


def _details(
    values: pl.DataFrame, amount: str | None, date: str | None, rows: int
) -> tuple[pl.Series, pl.Series]:
    """One side's amount and date for `rows` rows, from the carried `values` (nulls for a
    column the ruleset does not name)."""
    return _amount(values, amount, rows), _date(values, date, rows)


def _amount(values: pl.DataFrame, column: str | None, rows: int) -> pl.Series:
    if column is None:
        return pl.repeat(None, rows, dtype=pl.Float64, eager=True)
    return values.get_column(column).cast(pl.Float64, strict=False)


def _date(values: pl.DataFrame, column: str | None, rows: int) -> pl.Series:
    if column is None:
        return pl.repeat(None, rows, dtype=pl.Date, eager=True)
    return values.select(_as_date(values, column)).to_series()


def _as_date(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    if dtype == pl.Date:
        return pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.date()
    return pl.col(column).cast(pl.String).str.to_date(strict=False)


def _numeric(schema: pl.Schema, column: str) -> bool:
    dtype = schema.get(column)
    return dtype is not None and dtype.is_numeric()
