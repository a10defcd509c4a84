"""Sources registered from streams: standard input, a file, another bucket's object.

The same bytes give the same source id wherever they come from, because the id follows
the stored Parquet's SHA-256 and the conversion reads the same bytes the same way.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest

from demo.datagen import generate_bank_ledger
from engine.domain.meta import event_meta
from engine.errors import BadInputError
from engine.ingest import Upload, load_source
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")
META = event_meta(actor="user:alice@example.com", causation="test")


def tieout(env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [TIEOUT, *args], env=env, input=stdin, capture_output=True, timeout=120, check=False
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@pytest.fixture
def bank_csv(tmp_path: Path) -> Path:
    path = tmp_path / "bank.csv"
    generate_bank_ledger(2_000, seed=3).left.write_csv(path)
    return path


def test_standard_input_and_the_file_give_one_source(
    container: Container, cli_env: dict[str, str], bank_csv: Path
) -> None:
    project = tieout(cli_env, "projects", "create", "stdin").stdout.strip().splitlines()[-1]
    from_file = tieout(cli_env, "sources", "add", project, str(bank_csv))
    piped = tieout(
        cli_env, "sources", "add", project, "-", "--format", "csv", stdin=bank_csv.read_bytes()
    )
    assert (from_file.returncode, piped.returncode) == (0, 0), piped.stderr
    source_id = from_file.stdout.strip().splitlines()[-1]
    assert piped.stdout.strip().splitlines()[-1] == source_id
    source = container.app.get_source(UUID(project), UUID(source_id))
    stored = load_source(container.object_store, source.location)
    assert stored.equals(pl.read_csv(bank_csv, try_parse_dates=True))


def test_standard_input_needs_a_format(cli_env: dict[str, str]) -> None:
    project = tieout(cli_env, "projects", "create", "p").stdout.strip().splitlines()[-1]
    done = tieout(cli_env, "sources", "add", project, "-", stdin=b"a,b\n1,2\n")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --format is required when FILE is - (standard input)"
    ]


def test_a_stream_that_is_not_its_declared_format_names_the_upload(
    container: Container,
) -> None:
    project = container.app.create_project("p", META)
    garbage = Upload("payments.parquet", "parquet", io.BytesIO(b"id,amount\n1,2\n"))
    with pytest.raises(BadInputError, match=r"^payments\.parquet: cannot read as parquet") as err:
        container.app.register_source(project, garbage, META)
    assert "tieout-ingest" not in str(err.value)  # no scratch path leaks into the message


def test_a_late_value_that_does_not_fit_reads_every_row(container: Container) -> None:
    """Types come from the first rows; a stream whose row 20,000 breaks them is converted
    again with every row inferred, as a file is."""
    rows = [f"{n},{n}" for n in range(20_000)] + ["20000,12.5"]
    body = ("id,amount\n" + "\n".join(rows) + "\n").encode()
    project = container.app.create_project("p", META)
    source_id = container.app.register_source(
        project, Upload("late.csv", "csv", io.BytesIO(body)), META
    )
    source = container.app.get_source(project, source_id)
    assert source.row_count == 20_001
    assert ["amount", "Float64"] in source.columns
    assert load_source(container.object_store, source.location)["amount"][-1] == 12.5
