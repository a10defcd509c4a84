"""How many examples a property runs: `make test` runs the written number, derandomized in
CI; `make test-deep` sets TIEOUT_TEST_EXAMPLES_SCALE to run many times more, on fresh seeds."""

from __future__ import annotations

import os

SCALE = int(os.environ.get("TIEOUT_TEST_EXAMPLES_SCALE", "1"))


def examples(count: int) -> int:
    return count * SCALE
