"""Handing polars' freed memory back (engine.polars_memory)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from engine import polars_memory

LINUX = sys.platform.startswith("linux")


@pytest.mark.skipif(not LINUX, reason="the lookup reads ELF files and /proc")
def test_a_symbol_is_found_where_the_loader_put_it() -> None:
    """The offset read from the symbol table plus the load address read from /proc is
    where the dynamic loader resolved the same (exported) function."""
    library = polars_memory._polars_library()
    assert library is not None
    exported = next(
        name for name in (b"PyInit__polars_runtime", b"PyInit_polars") if _exports(library, name)
    )
    offset = polars_memory.symbol_offset(library, exported)
    base = polars_memory._load_address(library)
    assert offset is not None
    assert base is not None
    loaded = ctypes.cast(getattr(ctypes.CDLL(str(library)), exported.decode()), ctypes.c_void_p)
    assert base + offset == loaded.value


def _exports(library: Path, name: bytes) -> bool:
    return hasattr(ctypes.CDLL(str(library)), name.decode())


def test_no_symbol_and_no_elf_file_give_none(tmp_path: Path) -> None:
    library = polars_memory._polars_library()
    if library is not None:
        assert polars_memory.symbol_offset(library, b"no_such_symbol_anywhere") is None
    text = tmp_path / "not-elf.so"
    text.write_bytes(b"just some text, not an ELF file" * 10)
    assert polars_memory.symbol_offset(text, polars_memory.SYMBOL) is None


PURGE = """
import polars as pl
from engine import polars_memory

def anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon"):
            return int(line.split()[1]) // 1024

frame = pl.DataFrame({"x": pl.int_range(0, 30_000_000, eager=True)}).with_columns(
    (pl.col("x") * 3).alias("y")
)
del frame
held = anon_mb()
done = polars_memory.purge()
print(done, held - anon_mb())
"""


@pytest.mark.skipif(not LINUX, reason="jemalloc's mallctl is reached through ELF and /proc")
def test_purge_hands_freed_frames_back() -> None:
    """480 MB of frames freed stay resident in polars' jemalloc until the purge, which
    hands them back (in a process of its own: the test session's memory is its own)."""
    # no decay: what jemalloc hands back is the purge's doing, however slow the machine
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1"}
    out = subprocess.run(
        [sys.executable, "-c", PURGE], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert out[0] == "True"
    assert int(out[1]) > 200


def test_purge_is_harmless_when_repeated() -> None:
    pl.DataFrame({"x": range(1000)}).sum()
    first = polars_memory.purge()
    assert polars_memory.purge() == first
