"""Reading input files: fast CSV type inference that never settles on a wrong type."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine import frames
from engine.errors import BadInputError
from engine.frames import (
    DATE_ROWS,
    INFER_ROWS,
    collect_frames,
    read_frame,
    scan_frame,
    sink_parquet,
)


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_csv_types_and_dates_are_inferred(tmp_path: Path) -> None:
    lines = [f"{i},2024-01-{1 + i % 28:02d},{i}.5,2024-02-03T04:05:06,x{i}" for i in range(50)]
    frame = read_frame(_write(tmp_path / "a.csv", "id,day,amount,at,name", lines))
    expected: dict[str, pl.DataType] = {
        "id": pl.Int64(),
        "day": pl.Date(),
        "amount": pl.Float64(),
        "at": pl.Datetime("us"),
        "name": pl.String(),
    }
    assert dict(frame.schema) == expected
    assert frame.height == 50
    assert frame.get_column("day")[3].isoformat() == "2024-01-04"


def test_a_late_value_that_does_not_fit_is_read_with_the_wider_type(tmp_path: Path) -> None:
    rows = max(INFER_ROWS, DATE_ROWS) + 5
    lines = [f"{i},2024-01-{1 + i % 28:02d},{i}" for i in range(rows)]
    lines.append("z9,not a date,1.25")
    frame = read_frame(_write(tmp_path / "late.csv", "id,day,amount", lines))
    assert frame.dtypes == [pl.String(), pl.String(), pl.Float64()]
    assert frame.height == rows + 1
    assert frame.row(-1) == ("z9", "not a date", 1.25)


def test_late_value_fallback_keeps_the_selected_columns(tmp_path: Path) -> None:
    lines = [f"{i},{i}" for i in range(INFER_ROWS + 1)] + ["x,1.5"]
    path = _write(tmp_path / "b.csv", "id,amount", lines)
    good = _write(tmp_path / "good.csv", "id,amount", ["1,2"])
    frames = collect_frames([(good, scan_frame(good)), (path, scan_frame(path).select("amount"))])
    assert frames[0].row(0) == (1, 2)
    assert frames[1].columns == ["amount"]
    assert frames[1].get_column("amount").to_list()[-1] == 1.5


def test_one_chunk_reads_the_same_values_in_one_chunk_per_column(tmp_path: Path) -> None:
    lines = [f"{i},2024-01-{1 + i % 28:02d},{i}.5,text {i}" for i in range(200_000)]
    path = _write(tmp_path / "big.csv", "id,day,amount,memo", lines)
    scans = [(path, scan_frame(path)), (path, scan_frame(path).select("memo", "id"))]
    plain = collect_frames(scans)
    joined = collect_frames(scans, one_chunk=True)
    assert all(frame.n_chunks("all") == [1] * frame.width for frame in joined)
    for left, right in zip(plain, joined, strict=True):
        assert left.equals(right)


def test_the_first_rows_read_from_the_first_bytes_are_the_files_first_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut anywhere, even inside a quoted field with line breaks, the sample read from a
    file's first bytes is what the reader gives for the file's first rows."""
    lines = [
        f'{i:03d},"line one\nline {i}, two",2024-01-{1 + i % 28:02d},"say ""{i}"""'
        for i in range(60)
    ]
    path = _write(tmp_path / "quoted.csv", "code,memo,day,quote", lines)
    monkeypatch.setattr(frames, "INFER_ROWS", 25)
    columns = ["code", "memo", "quote"]
    expected = pl.read_csv(path, n_rows=25, infer_schema=False, columns=columns)
    for size in range(16, path.stat().st_size + 64, 37):
        monkeypatch.setattr(frames, "SAMPLE_BYTES", size)
        assert_frame_equal(frames._first_rows(path, columns), expected)


def test_an_unreadable_file_is_one_line_of_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(BadInputError) as caught:
        read_frame(path)
    assert str(caught.value).startswith(f"{path}: cannot read")
    assert "\n" not in str(caught.value)


# Issue #3: columns empty in the first rows, columns with no value, leading zeros.


def test_a_date_column_empty_in_the_first_rows_is_still_a_date(tmp_path: Path) -> None:
    """Dates are recognized from the first DATE_ROWS values, not the first DATE_ROWS rows."""
    blank = DATE_ROWS + 200
    lines = [f"{i},{'' if i < blank else f'1980-02-{1 + i % 28:02d}'}" for i in range(3_000)]
    frame = read_frame(_write(tmp_path / "dob.csv", "id,birth_date", lines))
    assert frame.schema["birth_date"] == pl.Date()
    assert frame.get_column("birth_date").null_count() == blank
    assert frame.get_column("birth_date")[blank].isoformat() == f"1980-02-{1 + blank % 28:02d}"


