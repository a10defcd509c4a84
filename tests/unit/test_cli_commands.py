"""Every command a module attaches is reachable through the lazy root group, and only those."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tieout.cli.root import COMMAND_MODULES, cli


def test_the_lazy_map_names_every_command_of_every_module() -> None:
    for modules in set(COMMAND_MODULES.values()):
        for module in modules.split(","):
            importlib.import_module(f"tieout.cli.{module}")
    assert set(cli.commands) == set(COMMAND_MODULES)


def _probe(code: str) -> str:
    """The last line a fresh interpreter prints running `code` (from this directory)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parent,
    )
    return done.stdout.strip().splitlines()[-1]


def test_match_starts_without_the_database_and_web_stacks() -> None:
    probe = (
        "import sys; from tieout.cli import main\n"
        "try:\n    main(['match', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('psycopg', 'aiohttp', 'eventsourcing') if m in sys.modules))"
    )
    assert _probe(probe) == "[]"


def test_reading_a_ruleset_leaves_numpy_and_rapidfuzz_unloaded() -> None:
    # what lets `tieout match` read its inputs while the matcher's modules load
    probe = (
        "import sys\n"
        "from engine.matching import parse_ruleset\n"
        "parse_ruleset(open('../../demo/rulesets/bank_ledger.yaml', encoding='utf-8').read())\n"
        "print(sorted(m for m in ('numpy', 'rapidfuzz') if m in sys.modules))"
    )
    assert _probe(probe) == "[]"


def test_the_match_commands_module_leaves_numpy_and_rapidfuzz_unloaded() -> None:
    # the same for everything `tieout match` imports before it starts reading
    probe = (
        "import sys\n"
        "import tieout.cli.match\n"
        "print(sorted(m for m in ('numpy', 'rapidfuzz') if m in sys.modules))"
    )
    assert _probe(probe) == "[]"


def test_the_matcher_package_loads_its_names_on_first_use() -> None:
    import engine.matching  # noqa: PLC0415 - the package object itself is under test

    assert engine.matching.match.__module__ == "engine.matching.waterfall"
    assert engine.matching.MatchResult.__module__ == "engine.matching.result"
    with pytest.raises(AttributeError, match="no attribute 'matcher'"):
        _ = engine.matching.matcher
