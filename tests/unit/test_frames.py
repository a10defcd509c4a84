"""Reading input files: fast CSV type inference that never settles on a wrong type."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from engine.errors import BadInputError
from engine.frames import DATE_ROWS, INFER_ROWS, collect_frames, read_frame, scan_frame


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


def test_an_unreadable_file_is_one_line_of_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(BadInputError) as caught:
        read_frame(path)
    assert str(caught.value).startswith(f"{path}: cannot read")
    assert "\n" not in str(caught.value)
