"""Hand the memory polars has freed back to the system, at the matcher's step boundaries.

polars allocates through its own copy of jemalloc, which keeps the pages it frees for its
own later requests (for ten seconds by default). In a match many of the requests that
follow a step go to the other allocator instead (numpy's arrays, Python's strings: the C
library's malloc), so a rule's frames, once freed, stayed resident beside the arrays of
the next step, and the peak was the sum of both. jemalloc's `mallctl("arena.<all>.purge")`
returns them at once. polars links jemalloc statically and exports none of its symbols,
so `mallctl` is found by name in the library's symbol table (`.symtab`, which polars'
wheels keep) and called at its address in the loaded library.

The matcher calls `purge` where a step has just freed much that polars allocated and the
next allocates mostly elsewhere (after each file is read, after a rule's values are
prepared, after each partition of its keys). Returning every freed page at once instead
(`_RJEM_MALLOC_CONF=dirty_decay_ms:0`) saves about as much but costs about 10% more CPU
time: the pages a busy step frees and takes again are faulted in again each time.

Every step checks what it relies on and gives up quietly, leaving memory as polars keeps
it: a platform other than Linux, a library without a symbol table or without jemalloc,
a `mallctl` whose "version" is not jemalloc's 5. The lookup reads the library's symbol
names once per process (a few milliseconds: jemalloc's are near the table's end).
"""

from __future__ import annotations

import ctypes
import mmap
import struct
import sys
from functools import cache
from pathlib import Path
from typing import Any

SYMBOL = b"_rjem_mallctl"  # tikv-jemallocator's prefix on jemalloc's `mallctl`
PURGE_ALL = b"arena.4096.purge"  # 4096: MALLCTL_ARENAS_ALL
SHT_SYMTAB = 2
STT_FUNC = 2
SYMBOL_FIELDS = [("name", "<u4"), ("info", "<u4"), ("value", "<u8"), ("size", "<u8")]  # Elf64_Sym

Mallctl = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_size_t),
    ctypes.c_void_p,
    ctypes.c_size_t,
)


def purge() -> bool:
    """Return the pages polars' jemalloc holds free to the system; True if it did, False
    where polars is not loaded or its jemalloc cannot be reached (nothing changes then)."""
    library = _polars_library()
    mallctl = None if library is None else _mallctl(library)
    return mallctl is not None and mallctl(PURGE_ALL, None, None, None, 0) == 0


@cache
def _mallctl(library: Path) -> Any:
    """`mallctl` of the jemalloc linked into `library`, checked by its version; None if
    it cannot be found."""
    try:
        offset = symbol_offset(library, SYMBOL)
        base = _load_address(library)
    except (OSError, ValueError, struct.error):
        return None
    if offset is None or base is None:
        return None
    mallctl = Mallctl(base + offset)
    version = ctypes.c_char_p()
    size = ctypes.c_size_t(ctypes.sizeof(version))
    if mallctl(b"version", ctypes.byref(version), ctypes.byref(size), None, 0) != 0:
        return None
    return mallctl if (version.value or b"").startswith(b"5.") else None


def _polars_library() -> Path | None:
    """The shared library of polars' runtime, if polars is loaded (its module's name
    differs by release and build: `_polars_runtime_32._polars_runtime`, `polars.polars`)."""
    if not sys.platform.startswith("linux"):
        return None
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if name.startswith(("_polars_runtime", "polars.polars")) and path.endswith(".so"):
            return Path(path)
    return None


def symbol_offset(library: Path, name: bytes) -> int | None:
    """The value (offset from the load address) of symbol `name` in the ELF64
    little-endian file `library`'s symbol table; None if it has no such symbol."""
    # imported here: `tieout match` reads its inputs while numpy loads (tieout/cli/match.py)
    import numpy as np  # noqa: PLC0415

    entry = np.dtype(SYMBOL_FIELDS)
    with library.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:6] != b"\x7fELF\x02\x01":
            return None
        (table_at,) = struct.unpack_from("<Q", data, 0x28)
        entry_size, entries = struct.unpack_from("<HH", data, 0x3A)
        sections = [
            struct.unpack_from("<IIQQQQIIQQ", data, table_at + number * entry_size)
            for number in range(entries)
        ]
        for section in sections:
            if section[1] != SHT_SYMTAB:
                continue
            strings = sections[section[6]]
            start, end = strings[4], strings[4] + strings[5]
            # jemalloc's objects are linked last: their names are near the table's end
            found = data.rfind(b"\0" + name + b"\0", start, end)
            if found < 0:
                return None
            count = section[5] // entry.itemsize
            symbols = np.frombuffer(data, entry, count=count, offset=section[4])
            hits = np.flatnonzero(
                (symbols["name"] == found + 1 - start) & (symbols["info"] & 0xF == STT_FUNC)
            )
            value = int(symbols["value"][hits[0]]) if len(hits) else None
            del symbols  # a view of the mapping, which closes with the block
            return value or None
    return None


def _load_address(library: Path) -> int | None:
    """Where the library is mapped in this process: the start of its mapping at file
    offset 0 (/proc/self/maps)."""
    resolved = str(library.resolve())
    with Path("/proc/self/maps").open(encoding="utf-8") as maps:
        for line in maps:
            # address range, permissions, file offset, device, inode, path
            fields = line.split(maxsplit=5)
            if fields[-1].rstrip("\n") == resolved and int(fields[2], 16) == 0:
                return int(fields[0].split("-")[0], 16)
    return None
