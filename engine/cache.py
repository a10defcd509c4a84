"""A small in-process cache with a time bound and a size bound, for reads whose staleness is
harmless for that long (a job's status while a client polls it, a caller's organization)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")


class TtlCache(Generic[ValueT]):
    """At most `size` entries, each served for `ttl_seconds` after it was computed."""

    def __init__(
        self, ttl_seconds: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, ValueT]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], ValueT]) -> ValueT:
        now = self.clock()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] < self.ttl_seconds:
                self._entries.move_to_end(key)
                return found[1]
        value = compute()  # outside the lock: two callers may both compute; both are right
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget(self, key: Hashable) -> None:
        """Drop an entry this process has just changed."""
        with self._lock:
            self._entries.pop(key, None)
