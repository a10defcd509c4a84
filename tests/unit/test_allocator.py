"""The C allocator setting of `tieout` processes (tieout.allocator)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tieout.allocator import limit_malloc_arenas

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
