"""The mutation score per module, from the results `mutmut run` left under mutants/.

`make test-deep` prints it after the run; docs/testing.md explains the surviving mutants.
Run from the repository's root: `python tests/mutation_score.py [MUTANTS_DIR]`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py), folded into the columns of the table
STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "type check",
    None: "not checked",
}
COLUMNS = ("killed", "survived", "timeout", "suspicious", "no tests", "not checked")


def scores(mutants: Path) -> dict[str, Counter[str]]:
    """Per source file (relative to mutants/): how many mutants ended in each status."""
    table: dict[str, Counter[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if codes:
            module = str(meta.relative_to(mutants).with_suffix(""))
            table[module] = Counter(STATUS.get(code, "suspicious") for code in codes.values())
    return table


def render(table: dict[str, Counter[str]]) -> str:
    header = ["module", "mutants", *COLUMNS, "score"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    total: Counter[str] = Counter()
    for module, counts in [*table.items(), ("total", total)]:
        if module != "total":
            total.update(counts)
        size = sum(counts.values())
        # a timeout is a detected mutant too: the tests did not pass on it
        detected = counts["killed"] + counts["timeout"]
        score = f"{100 * detected / size:.1f} %" if size else "-"
        cells = [module, str(size), *(str(counts[column]) for column in COLUMNS), score]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    mutants = Path(sys.argv[1] if len(sys.argv) > 1 else "mutants")
    table = scores(mutants)
    if not table:
        sys.stderr.write(f"no mutation results under {mutants}/: run `mutmut run` first\n")
        return 1
    sys.stdout.write(render(table) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
