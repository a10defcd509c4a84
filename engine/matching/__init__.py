"""The matcher: pure functions over polars frames (no I/O, clock, randomness or settings).

`match(left, right, ruleset)` runs the ruleset's rules as a waterfall and returns a
`MatchResult`; `decisions_hash(result)` fingerprints its decisions for replays.

Names load on first use (PEP 562): reading a ruleset costs pydantic only, so `tieout
match` can parse its rules and start reading the inputs before numpy and rapidfuzz load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.matching.result import MatchResult, decisions_hash
    from engine.matching.ruleset import Ruleset, parse_ruleset
    from engine.matching.waterfall import match

__all__ = ["MatchResult", "Ruleset", "decisions_hash", "match", "parse_ruleset"]

_HOMES = {
    "MatchResult": "result",
    "decisions_hash": "result",
    "Ruleset": "ruleset",
    "parse_ruleset": "ruleset",
    "match": "waterfall",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
