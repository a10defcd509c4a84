"""Each condition's prepared values over a whole side, computed once per `match` call.

Rules often compare the same columns the same way (a normalized reference in two rules, a
normalized description in two more); preparing a value once per side and gathering it by
row number afterwards saves the repeated string work, and lets the join carry only row
numbers and keys while strings are gathered for the pairs that survive it.
"""

from __future__ import annotations

import numpy as np
import polars as pl


class PreparedValues:
    """Prepared values of both sides, each a Series indexed by ROW (row number)."""

    def __init__(self, left: pl.DataFrame, right: pl.DataFrame) -> None:
        self._sides = {"left": left, "right": right}
        self._cache: dict[tuple[str, str], pl.Series] = {}
        self._objects: dict[tuple[str, str], np.ndarray] = {}

    def precompute(self, side: str, exprs: list[pl.Expr]) -> None:
        """Evaluate many expressions in one parallel pass (each once)."""
        todo = {(side, e.meta.serialize(format="json")): e for e in exprs}
        todo = {key: e for key, e in todo.items() if key not in self._cache}
        if not todo:
            return
        names = [f"__v{n}" for n in range(len(todo))]
        frame = self._sides[side].select(
            e.alias(name) for e, name in zip(todo.values(), names, strict=True)
        )
        for key, name in zip(todo, names, strict=True):
            self._cache[key] = frame.get_column(name)

    def strings(self, side: str, expr: pl.Expr) -> np.ndarray:
        """The values as a numpy array of Python strings, for rapidfuzz (built once)."""
        key = (side, expr.meta.serialize(format="json"))
        if key not in self._objects:
            self._objects[key] = self.values(side, expr).to_numpy()
        return self._objects[key]

    def values(self, side: str, expr: pl.Expr) -> pl.Series:
        """`expr` evaluated over the whole side; position i holds row i's value."""
        key = (side, expr.meta.serialize(format="json"))
        if key not in self._cache:
            frame = self._sides[side]
            self._cache[key] = frame.select(expr.alias("__v")).to_series()
        return self._cache[key]

    def gather(self, side: str, expr: pl.Expr, rows: pl.Series) -> pl.Series:
        """The prepared values of the given rows, in their order."""
        return self.values(side, expr).gather(rows)
