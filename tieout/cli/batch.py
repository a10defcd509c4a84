"""Memory settings for a batch command: a short-lived process that allocates and frees
hundreds of MB per step.

By default both allocators hand freed memory back to the OS soon after it is freed
(polars configures its jemalloc to within 0.5-1 s; glibc's malloc, which numpy and Python
use, at once for blocks of 128 KB and more), and the next step faults the same pages in
again: a
1M-row `tieout match` took about 460,000 page faults and 1.9 s of system time. Kept
instead, it takes about 340,000 (close to one per page of its peak) and runs 5-10%
faster, for a peak RSS about 0.3 GB higher. A server or worker keeps the defaults.

`keep_freed_memory()` must run before polars loads: polars appends `_RJEM_MALLOC_CONF` to
its own defaults (the last value of an option wins) and jemalloc reads them once, at its
first allocation. Options the user set are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

JEMALLOC_OPTIONS = "dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false"
# glibc mallopt parameters (malloc.h) and the values used
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
TRIM_THRESHOLD = 2**31 - 1  # (mallopt takes an int) in effect, never trim the heap
TOP_PAD = 256 << 20  # grow the heap 256 MB at a time
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks below it come from the heap


def keep_freed_memory() -> None:
    """Tell jemalloc (unless the user configured it) and glibc to keep freed memory."""
    os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_OPTIONS)
    name = ctypes.util.find_library("c")
    if name is None:  # not glibc (musl, macOS): nothing to tune
        return
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    if mallopt is None:
        return
    for parameter, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
    ):
        mallopt(ctypes.c_int(parameter), ctypes.c_int(value))
