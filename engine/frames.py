"""Reading tabular input files (CSV, Parquet, NDJSON) into polars frames.

A CSV file's column types follow polars' inference, made cheap and kept right:

- types come from the first INFER_ROWS rows without trying dates (trying every date format
  on every cell is the slow part of inference: 0.12 s a file against 0.01 s);
- a text column is a date (or datetime) column if polars reads its first DATE_ROWS
  non-null values as dates;
- a column with no value in the first INFER_ROWS rows gets its type from its first
  INFER_ROWS non-null values anywhere in the file (that one column is read as text), and a
  column with no value at all has dtype Null, which suits any condition and never matches;
- an integer column with a value like `007` or `-01` (a zero followed by more digits) is
  text, so phone numbers and codes keep their leading zeros.

When a later value does not fit the inferred type, the file is read again with every row
inferred (by the same rules), so a value at row 50,000 costs time, never a wrong type or
an error.

Every failure becomes a `BadInputError` whose message is one line naming the file.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import polars as pl

from engine import polars_memory
from engine.dtypes import is_temporal
from engine.errors import BadInputError

READERS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
INFER_ROWS = 10_000
SAMPLE_BYTES = 1 << 22  # a CSV's first bytes read for its first INFER_ROWS rows, at first
DATE_ROWS = 1_000
LEADING_ZERO = r"^[+-]?0[0-9]"
READ_ERRORS = (pl.exceptions.PolarsError, OSError, ValueError)
PARQUET_WRITE: dict[str, Any] = {"compression": "zstd", "statistics": True}
UNESCAPED_FIELD = re.compile(r"Field `(.*?)` is not properly escaped", re.DOTALL)


def frame_format(path: Path) -> str:
    """The format a file is read as, chosen by its extension."""
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(READERS))
        raise BadInputError(f"{path}: unknown file type {path.suffix!r} (expected one of {known})")
    return fmt


def require_file(path: Path) -> None:
    """A path that is not a readable file is named as what it is."""
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory; give a CSV, Parquet or NDJSON file")
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")


def read_frame(path: Path) -> pl.DataFrame:
    """Read a whole file; the format follows its extension."""
    return collect_frames([(path, scan_frame(path))])[0]


def scan_frame(path: Path) -> pl.LazyFrame:
    """A lazy scan of a file, checked for existence and schema up front."""
    require_file(path)
    fmt = frame_format(path)
    try:
        if fmt == "csv":
            lazy = _scan_csv(path, _csv_schema(path))
        elif fmt == "parquet":
            lazy = pl.scan_parquet(path)
        else:
            lazy = pl.scan_ndjson(path, infer_schema_length=INFER_ROWS)
        schema = lazy.collect_schema()
    except READ_ERRORS as exc:
        raise BadInputError(f"{path}: cannot read as {fmt}: {_unreadable(path, exc)}") from None
    if not schema:
        raise BadInputError(f"{path}: no columns")
    return lazy


def collect_frames(
    scans: list[tuple[Path, pl.LazyFrame]], *, one_chunk: bool = False
) -> list[pl.DataFrame]:
    """Collect lazy scans (from `scan_frame`, maybe with a `select`), one after the other;
    with `one_chunk`, each frame's columns in one chunk each.

    A CSV whose later rows do not fit the types inferred from its first rows is read
    again with the types inferred from every row, with the same columns selected.

    One at a time, not in parallel: each read already uses every core, and the reader's
    buffers, which its allocator keeps for later use, are one file's instead of two
    (at 1M rows a side, long descriptions: 60-90 MB less peak, the same reading time).
    For the same reason a caller that needs one chunk per column (the matcher) asks for
    it here: a file's chunks are copied into one while the other file is not read yet,
    instead of both files' chunks and copies being live at once later.
    """
    frames = []
    for path, lazy in scans:
        frame = _collect_one(path, lazy)
        frames.append(frame.rechunk() if one_chunk else frame)
        del frame  # the chunks, before the next file is read
        polars_memory.purge()  # the reader's buffers (see engine.polars_memory)
    return frames


def sink_parquet(path: Path, target: Path) -> int:
    """Convert a file to Parquet at `target` by polars' streaming engine; returns its rows.

    Memory stays bounded whatever the file's size: rows stream from the reader to the
    writer. A CSV whose later rows do not fit the types of its first rows is converted
    again with the types inferred from every row, as `collect_frames` reads it.
    """
    lazy = scan_frame(path)
    try:
        lazy.sink_parquet(target, **PARQUET_WRITE)
    except READ_ERRORS as exc:
        if frame_format(path) != "csv":
            raise BadInputError(f"{path}: cannot read: {_unreadable(path, exc)}") from None
        columns = lazy.collect_schema().names()
        try:
            full = _scan_csv(path, _full_csv_schema(path, columns)).select(columns)
            full.sink_parquet(target, **PARQUET_WRITE)
        except READ_ERRORS as again:
            raise BadInputError(f"{path}: cannot read: {_reason(path, again)}") from None
    return int(pl.scan_parquet(target).select(pl.len()).collect().item())


def _collect_one(path: Path, lazy: pl.LazyFrame) -> pl.DataFrame:
    try:
        return lazy.collect()
    except READ_ERRORS as exc:
        if frame_format(path) != "csv":
            raise BadInputError(f"{path}: cannot read: {_unreadable(path, exc)}") from None
    columns = lazy.collect_schema().names()
    try:
        return _scan_csv(path, _full_csv_schema(path, columns)).select(columns).collect()
    except READ_ERRORS as exc:
        raise BadInputError(f"{path}: cannot read: {_reason(path, exc)}") from None


def _unreadable(path: Path, exc: Exception) -> str:
    """Why a file cannot be read; for NDJSON, the first line that is not
    a JSON object, by its number (polars' reader says only at which character it
    stopped)."""
    if frame_format(path) == "ndjson":
        line = _bad_ndjson_line(path)
        if line is not None:
            return line
    return _reason(path, exc)


def _bad_ndjson_line(path: Path) -> str | None:
    """The first line of an NDJSON file that is not a JSON object, named by its number.
    Read after a failure only: one pass of Python over the file."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                found = json.loads(raw)
            except ValueError as exc:  # UnicodeDecodeError is one too
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
                return f"line {number}: not a JSON object ({reason})"
            if not isinstance(found, dict):
                return f"line {number}: not a JSON object"
    return None


