"""A frame as PostgreSQL's binary COPY format, built by Arrow kernels, not row by row.

The read models stage every decision row of a job with COPY. In CSV, PostgreSQL parses
each number and date back from text, and at a million rows that parsing is most of what
staging costs the server; in the binary format a value arrives in its stored form (a
float8 as its 8 bytes, a date as days since 2000-01-01), and the server spends about half
as long. Building the binary rows costs this side what writing the CSV did: every field
is an Arrow binary array made over numpy buffers without copying (a length word, then the
value), and one `binary_join_element_wise` lays the rows out end to end.

A frame's columns must be Int64 (bigint), Float64 (double precision), Date (date) or
String (text), as the table's columns are: binary COPY does not convert, so a value of
another width would be refused by the server, never stored wrong.
"""

from __future__ import annotations

import struct

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, extension
TRAILER = struct.pack(">h", -1)
POSTGRES_EPOCH_DAYS = 10_957  # 2000-01-01, PostgreSQL's day 0, in days since 1970-01-01
NULL_LENGTH = -1
_FIXED: dict[pl.DataType, tuple[str, int]] = {
    pl.Int64(): (">i8", 8),
    pl.Float64(): (">f8", 8),
    pl.Date(): (">i4", 4),
}
# a null field is its length word alone: the join leaves the null value's bytes out
_JOIN = pc.JoinOptions(null_handling="replace", null_replacement="")
# the join's separator, b"", made from buffers: `pa.scalar(b"")` converts a Python value,
# and pyarrow's conversions import pandas where it is installed (0.1-0.2 s, once a process,
# in the middle of a job's staging)
_NOTHING = pa.Array.from_buffers(
    pa.large_binary(), 1, [None, pa.py_buffer(np.zeros(2, dtype=np.int64)), pa.py_buffer(b"")]
)[0]


def binary_copy(frame: pl.DataFrame) -> list[bytes | memoryview]:
    """The COPY ... (FORMAT binary) stream of `frame`'s rows, in column order, as parts
    to write one after the other."""
    rows = frame.height
    parts = [_fixed(np.full(rows, frame.width, dtype=">i2"), 2)]  # each row's field count
    for name in frame.columns:
        parts.extend(_field(frame.get_column(name)))
    joined = pc.binary_join_element_wise(*parts, _NOTHING, options=_JOIN)
    offsets = np.frombuffer(
        joined.buffers()[1], dtype=np.int64, count=rows + 1, offset=joined.offset * 8
    )
    body = memoryview(joined.buffers()[2])[offsets[0] : offsets[-1]] if rows else b""
    return [HEADER, body, TRAILER]


def _field(column: pl.Series) -> list[pa.Array]:
    """The arrays whose bytes, joined, are the column's fields: length word, then value."""
    valid = None if column.null_count() == 0 else column.is_not_null().to_numpy()
    if column.dtype == pl.String:
        text = _arrow(column).cast(pa.large_binary())  # UTF-8 as it is: no copy
        # by polars: pyarrow's would import pandas (see _NOTHING)
        lengths = column.str.len_bytes().fill_null(0).cast(pl.Int64).to_numpy()
        if valid is not None:
            lengths = np.where(valid, lengths, NULL_LENGTH)
        return [_fixed(lengths.astype(">i4"), 4), text]
    fixed = _FIXED.get(column.dtype)
    if fixed is None:
        raise TypeError(f"{column.name}: no binary COPY encoding for {column.dtype}")
    dtype, width = fixed
    if column.dtype == pl.Date:
        days = column.cast(pl.Int32).fill_null(0).to_numpy() - POSTGRES_EPOCH_DAYS
        values = days.astype(dtype)
    else:
        values = column.fill_null(0).to_numpy().astype(dtype)
    if valid is None:  # length word and value in one array
        both = np.empty(len(values), dtype=[("length", ">i4"), ("value", dtype)])
        both["length"] = width
        both["value"] = values
        return [_fixed(both, 4 + width)]
    lengths = np.where(valid, width, NULL_LENGTH).astype(">i4")
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return [_fixed(lengths, 4), _fixed(values, width, bitmap)]


def _arrow(column: pl.Series) -> pa.Array:
    arrow = column.to_arrow()
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


def _fixed(values: np.ndarray, width: int, validity: pa.Buffer | None = None) -> pa.Array:
    """`values` (`width` bytes each) as a binary array over the same memory."""
    rows = len(values)
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(values))]
    return pa.Array.from_buffers(pa.large_binary(), rows, buffers)
