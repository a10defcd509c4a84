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
from engine.matching.schemas import LEFT_ID, RIGHT_ID, SIDE, UNMATCHED_ID

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


def with_details(
    result: MatchResult, left: pl.DataFrame, right: pl.DataFrame, ruleset: Ruleset
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The result's matches and unmatched rows, each with its detail columns added."""
    columns = detail_columns(ruleset, left.schema, right.schema)
    left_values = _values(left, ruleset.left.id, columns.left_amount, columns.left_date)
    right_values = _values(right, ruleset.right.id, columns.right_amount, columns.right_date)
    matches = result.matches.join(
        left_values.select(
            pl.col("key").alias(LEFT_ID),
            pl.col(AMOUNT).alias(LEFT_AMOUNT),
            pl.col(DATE).alias(LEFT_DATE),
        ),
        on=LEFT_ID,
        how="left",
        maintain_order="left",
    ).join(
        right_values.select(
            pl.col("key").alias(RIGHT_ID),
            pl.col(AMOUNT).alias(RIGHT_AMOUNT),
            pl.col(DATE).alias(RIGHT_DATE),
        ),
        on=RIGHT_ID,
        how="left",
        maintain_order="left",
    )
    both = pl.concat(
        [
            left_values.with_columns(pl.lit("left").alias(SIDE)),
            right_values.with_columns(pl.lit("right").alias(SIDE)),
        ]
    ).rename({"key": UNMATCHED_ID})
    unmatched = result.unmatched.join(
        both, on=[SIDE, UNMATCHED_ID], how="left", maintain_order="left"
    )
    return matches, unmatched


def _values(
    frame: pl.DataFrame, id_column: str, amount: str | None, date: str | None
) -> pl.DataFrame:
    """One row per input id: the id as text (as the outputs carry it), amount and date."""
    return frame.select(
        pl.col(id_column).cast(pl.String).alias("key"),
        (
            pl.col(amount).cast(pl.Float64, strict=False) if amount else pl.lit(None, pl.Float64)
        ).alias(AMOUNT),
        (_as_date(frame, date) if date else pl.lit(None, pl.Date)).alias(DATE),
    )


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