def test_a_column_empty_in_every_inferred_row_is_typed_from_its_later_values(
    tmp_path: Path,
) -> None:
    blank = INFER_ROWS + 500
    lines = [
        f"{i},{'' if i < blank else 100_000 + i},{'' if i < blank else '2001-03-04'},"
        f"{'' if i < blank else f'x{i}'}"
        for i in range(blank + 50)
    ]
    path = _write(tmp_path / "late.csv", "id,member_no,joined,note", lines)
    expected: dict[str, pl.DataType] = {
        "id": pl.Int64(),
        "member_no": pl.Int64(),
        "joined": pl.Date(),
        "note": pl.String(),
    }
    assert dict(scan_frame(path).collect_schema()) == expected
    frame = read_frame(path)
    assert frame.row(-1) == (blank + 49, 100_000 + blank + 49, date(2001, 3, 4), f"x{blank + 49}")


def test_a_column_with_no_value_at_all_is_null_typed(tmp_path: Path) -> None:
    lines = [f"{i},,{i}" for i in range(INFER_ROWS + 10)]
    frame = read_frame(_write(tmp_path / "empty.csv", "id,nothing,amount", lines))
    assert frame.schema["nothing"] == pl.Null()
    assert frame.get_column("nothing").null_count() == frame.height


def test_leading_zeros_keep_a_digits_only_column_as_text(tmp_path: Path) -> None:
    lines = ["1,0161234567,007,-01,0,0.5", "2,0201234567,12,3,10,1.5", "3,,,,,"]
    path = _write(tmp_path / "zeros.csv", "id,phone,code,signed,plain,amount", lines)
    frame = read_frame(path)
    assert frame.dtypes == [
        pl.Int64(),
        pl.String(),
        pl.String(),
        pl.String(),
        pl.Int64(),
        pl.Float64(),
    ]
    assert frame.row(0) == (1, "0161234567", "007", "-01", 0, 0.5)


def test_leading_zeros_count_in_a_column_typed_from_its_later_values(tmp_path: Path) -> None:
    lines = [f"{i}," for i in range(INFER_ROWS + 5)] + ["x1,0042", "x2,17"]
    frame = read_frame(_write(tmp_path / "late-zeros.csv", "id,code", lines))
    assert frame.schema["code"] == pl.String()
    assert frame.get_column("code").to_list()[-2:] == ["0042", "17"]


def test_a_column_whose_first_values_are_not_all_dates_stays_text(tmp_path: Path) -> None:
    lines = ["1,2024-01-02", "2,soon", *(f"{i},2024-01-03" for i in range(3, 50))]
    frame = read_frame(_write(tmp_path / "mixed.csv", "id,day", lines))
    assert frame.schema["day"] == pl.String()


def test_the_full_read_after_a_late_value_keeps_the_same_rules(tmp_path: Path) -> None:
    """The fallback (every row inferred) still keeps leading zeros and empty columns."""
    lines = [f"{i},0{i},,{i}" for i in range(INFER_ROWS + 5)] + ["x,0999,,2.5"]
    path = _write(tmp_path / "fallback.csv", "id,phone,nothing,amount", lines)
    frame = collect_frames([(path, scan_frame(path).select("phone", "nothing", "amount"))])[0]
    expected: dict[str, pl.DataType] = {
        "phone": pl.String(),
        "nothing": pl.Null(),
        "amount": pl.Float64(),
    }
    assert dict(frame.schema) == expected
    assert frame.row(-1) == ("0999", None, 2.5)


def test_day_first_dates_are_read_day_first(tmp_path: Path) -> None:
    """02/01/1980 is 2 January (docs/matching.md recommends ISO dates); 01/13/1980 is text."""
    frame = read_frame(_write(tmp_path / "dmy.csv", "id,a,b", ["1,02/01/1980,01/13/1980"]))
    assert frame.row(0) == (1, date(1980, 1, 2), "01/13/1980")


def test_a_header_only_csv_reads_as_no_rows(tmp_path: Path) -> None:
    frame = read_frame(_write(tmp_path / "header.csv", "id,name", []))
    assert frame.columns == ["id", "name"]
    assert frame.height == 0


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b'{"id": 1}\n{"id": 2}\n{"id": \n{"id": 4}\n', "line 3: not a JSON object"),
        (b'{"id": 1}\n\n[1, 2]\n', "line 3: not a JSON object"),
        (b'{"id": 1}\n{"id": "\xff"}\n', "line 2: not a JSON object (not UTF-8)"),
    ],
)
def test_a_bad_ndjson_line_is_named_by_its_number(tmp_path: Path, body: bytes, line: str) -> None:
    """polars says only where its reader stopped; every reader of a file names the line."""
    path = tmp_path / "items.ndjson"
    path.write_bytes(body)
    with pytest.raises(BadInputError, match=f"items.ndjson: cannot read.*: {re.escape(line)}"):
        collect_frames([(path, scan_frame(path))])
    with pytest.raises(BadInputError, match=re.escape(line)):
        sink_parquet(path, tmp_path / "out.parquet")