def _scan_csv(path: Path, schema: pl.Schema) -> pl.LazyFrame:
    """Scan with `schema`; a Null column (no value in the file) is read as text, then cast."""
    empty = [name for name, dtype in schema.items() if dtype == pl.Null]
    readable = {name: pl.String() if name in empty else dtype for name, dtype in schema.items()}
    lazy = pl.scan_csv(path, schema=readable)
    return lazy.with_columns(pl.col(empty).cast(pl.Null)) if empty else lazy


def _csv_schema(path: Path) -> pl.Schema:
    """Types inferred from the first rows (see the module docstring)."""
    plain = pl.scan_csv(path, infer_schema_length=INFER_ROWS).collect_schema()
    wanted = [name for name, dtype in plain.items() if dtype == pl.String or dtype.is_integer()]
    if not wanted:
        return plain
    sample = _first_rows(path, wanted)
    texts = [name for name, dtype in plain.items() if dtype == pl.String]
    late = [name for name in texts if sample.get_column(name).null_count() == sample.height]
    found = {name: sample.get_column(name).drop_nulls().head(DATE_ROWS) for name in texts}
    # A column is only a date column if its first value is a date: trying date formats
    # on a thousand values of every text column would cost 10 ms a column.
    firsts = [found[name].head(1) for name in texts]
    dated = [name for name, dtype in zip(texts, _infer(firsts), strict=True) if is_temporal(dtype)]
    if late:
        whole = pl.scan_csv(path, infer_schema=False).select(late).collect()
        found |= {name: whole.get_column(name).drop_nulls().head(INFER_ROWS) for name in late}
    retyped = [name for name in texts if name in late or name in dated]
    inferred = dict(zip(retyped, _infer([found[name] for name in retyped]), strict=True))
    schema: dict[str, pl.DataType] = {}
    for name, first in plain.items():
        dtype = inferred[name] if name in late or is_temporal(inferred.get(name, first)) else first
        if dtype.is_integer() and _leading_zero(found.get(name, sample.get_column(name))):
            dtype = pl.String()
        schema[name] = dtype
    return pl.Schema(schema)


