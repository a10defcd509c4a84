"""The C allocator of a process that runs one large match.

numpy's arrays and Python's objects come from the C library's malloc (polars has its own
allocator). glibc gives each thread that meets contention an arena of its own, and memory
freed in one arena serves only that arena's later requests: the matcher's scoring threads
(rapidfuzz's and its own) each kept tens of MB of freed arrays that the main thread could
not reuse. One arena for the whole process lowered the peak of `tieout match` at 1M rows
a side by about 80 MB (10%) at no measurable cost in time: the threads allocate a few
large arrays each, not many small ones, so they hardly ever wait for the arena's lock.
"""

from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter: the most arenas malloc may create


def limit_malloc_arenas(count: int = 1) -> bool:
    """Let malloc use at most `count` arenas from now on; True if the C library took the
    setting (glibc on Linux), False where it has no such setting. Arenas already made
    stay, so call this before the process starts threads that allocate."""
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, count))
