"""The CLI's failures: one readable line on stderr, the right exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tieout.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_a_bad_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIEOUT_LEASE_SECONDS", "soon")
    code, _, err = run(["projects", "create", "p"], capsys)
    assert code == 2
    assert err.startswith("error: TIEOUT_LEASE_SECONDS: ")
    assert err.count("\n") == 1


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIEOUT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = run(["projects", "create", "p"], capsys)
    assert code == 1
    assert err.startswith("error: database unavailable: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_input_on_the_write_side_is_exit_2(
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for key, value in cli_env.items():
        if key.startswith("TIEOUT_"):
            monkeypatch.setenv(key, value)
    code, out, _ = run(["projects", "create", "p"], capsys)
    assert code == 0
    project = out.strip().splitlines()[-1]
    cases = [
        (["projects", "create", "  "], "name: must not be empty"),
        (["sources", "add", project, str(tmp_path / "nope.csv")], "nope.csv: no such file"),
        (["sources", "add", "not-an-id", str(tmp_path / "x.csv")], "not a valid id"),
        (["rulesets", "publish", project, str(tmp_path / "none.yaml")], "cannot read"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert (code, err.count("\n")) == (2, 1), (argv, err)
        assert message in err, (argv, err)
