"""Reading tabular input files (CSV, Parquet, NDJSON) into polars frames.

A CSV file's column types are inferred from its first INFER_ROWS rows without trying
dates, and dates are recognized from the first DATE_ROWS rows (trying every date format
on every cell is the slow part of inference: 0.12 s a file against 0.01 s). When a later
value does not fit the inferred type, the file is read again with every row inferred, so a
value at row 50,000 costs time, never a wrong type or an error.

Every failure becomes a `BadInputError` whose message is one line naming the file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.errors import BadInputError

READERS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
INFER_ROWS = 10_000
DATE_ROWS = 1_000
READ_ERRORS = (pl.exceptions.PolarsError, OSError, ValueError)


def frame_format(path: Path) -> str:
    """The format a file is read as, chosen by its extension."""
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(READERS))
        raise BadInputError(f"{path}: unknown file type {path.suffix!r} (expected one of {known})")
    return fmt


def read_frame(path: Path) -> pl.DataFrame:
    """Read a whole file; the format follows its extension."""
    return collect_frames([(path, scan_frame(path))])[0]


def scan_frame(path: Path) -> pl.LazyFrame:
    """A lazy scan of a file, checked for existence and schema up front."""
    fmt = frame_format(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    try:
        if fmt == "csv":
            lazy = pl.scan_csv(path, schema=_csv_schema(path))
        elif fmt == "parquet":
            lazy = pl.scan_parquet(path)
        else:
            lazy = pl.scan_ndjson(path, infer_schema_length=INFER_ROWS)
        schema = lazy.collect_schema()
    except READ_ERRORS as exc:
        raise BadInputError(f"{path}: cannot read as {fmt}: {_first_line(exc)}") from None
    if not schema:
        raise BadInputError(f"{path}: no columns")
    return lazy


def collect_frames(scans: list[tuple[Path, pl.LazyFrame]]) -> list[pl.DataFrame]:
    """Collect lazy scans (from `scan_frame`, maybe with a `select`) in parallel.

    A CSV whose later rows do not fit the types inferred from its first rows is read
    again with the types inferred from every row, with the same columns selected.
    """
    try:
        return pl.collect_all([lazy for _, lazy in scans])
    except READ_ERRORS:
        return [_collect_one(path, lazy) for path, lazy in scans]


def _collect_one(path: Path, lazy: pl.LazyFrame) -> pl.DataFrame:
    try:
        return lazy.collect()
    except READ_ERRORS as exc:
        if frame_format(path) != "csv":
            raise BadInputError(f"{path}: cannot read: {_first_line(exc)}") from None
    columns = lazy.collect_schema().names()
    try:
        full = pl.scan_csv(path, try_parse_dates=True, infer_schema_length=None)
        return full.select(columns).collect()
    except READ_ERRORS as exc:
        raise BadInputError(f"{path}: cannot read: {_first_line(exc)}") from None


def _csv_schema(path: Path) -> pl.Schema:
    """Types inferred from the first rows, String columns that hold dates as dates."""
    plain = pl.scan_csv(path, infer_schema_length=INFER_ROWS).collect_schema()
    dated = pl.scan_csv(path, try_parse_dates=True, infer_schema_length=DATE_ROWS)
    dates = {
        name: dtype
        for name, dtype in dated.collect_schema().items()
        if dtype == pl.Date or isinstance(dtype, pl.Datetime)
    }
    return pl.Schema(
        {
            name: dates.get(name, dtype) if dtype == pl.String else dtype
            for name, dtype in plain.items()
        }
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
