"""Every command a module attaches is reachable through the lazy root group, and only those."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from tieout.cli.root import COMMAND_MODULES, cli


def test_the_lazy_map_names_every_command_of_every_module() -> None:
    for module in set(COMMAND_MODULES.values()):
        importlib.import_module(f"tieout.cli.{module}")
    assert set(cli.commands) == set(COMMAND_MODULES)


def test_match_starts_without_the_database_and_web_stacks() -> None:
    probe = (
        "import sys; from tieout.cli import main\n"
        "try:\n    main(['match', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('psycopg', 'aiohttp', 'eventsourcing') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parent,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
