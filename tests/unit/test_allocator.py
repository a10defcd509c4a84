"""The C allocator setting of `tieout` processes (tieout.allocator)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from engine.matching.schemas import DONE
from tieout.allocator import limit_malloc_arenas, return_free_memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt's arena limit is glibc's")
def test_glibc_takes_the_arena_limit() -> None:
    assert limit_malloc_arenas() is True


def test_the_cli_limits_arenas_before_polars_loads() -> None:
    """The limit must come before polars starts its threads, so importing the CLI must
    not import polars."""
    code = "import sys, tieout.cli; print('polars' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "False"


def test_the_cli_sets_one_jemalloc_arena_unless_the_user_chose() -> None:
    code = "import os, tieout.cli; print(os.environ.get('_RJEM_MALLOC_CONF'))"
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert found == "narenas:1"
    env["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:0"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert found == "dirty_decay_ms:0"


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_free_memory_goes_back_without_harm() -> None:
    kept = [bytearray(1 << 20) for _ in range(32)]
    del kept
    assert isinstance(return_free_memory(), bool)


def test_tieout_match_returns_free_memory_once_the_rules_are_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tieout.cli import match as command  # noqa: PLC0415 - the CLI module under test

    calls: list[str] = []

    def trimmed() -> bool:
        calls.append("trim")
        return True

    monkeypatch.setattr(command, "return_free_memory", trimmed)
    with command._progress() as report:
        report("rule a", 0, 2)
        report("rule b", 1, 2)
        assert calls == []
        report(DONE, 2, 2)
    assert calls == ["trim"]
