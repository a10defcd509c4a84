"""How many examples a property runs: `make test` runs the written number, derandomized in
CI; `make test-deep` sets TIEOUT_TEST_EXAMPLES_SCALE to run many times more, on fresh seeds."""

from __future__ import annotations

import os

SCALE = int(os.environ.get("TIEOUT_TEST_EXAMPLES_SCALE", "1"))


DEEP = SCALE > 1
"""A deep run: fresh seeds are what it is for. Elsewhere a property whose reach floors
count rare commands over a handful of examples runs derandomized (`derandomize=not
DEEP`), so a plain `make test` never fails on a seed that happened to miss them."""


def examples(count: int) -> int:
    return count * SCALE
