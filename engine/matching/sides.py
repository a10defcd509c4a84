"""Preparing each input side: ids as strings, rows numbered in id order."""

from __future__ import annotations

import polars as pl

from engine.errors import BadInputError
from engine.matching.schemas import ID, ROW


def prepare_side(frame: pl.DataFrame, id_column: str, side: str) -> pl.DataFrame:
    """The frame sorted by its id (as String) with ROW = position in that order.

    Numbering rows in id order makes every later tie-break on row numbers a tie-break on
    ids, so results never depend on the order rows arrived in. Ids must be unique, not null.
    """
    ids = frame.get_column(id_column).cast(pl.String)
    nulls = ids.null_count()
    if nulls:
        raise BadInputError(f"{side}.id: column {id_column!r} has {nulls} missing values")
    ordered = frame.with_columns(ids.alias(ID)).sort(ID)
    sorted_ids = ordered.get_column(ID)
    repeats = sorted_ids.filter(sorted_ids == sorted_ids.shift(1))
    if repeats.len():
        raise BadInputError(f"{side}.id: column {id_column!r} repeats the id {repeats[0]!r}")
    return ordered.with_row_index(ROW)