def _first_rows(path: Path, columns: list[str]) -> pl.DataFrame:
    """The first INFER_ROWS rows of a CSV file's `columns`, as text.

    Read from the file's first bytes (SAMPLE_BYTES, doubled while they hold too few rows),
    cut after their last line break: polars' reader, asked for a few rows of a file,
    still reads the whole file into memory (a 120 MB file: 70 ms, and 120 MB kept by its
    allocator). The bytes must hold a row more than needed, as the last one may be cut
    inside a quoted field with a line break; bytes that hold fewer rows, or that the
    reader refuses (that quoted field left open), are read again with more, at last the
    whole file.
    """
    size = path.stat().st_size
    chunk = SAMPLE_BYTES
    while chunk < size:
        with path.open("rb") as stream:
            head = stream.read(chunk)
        cut = head.rfind(b"\n") + 1
        try:
            sample = pl.read_csv(
                io.BytesIO(head[:cut]), n_rows=INFER_ROWS + 1, infer_schema=False, columns=columns
            )
        except READ_ERRORS:
            sample = None
        if sample is not None and sample.height > INFER_ROWS:
            return sample.head(INFER_ROWS)
        chunk *= 2
    return pl.read_csv(path, n_rows=INFER_ROWS, infer_schema=False, columns=columns)


def _full_csv_schema(path: Path, columns: list[str]) -> pl.Schema:
    """Types inferred from every row by the rules of `_csv_schema` (applied to `columns`,
    the ones read)."""
    full = pl.scan_csv(path, try_parse_dates=True, infer_schema_length=None).collect_schema()
    text = pl.scan_csv(path, infer_schema=False).select(columns).collect()
    schema = dict(full)
    for name in columns:
        values = text.get_column(name)
        if values.null_count() == values.len():
            schema[name] = pl.Null()
        elif schema[name].is_integer() and _leading_zero(values):
            schema[name] = pl.String()
    return pl.Schema(schema)


def _infer(values: list[pl.Series]) -> list[pl.DataType]:
    """The dtype polars infers (dates included) for each list of text values, read as a
    CSV column of its own; Null for no values at all."""
    if not values:
        return []
    named = [series.alias(f"c{i}").to_frame() for i, series in enumerate(values)]
    buffer = io.BytesIO()
    pl.concat(named, how="horizontal_extend").write_csv(buffer)
    buffer.seek(0)
    read = pl.read_csv(buffer, try_parse_dates=True, infer_schema_length=None)
    return [
        pl.Null() if series.len() == 0 else dtype
        for series, dtype in zip(values, read.dtypes, strict=True)
    ]


def _leading_zero(values: pl.Series) -> bool:
    """Whether an integer-looking text value has a zero followed by more digits: `007`."""
    return bool(values.str.contains(LEADING_ZERO).any())


def _reason(path: Path, exc: BaseException) -> str:
    """The first line of the reader's message; for a quote left open, where it opens."""
    text = str(exc).strip()
    unescaped = UNESCAPED_FIELD.search(text)
    if unescaped:
        return _unclosed_quote(path, unescaped.group(1))
    return text.splitlines()[0] if text else type(exc).__name__


def _unclosed_quote(path: Path, field: str) -> str:
    """polars names the field that runs on (from its quote to the end of the file), not
    its line: find the field in the file and count the lines before it."""
    start = (field.splitlines() or [""])[0]
    line = ""
    try:
        with path.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if start and start.encode() in raw:
                    line = f"line {number}: "
                    break
    except OSError:
        pass
    return f"{line}a quoted field is not closed: {start!r} (a double quote opens it)"
