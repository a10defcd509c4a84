"""Reading tabular input files (CSV, Parquet, NDJSON) into polars frames.

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


def frame_format(path: Path) -> str:
    """The format a file is read as, chosen by its extension."""
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(READERS))
        raise BadInputError(f"{path}: unknown file type {path.suffix!r} (expected one of {known})")
    return fmt


def read_frame(path: Path) -> pl.DataFrame:
    """Read a whole file; the format follows its extension."""
    lazy = scan_frame(path)
    try:
        return lazy.collect()
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot read: {_first_line(exc)}") from None


def scan_frame(path: Path) -> pl.LazyFrame:
    """A lazy scan of a file, checked for existence and schema up front."""
    fmt = frame_format(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    try:
        if fmt == "csv":
            lazy = pl.scan_csv(path, try_parse_dates=True, infer_schema_length=10_000)
        elif fmt == "parquet":
            lazy = pl.scan_parquet(path)
        else:
            lazy = pl.scan_ndjson(path, infer_schema_length=10_000)
        schema = lazy.collect_schema()
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot read as {fmt}: {_first_line(exc)}") from None
    if not schema:
        raise BadInputError(f"{path}: no columns")
    return lazy


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
