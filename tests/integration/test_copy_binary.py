"""Rows staged with binary COPY read back as the frame held them: every type the read
models stage, nulls, NaN and infinities, dates on both sides of 1970 and 2000, any text."""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import subprocess
import sys
from typing import Any

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.copy_binary import binary_copy

COLUMNS = {
    "row_no": (pl.Int64, "bigint"),
    "label": (pl.String, 'text COLLATE "C"'),
    "score": (pl.Float64, "double precision"),
    "day": (pl.Date, "date"),
}
TEXT = st.text(  # text holds no NUL; surrogates are not UTF-8
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40
)
ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        st.one_of(st.none(), TEXT),
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        st.one_of(st.none(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))),
    ),
    max_size=30,
)


def frame_of(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={name: dtype for name, (dtype, _) in COLUMNS.items()}, orient="row"
    )


def copied(url: str, frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """`frame` through binary COPY into a table, read back in order."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TEMP TABLE staged (n serial, "
            + ", ".join(f"{name} {sql_type}" for name, (_, sql_type) in COLUMNS.items())
            + ")"
        )
        with conn.cursor().copy(
            f"COPY staged ({', '.join(frame.columns)}) FROM STDIN (FORMAT binary)"
        ) as copy:
            for part in binary_copy(frame):
                copy.write(part)
        found = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM staged ORDER BY n").fetchall()
    return [tuple(row) for row in found]


def same(left: tuple[Any, ...], right: tuple[Any, ...]) -> bool:
    return all(
        (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        or (a == b and type(a) is type(b))
        or (a is None and b is None)
        for a, b in zip(left, right, strict=True)
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS)
def test_binary_copy_reads_back_what_the_frame_held(database_url: str, rows: list[Any]) -> None:
    frame = frame_of(rows)
    back = copied(database_url, frame)
    assert len(back) == frame.height
    for expected, found in zip(frame.rows(), back, strict=True):
        assert same(expected, found), (expected, found)


def test_a_column_of_another_type_is_refused_before_sending() -> None:
    with pytest.raises(TypeError, match="flag: no binary COPY encoding for Boolean"):
        binary_copy(pl.DataFrame({"flag": [True]}))


def send(conn: psycopg.Connection[Any], statement: str, frame: pl.DataFrame) -> None:
    with conn.cursor().copy(statement) as copy:
        for part in binary_copy(frame):
            copy.write(part)


def test_a_value_of_another_width_is_refused_by_the_server(database_url: str) -> None:
    """binary COPY converts nothing: an int32 sent where a bigint is expected never lands."""
    frame = pl.DataFrame({"day": [dt.date(2024, 2, 29)]})
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TEMP TABLE wide (day bigint)")
        with pytest.raises(psycopg.errors.ProtocolViolation):
            send(conn, "COPY wide (day) FROM STDIN (FORMAT binary)", frame)


def test_staging_imports_no_pandas() -> None:
    """pyarrow converts Python values and nulls through pandas where pandas is installed
    (the dev tools install it), an import of 0.1-0.2 s in the middle of a job's first
    staging; the encoder goes around those conversions."""
    script = (
        "import sys, datetime, polars as pl\n"
        "from projections.copy_binary import binary_copy\n"
        "frame = pl.DataFrame({'n': [1, None], 't': ['a', None], 'x': [0.5, None],"
        " 'd': [datetime.date(2024, 1, 2), None]})\n"
        "assert binary_copy(frame)\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert importlib.util.find_spec("pandas") is not None  # else this proves nothing
    assert done.stdout.strip() == "False"
