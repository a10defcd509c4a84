"""Every command a module attaches is reachable through the lazy root group, and only those."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from tieout.cli.batch import JEMALLOC_OPTIONS
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


def _probe(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parent,
        env=env,
    )
    return done.stdout.strip().splitlines()[-1]


def test_match_keeps_freed_memory_and_configures_jemalloc_before_polars_loads() -> None:
    probe = (
        "import os, sys; from tieout.cli import main\n"
        "try:\n    main(['match', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF'), 'polars' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    # polars puts its defaults first and ours after them (jemalloc: the last one wins)
    options, polars_loaded = _probe(probe, env).split()
    assert options.endswith(f",{JEMALLOC_OPTIONS}")
    assert polars_loaded == "True"
    # a user's own jemalloc options win
    options, _ = _probe(probe, env | {"_RJEM_MALLOC_CONF": "narenas:2"}).split()
    assert options.endswith(",narenas:2")
    assert JEMALLOC_OPTIONS not in options


def test_other_commands_keep_the_allocator_defaults() -> None:
    probe = (
        "import os; from tieout.cli import main\n"
        "try:\n    main(['jobs', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert JEMALLOC_OPTIONS not in _probe(probe, env)


def test_keeping_freed_memory_sets_glibc_options_without_error() -> None:
    # mallopt answers 1 on success; a rejected value (out of range) would answer 0
    probe = (
        "import ctypes, ctypes.util; from tieout.cli import batch\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "batch.keep_freed_memory()\n"
        "print(libc.mallopt(batch.M_TRIM_THRESHOLD, batch.TRIM_THRESHOLD),"
        " libc.mallopt(batch.M_MMAP_THRESHOLD, batch.MMAP_THRESHOLD))"
    )
    assert _probe(probe) == "1 1"
