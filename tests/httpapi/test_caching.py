"""The bounded in-process cache behind hot job-status reads."""

from __future__ import annotations

from api_helpers import Clock

from engine.cache import TtlCache


def test_served_for_its_time_then_recomputed_and_bounded() -> None:
    clock = Clock()
    cache: TtlCache[int] = TtlCache(1.0, size=2, clock=clock)
    computed: list[str] = []

    def compute(key: str, value: int) -> int:
        computed.append(key)
        return value

    assert cache.get("a", lambda: compute("a", 1)) == 1
    assert cache.get("a", lambda: compute("a", 2)) == 1
    clock.now += 1.0
    assert cache.get("a", lambda: compute("a", 3)) == 3
    cache.get("b", lambda: compute("b", 4))
    cache.get("c", lambda: compute("c", 5))  # "a" is the least recently used: dropped
    assert cache.get("a", lambda: compute("a", 6)) == 6
    assert computed == ["a", "a", "b", "c", "a"]
