"""The C allocator setting of `tieout` processes (tieout.allocator)."""

from __future__ import annotations

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
