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
        self._strings: dict[tuple[str, str], np.ndarray] = {}

    def precompute(self, side: str, exprs: list[pl.Expr], rows: pl.Series) -> None:
        """Evaluate the expressions not seen yet over `rows`, in one parallel pass."""
        todo = {_key(side, e): e for e in exprs}
        todo = {key: e for key, e in todo.items() if key not in self._values}
        if not todo:
            return
        names = [f"__v{n}" for n in range(len(todo))]
        frame = (
            self._sides[side]
            .select(pl.all().gather(rows))
            .select(e.alias(name) for e, name in zip(todo.values(), names, strict=True))
        )
        position = np.full(self._sides[side].height, -1, dtype=np.int64)
        position[rows.to_numpy()] = np.arange(rows.len())
        for key, name in zip(todo, names, strict=True):
            self._values[key] = (position, frame.get_column(name))

    def gather(self, side: str, expr: pl.Expr, rows: pl.Series) -> pl.Series:
        """The prepared values of the given rows, in their order."""
        position, values = self._prepared(side, expr, rows)
        return values.gather(position[rows.to_numpy()])

    def strings(self, side: str, expr: pl.Expr, rows: np.ndarray) -> np.ndarray:
        """The values of the given rows as a numpy array of Python strings, for rapidfuzz."""
        return self.string_lookup(side, expr, rows)(rows)

    def string_lookup(
        self, side: str, expr: pl.Expr, rows: np.ndarray
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A function from row numbers (among `rows` or a subset) to their strings; looks
        the value up once, for callers that ask many times."""
        key = _key(side, expr)
        position, values = self._prepared(side, expr, pl.Series(rows))
        if key not in self._strings:
            self._strings[key] = values.to_numpy()
        strings = self._strings[key]

        def lookup(wanted: np.ndarray) -> np.ndarray:
            found: np.ndarray = strings[position[wanted]]
            return found

        return lookup

    def _prepared(self, side: str, expr: pl.Expr, rows: pl.Series) -> tuple[np.ndarray, pl.Series]:
        key = _key(side, expr)
        if key not in self._values:
            self.precompute(side, [expr], rows)
        return self._values[key]


def _key(side: str, expr: pl.Expr) -> tuple[str, str]:
    return (side, expr.meta.serialize(format="json"))
