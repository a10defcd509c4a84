"""The amounts and dates recorded beside decisions come from the matcher's carried columns:
the same values a join on the ids gives, whatever the ids' type and order and the
columns' types."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from demo.datagen import bank_ledger_rules, generate_bank_ledger
from engine.matching import match
from engine.matching.ruleset import parse_ruleset
from engine.matching.schemas import LEFT_ID, RIGHT_ID, SIDE, UNMATCHED_ID
from engine.worker.details import (
    AMOUNT,
    DATE,
    LEFT_AMOUNT,
    LEFT_DATE,
    RIGHT_AMOUNT,
    RIGHT_DATE,
    DetailColumns,
    carried_columns,
    detail_columns,
    with_details,
)


def joined(
    frame: pl.DataFrame, id_column: str, amount: str | None, date: str | None
) -> pl.DataFrame:
    """The reference: one row per id, its amount and date, for a join on the id."""
    dtype = frame.schema[date] if date else None
    if date is None:
        day = pl.lit(None, pl.Date)
    elif dtype == pl.Date:
        day = pl.col(date)
    elif isinstance(dtype, pl.Datetime):
        day = pl.col(date).dt.date()
    else:
        day = pl.col(date).cast(pl.String).str.to_date(strict=False)
    return frame.select(
        pl.col(id_column).cast(pl.String).alias("key"),
        (
            pl.col(amount).cast(pl.Float64, strict=False) if amount else pl.lit(None, pl.Float64)
        ).alias(AMOUNT),
        day.alias(DATE),
    )


def reference(
    matches: pl.DataFrame,
    unmatched: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame,
    ids: tuple[str, str],
    columns: DetailColumns,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    lv = joined(left, ids[0], columns.left_amount, columns.left_date)
    rv = joined(right, ids[1], columns.right_amount, columns.right_date)
    with_left = matches.join(
        lv.select(
            pl.col("key").alias(LEFT_ID),
            pl.col(AMOUNT).alias(LEFT_AMOUNT),
            pl.col(DATE).alias(LEFT_DATE),
        ),
        on=LEFT_ID,
        how="left",
        maintain_order="left",
    )
    both = with_left.join(
        rv.select(
            pl.col("key").alias(RIGHT_ID),
            pl.col(AMOUNT).alias(RIGHT_AMOUNT),
            pl.col(DATE).alias(RIGHT_DATE),
        ),
        on=RIGHT_ID,
        how="left",
        maintain_order="left",
    )
    sides = pl.concat(
        [lv.with_columns(pl.lit("left").alias(SIDE)), rv.with_columns(pl.lit("right").alias(SIDE))]
    ).rename({"key": UNMATCHED_ID})
    opened = unmatched.join(sides, on=[SIDE, UNMATCHED_ID], how="left", maintain_order="left")
    return both.select([*matches.columns, LEFT_AMOUNT, RIGHT_AMOUNT, LEFT_DATE, RIGHT_DATE]), opened


def shuffled(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    return frame[np.random.default_rng(seed).permutation(frame.height)]


Frames = tuple[pl.DataFrame, pl.DataFrame]
VARIANTS: dict[str, Callable[[pl.DataFrame, pl.DataFrame], Frames]] = {
    "as generated": lambda left, right: (left, right),
    "rows out of id order": lambda left, right: (shuffled(left, 1), shuffled(right, 2)),
    "integer ids and datetimes": lambda left, right: (
        left.with_columns(
            pl.col("txn_id").str.extract(r"(\d+)$").cast(pl.Int64),
            pl.col("booked").cast(pl.Datetime),
        ),
        right.with_columns(pl.col("posted").cast(pl.Datetime)),
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_carried_details_equal_a_join_on_the_ids(variant: str) -> None:
    pair = generate_bank_ledger(400, seed=11)
    left, right = VARIANTS[variant](pair.left, pair.right)
    ruleset = parse_ruleset(bank_ledger_rules())
    columns = detail_columns(ruleset, left.schema, right.schema)
    assert columns.left_amount
    assert columns.left_date
    assert columns.right_date
    result = match(left, right, ruleset, carry=carried_columns(columns))
    plain = match(left, right, ruleset)
    assert result.matches.equals(plain.matches)
    assert result.unmatched.equals(plain.unmatched)
    matches, unmatched = with_details(result, columns)
    expected = reference(
        result.matches, result.unmatched, left, right, (ruleset.left.id, ruleset.right.id), columns
    )
    assert matches.equals(expected[0])
    assert unmatched.equals(expected[1])
    # the data reach every kind of row: groups, both sides unmatched, amounts and dates
    assert matches.get_column(LEFT_ID).is_duplicated().any()
    assert set(unmatched.get_column(SIDE)) == {"left", "right"}
    assert matches.get_column(RIGHT_DATE).null_count() == 0
    assert unmatched.get_column(AMOUNT).null_count() == 0


def test_a_ruleset_without_amounts_or_dates_records_nulls() -> None:
    pair = generate_bank_ledger(100, seed=3)
    ruleset = parse_ruleset(
        "left: {id: txn_id}\nright: {id: entry_id}\nrules:\n"
        "  - name: ref\n    when:\n      - {left: reference, right: ref, op: equals}\n"
    )
    columns = detail_columns(ruleset, pair.left.schema, pair.right.schema)
    assert columns == DetailColumns(None, None, None, None)
    result = match(pair.left, pair.right, ruleset, carry=carried_columns(columns))
    matches, unmatched = with_details(result, columns)
    assert matches.height > 0
    assert unmatched.height > 0
    assert (
        matches.select(LEFT_AMOUNT, RIGHT_AMOUNT, LEFT_DATE, RIGHT_DATE).null_count().row(0)
        == (matches.height,) * 4
    )
    assert unmatched.get_column(AMOUNT).dtype == pl.Float64
    assert unmatched.get_column(DATE).dtype == pl.Date


def test_a_column_to_carry_must_exist() -> None:
    pair = generate_bank_ledger(20, seed=3)
    ruleset = parse_ruleset(bank_ledger_rules())
    with pytest.raises(Exception, match="no column 'nope' to carry"):
        match(pair.left, pair.right, ruleset, carry=(["nope"], []))
