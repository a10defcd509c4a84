"""Questions about polars dtypes that more than one part of the engine asks."""

from __future__ import annotations

import polars as pl


def is_temporal(dtype: pl.DataType) -> bool:
    """Whether values of `dtype` are points in time: a Date or a Datetime of any unit or zone."""
    return dtype == pl.Date or isinstance(dtype, pl.Datetime)
