"""The restore drill of bench/restore_drill.py at a small size: a job's decisions, a full
snapshot, incrementals while another job records, a restore into a fresh database, and
every table derived from the log identical afterwards."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def bench_module(name: str) -> ModuleType:
    """A script of bench/ (scripts, not a package), loaded by its path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_drill_restores_an_identical_database(admin_database_url: str, tmp_path: Path) -> None:
    drill = bench_module("restore_drill").drill
    done = drill(admin_database_url, tmp_path, 2_000, incrementals=2, pg_tools=False)
    assert done.restore is not None
    assert done.restore.verdict.ok
    assert done.differing == []
    recorded = sum(events for events, _ in done.incrementals)
    assert recorded > 0  # the second job's batches arrived in incrementals
    assert done.restore.events == done.restore.verdict.events
    assert done.restore.seconds > 0
