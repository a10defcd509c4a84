"""The allocators of a process that runs one large match.

Two allocators share the process: polars' jemalloc (frames, expressions, the CSV reader)
and the C library's malloc (numpy's arrays, Python's objects, rapidfuzz). Memory freed to
either serves only that allocator's later requests, and each keeps freed memory by thread
or arena. Set before either starts threads:

- malloc: one arena per core, two at least (glibc makes one per thread that meets
  contention, up to eight per core). Arrays freed on a scoring thread then serve the
  other threads. One arena for the whole process saved no more memory but made long
  text 10-30% slower in wall time: rapidfuzz's scoring threads allocate for every long
  string and queued for its lock.
- jemalloc: one arena (`narenas:1` in `_RJEM_MALLOC_CONF`, unless the variable sets
  another number) instead of four per core, so that the CSV reader's buffers, freed on
  polars' threads, serve the rules' allocations on any thread.

Each lowered the peak of `tieout match` at 1M rows a side by about 40 MB, with no
measurable cost in CPU or wall time. They are set for `tieout match` alone (`ONE_MATCH`
in tieout/cli/root.py), where they were measured. Returning freed pages to the system at once
(`_RJEM_MALLOC_CONF=narenas:1,dirty_decay_ms:0`) lowers the peak by another 100-150 MB
but costs about 10% more CPU time (the same pages are faulted in again), so it is left
to the user (docs/performance.md).

Between the rules and the outputs, `return_free_memory` hands back what malloc holds free
(the rules' numpy arrays): the outputs are polars' allocations, which cannot reuse it.
About 40-80 MB less peak at 1M rows a side, no measurable cost: the outputs allocate
little through malloc, so few of those pages are faulted in again.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter: the most arenas malloc may create
JEMALLOC_CONF = "_RJEM_MALLOC_CONF"  # read by polars' jemalloc when polars loads
JEMALLOC_DEFAULT = "narenas:1"


def configure_allocators() -> None:
    """Fewer arenas in each allocator (see the module's docstring). Has effect only
    before polars is imported and before threads that allocate are started.

    jemalloc's arena count is added to whatever `_RJEM_MALLOC_CONF` already holds, unless
    it names one: the variable is often not the user's but polars' own, inherited from a
    parent process that imported polars (which writes its decay settings there), and
    taking it as a choice of the user's cost `tieout match` 40-60 MB at 1M rows a side."""
    if "polars" not in sys.modules:
        os.environ[JEMALLOC_CONF] = with_one_arena(os.environ.get(JEMALLOC_CONF, ""))
    limit_malloc_arenas(max(2, os.cpu_count() or 1))


def with_one_arena(conf: str) -> str:
    """jemalloc settings `conf` with one arena, unless they set the number themselves."""
    options = [option for option in conf.split(",") if option]
    if any(option.startswith("narenas:") for option in options):
        return conf
    return ",".join([*options, JEMALLOC_DEFAULT])


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


def return_free_memory() -> bool:
    """Hand the memory malloc holds free back to the system (glibc's `malloc_trim`); True
    if any was, False if none was or the C library has no such call."""
    if not sys.platform.startswith("linux"):
        return False
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return bool(trim(0))
