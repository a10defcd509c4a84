"""The matcher: pure functions over polars frames (no I/O, clock, randomness or settings).

`match(left, right, ruleset)` runs the ruleset's rules as a waterfall and returns a
`MatchResult`; `decisions_hash(result)` fingerprints its decisions for replays.
"""

from engine.matching.result import MatchResult, decisions_hash
from engine.matching.ruleset import Ruleset, parse_ruleset
from engine.matching.waterfall import match

__all__ = ["MatchResult", "Ruleset", "decisions_hash", "match", "parse_ruleset"]
