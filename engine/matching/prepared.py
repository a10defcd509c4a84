"""Each condition's prepared values, computed once per `match` call and gathered by row.

Rules often compare the same columns the same way (a normalized reference in two rules, a
normalized description in two more). A value is computed the first time a rule needs it,
for that rule's remaining rows, in one parallel `select` with the rule's other new values;
later rules only ever see a subset of those rows (the waterfall only takes rows away), so
they gather it. The join then carries row numbers and keys, and strings are gathered for
the pairs that survive it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl


class PreparedValues:
    """Prepared values of both sides; rows are addressed by their row number (ROW)."""

    def __init__(self, left: pl.DataFrame, right: pl.DataFrame) -> None:
        self._sides = {"left": left, "right": right}
        self._values: dict[tuple[str, str], tuple[np.ndarray, pl.Series]] = {}

    def precompute(self, exprs: dict[str, list[pl.Expr]], rows: dict[str, pl.Series]) -> None:
        """Evaluate the expressions not seen yet over each side's `rows`, both sides in
        one parallel pass, reading only the columns they use."""
        todo: dict[str, dict[tuple[str, str], pl.Expr]] = {}
        for side, side_exprs in exprs.items():
            new = {_key(side, e): e for e in side_exprs}
            todo[side] = {key: e for key, e in new.items() if key not in self._values}
        sides = [side for side in todo if todo[side]]
        queries = [self._query(side, list(todo[side].values()), rows[side]) for side in sides]
        for side, frame in zip(sides, pl.collect_all(queries, engine="in-memory"), strict=True):
            position = np.full(self._sides[side].height, -1, dtype=np.int64)
            position[rows[side].to_numpy()] = np.arange(rows[side].len())
            for n, key in enumerate(todo[side]):
                # one chunk: later gathers by row number are about twice as fast
                self._values[key] = (position, frame.get_column(f"__v{n}").rechunk())

    def _query(self, side: str, exprs: list[pl.Expr], rows: pl.Series) -> pl.LazyFrame:
        roots = sorted({name for e in exprs for name in e.meta.root_names()})
        whole = self._sides[side]
        every = _identity(rows.to_numpy(), whole.height)  # the first rule: no gather
        frame = whole.lazy().select(pl.col(roots) if every else pl.col(roots).gather(rows))
        return frame.select(e.alias(f"__v{n}") for n, e in enumerate(exprs))

    def gather(self, side: str, expr: pl.Expr, rows: pl.Series) -> pl.Series:
        """The prepared values of the given rows, in their order."""
        position, values = self._prepared(side, expr, rows)
        wanted = position[rows.to_numpy()]
        # the very rows the values were computed for (the rule that needed them first)
        if _identity(wanted, values.len()):
            return values
        return values.gather(wanted)

    def strings(self, side: str, expr: pl.Expr, rows: np.ndarray) -> np.ndarray:
        """The values of the given rows as a numpy array of Python strings, for rapidfuzz."""
        return self.string_lookup(side, expr, rows)(rows)

    def string_lookup(
        self, side: str, expr: pl.Expr, rows: np.ndarray
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A function from row numbers (among `rows`) to their strings, for callers that
        ask many times. Only the values of `rows` become Python strings (about 50 bytes
        each more than polars keeps), and only for as long as the function is kept: a
        partition's, not the whole side's."""
        position, values = self._prepared(side, expr, pl.Series(rows))
        wanted = np.zeros(values.len(), dtype=bool)
        wanted[position[rows]] = True
        chosen = np.flatnonzero(wanted)
        strings = values.gather(pl.Series(chosen, dtype=pl.UInt32)).to_numpy()
        index = np.cumsum(wanted, dtype=np.int64) - 1

        def lookup(asked: np.ndarray) -> np.ndarray:
            found: np.ndarray = strings[index[position[asked]]]
            return found

        return lookup

    def mean_chars(self, side: str, expr: pl.Expr, rows: np.ndarray) -> float:
        """The mean length in characters of the text values computed with the given rows'
        (a superset of them: the rows of the rule that needed the values first)."""
        _, values = self._prepared(side, expr, pl.Series(rows))
        mean = values.str.len_chars().mean()
        return float(mean) if isinstance(mean, int | float) else 0.0

    def _prepared(self, side: str, expr: pl.Expr, rows: pl.Series) -> tuple[np.ndarray, pl.Series]:
        key = _key(side, expr)
        if key not in self._values:
            self.precompute({side: [expr]}, {side: rows})
        return self._values[key]


def _key(side: str, expr: pl.Expr) -> tuple[str, str]:
    return (side, expr.meta.serialize(format="json"))


def _identity(positions: np.ndarray, length: int) -> bool:
    """Whether `positions` is 0, 1, ..., length - 1."""
    if positions.size != length or not length or positions[-1] != length - 1:
        return False
    return bool((positions[1:] > positions[:-1]).all())
