"""Preparing each input side: ids as strings, rows numbered in id order."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.errors import BadInputError
from engine.matching.schemas import ID, ROW

SIDES = ("left", "right")
PACKED_BYTES = 8  # ids at most this long after their common prefix sort as one integer
ASCENDING_PROBE = 1024  # ids compared first when checking whether a side is in id order


def prepare_sides(
    frames: list[pl.DataFrame], id_columns: tuple[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each frame sorted by its id (as String) with ROW = position in that order.

    Numbering rows in id order makes every later tie-break on row numbers a tie-break on
    ids, so results never depend on the order rows arrived in. Ids must be unique, not null.

    The frames are taken out of `frames` (the list is emptied): a frame nobody else holds
    is freed a column at a time as its sorted copy is made, so that a side is not held
    twice over (a 5M-row side is hundreds of MB).
    """
    for frame, id_column, side in zip(frames, id_columns, SIDES, strict=True):
        nulls = frame.get_column(id_column).null_count()
        if nulls:
            raise BadInputError(f"{side}.id: column {id_column!r} has {nulls} missing values")
    keyed = [
        _sort_key(frame, id_column) for frame, id_column in zip(frames, id_columns, strict=True)
    ]
    frames.clear()
    del frame
    sides = []
    for id_column, side in zip(id_columns, SIDES, strict=True):
        holder, key = keyed.pop(0)
        # files exported in id order (most are) skip the sort: one comparison pass, which
        # also proves the ids unique
        done = _strictly_ascending(holder[0].get_column(key))
        ordered = (holder.pop() if done else _sorted(holder, key)).with_columns(
            pl.col(key).alias(ID)
        )
        if not done:
            ids = ordered.get_column(ID)
            repeats = ids.filter(ids == ids.shift(1))
            if repeats.len():
                raise BadInputError(
                    f"{side}.id: column {id_column!r} repeats the id {repeats[0]!r}"
                )
            del ids, repeats
        # one chunk per column: gathers by row number (ids for the outputs, values for the
        # rules) are up to 15x faster than across the reader's chunks
        sides.append(ordered.rechunk().with_row_index(ROW))
        del ordered
    return sides[0], sides[1]


def _sort_key(frame: pl.DataFrame, id_column: str) -> tuple[list[pl.DataFrame], str]:
    """The frame (alone in a list, for `_sorted` to take) and the column to sort it by: a
    text id column as it is (ID is copied from it after the sort, one string column less
    to carry through it, about 10% of the sort); any other id cast to text as ID."""
    if frame.schema[id_column] == pl.String:
        return [frame], id_column
    return [frame.with_columns(pl.col(id_column).cast(pl.String).alias(ID))], ID


def _strictly_ascending(ids: pl.Series) -> bool:
    """Whether every id is greater than the one before; the first rows are looked at first,
    as a file out of id order nearly always shows it there."""
    head = ids.head(ASCENDING_PROBE)
    return _ascending(head) and (ids.len() <= ASCENDING_PROBE or _ascending(ids))


def _ascending(ids: pl.Series) -> bool:
    return bool((ids.slice(1) > ids.slice(0, ids.len() - 1)).all()) if ids.len() > 1 else True


def _sorted(holder: list[pl.DataFrame], key: str) -> pl.DataFrame:
    """The frame taken out of `holder`, sorted by its text id column `key`: by an
    equivalent 64-bit integer when the ids allow one (about half the time of sorting the
    text), else by the text itself."""
    frame = holder.pop()
    packed = packed_id(frame.get_column(key))
    if packed is None:
        # the streaming engine sorts by a text column about twice as fast as the in-memory
        # one
        return frame.lazy().sort(key).collect(engine="streaming")
    # numpy's SIMD sort finds the order of the integers in a third of polars' time (ids
    # are distinct, so any sort gives the same order; duplicates are refused after), and
    # a gather from one chunk is 15x faster than across the reader's chunks
    order = pl.Series(np.argsort(frame.select(packed).to_series().to_numpy()), dtype=pl.UInt32)
    columns = []
    for name in frame.columns:
        columns.append(frame.get_column(name).rechunk().gather(order))
        # the input's column, freed now if nobody else holds the frame
        frame = frame.drop(name)
    return pl.DataFrame(columns)


def packed_id(ids: pl.Series) -> pl.Expr | None:
    """An unsigned 64-bit integer per id in the same order as the ids' text (byte order),
    distinct for distinct ids, when every id is plain ASCII (no NUL) and at most
    PACKED_BYTES long after the prefix all of them share; else None.

    The prefix shared by the smallest and the largest id is shared by all of them; the
    rest, padded with NULs to PACKED_BYTES and read big-endian, compares as the text does
    (a shorter id that begins another sorts first, as its padding is the smallest byte).
    """
    if ids.len() == 0:
        return None
    first, last = str(ids.min()), str(ids.max())
    prefix = next(
        (n for n, (a, b) in enumerate(zip(first, last, strict=False)) if a != b),
        min(len(first), len(last)),
    )
    longest = ids.str.len_bytes().max()
    if not isinstance(longest, int) or longest - prefix > PACKED_BYTES:
        return None
    # plain ASCII (as many characters as bytes) without NUL; two plain scans, a third of
    # the time of one regex for any byte outside 0x01-0x7f
    if (ids.str.len_chars() != ids.str.len_bytes()).any():
        return None
    if ids.cast(pl.Binary).bin.contains(b"\x00").any():
        return None
    return (
        pl.col(ids.name)
        .str.slice(prefix)
        .str.pad_end(PACKED_BYTES, "\x00")
        .cast(pl.Binary)
        .bin.reinterpret(dtype=pl.UInt64, endianness="big")
    )
