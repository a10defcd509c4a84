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
    if ids.n_unique() != ids.len():
        duplicate = ids.filter(ids.is_duplicated()).min()
        raise BadInputError(f"{side}.id: column {id_column!r} repeats the id {duplicate!r}")
    return frame.with_columns(ids.alias(ID)).sort(ID).with_row_index(ROW)
