"""Each condition's prepared values, computed once per `match` call and gathered by row.

Rules often compare the same columns the same way (a normalized reference in two rules, a
normalized description in two more). A value is computed the first time a rule needs it,
for that rule's remaining rows, in one parallel `select` with the rule's other new values;
later rules only ever see a subset of those rows (the waterfall only takes rows away), so
they gather it. The join then carries row numbers and keys, and strings are gathered for
the pairs that survive it.

Memory: the sides and the values are the matcher's largest long-lived data, so each is
kept only while a later rule can use it (`release`): a value no remaining rule compares,
a side's column no remaining rule computes a value from, sums or carries, is dropped
after the rule that used it last. A value computed for every row of its side (the first
rule's) is addressed by row number directly; others through a table of positions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from engine.matching.utf8 import Utf8Column

Lookup = Callable[[np.ndarray], np.ndarray]


class PreparedValues:
    """Prepared values of both sides; rows are addressed by their row number (ROW).

    The sides are held here and nowhere else while rules run (`side` hands them out), so
    that `release` can free what no later rule needs."""

    def __init__(self, left: pl.DataFrame, right: pl.DataFrame) -> None:
        self._sides = {"left": left, "right": right}
        # per value: the position of each row's value (None: the row number itself)
        self._values: dict[tuple[str, str], tuple[np.ndarray | None, pl.Series]] = {}

    def side(self, side: str) -> pl.DataFrame:
        """One side's frame, with the columns not yet released."""
        return self._sides[side]

    def release(self, exprs: dict[str, list[pl.Expr]], columns: dict[str, set[str]]) -> None:
        """Keep only what is still to be used: the values of `exprs` (each side's
        expressions of the rules still to run), and the sides' `columns` plus those the
        expressions of `exprs` not computed yet read. Everything else is freed (if no
        caller holds it)."""
        wanted = {_key(side, e) for side, side_exprs in exprs.items() for e in side_exprs}
        self._values = {key: value for key, value in self._values.items() if key in wanted}
        self._release_columns((exprs, columns), set())

    def _release_columns(
        self,
        later: tuple[dict[str, list[pl.Expr]], dict[str, set[str]]],
        computing: set[tuple[str, str]],
    ) -> None:
        """Free the sides' columns that neither `later`'s columns nor its expressions
        not computed yet (nor being computed: `computing`) read."""
        exprs, columns = later
        for side, frame in self._sides.items():
            needed = set(columns.get(side, ()))
            for expr in exprs.get(side, []):
                key = _key(side, expr)
                if key not in self._values and key not in computing:
                    needed.update(expr.meta.root_names())
            kept = [name for name in frame.columns if name in needed]
            if len(kept) < frame.width:
                self._sides[side] = frame.select(kept)

    def precompute(
        self,
        exprs: dict[str, list[pl.Expr]],
        rows: dict[str, pl.Series],
        later: tuple[dict[str, list[pl.Expr]], dict[str, set[str]]] | None = None,
    ) -> None:
        """Evaluate the expressions not seen yet over each side's `rows`, both sides in
        one parallel pass, reading only the columns they use.

        With `later` (what `release` is given: the expressions and columns still to be
        used, these included), the columns these expressions read are gathered for
        `rows` first, and what nothing later reads is released before the expressions
        run: a rule's text is cleaned from the copy of its rows' values alone, not beside
        every row's raw text (on accented text, the peak of the amount-and-date rule)."""
        todo: dict[str, dict[tuple[str, str], pl.Expr]] = {}
        for side, side_exprs in exprs.items():
            new = {_key(side, e): e for e in side_exprs}
            todo[side] = {key: e for key, e in new.items() if key not in self._values}
        sides = [side for side in todo if todo[side]]
        inputs = pl.collect_all(
            [self._inputs(side, list(todo[side].values()), rows[side]) for side in sides],
            engine="in-memory",
        )
        if later is not None:
            self._release_columns(later, {key for side in sides for key in todo[side]})
        queries = [
            frame.lazy().select(e.alias(f"__v{n}") for n, e in enumerate(todo[side].values()))
            for side, frame in zip(sides, inputs, strict=True)
        ]
        del inputs
        for side, frame in zip(sides, pl.collect_all(queries, engine="in-memory"), strict=True):
            position = _positions(rows[side].to_numpy(), self._sides[side].height)
            for n, key in enumerate(todo[side]):
                # one chunk: later gathers by row number are about twice as fast
                self._values[key] = (position, frame.get_column(f"__v{n}").rechunk())

    def _inputs(self, side: str, exprs: list[pl.Expr], rows: pl.Series) -> pl.LazyFrame:
        """The columns `exprs` read, for `rows` (the side's own columns for every row)."""
        roots = sorted({name for e in exprs for name in e.meta.root_names()})
        whole = self._sides[side]
        every = _identity(rows.to_numpy(), whole.height)  # the first rule: no gather
        return whole.lazy().select(pl.col(roots) if every else pl.col(roots).gather(rows))

    def gather(self, side: str, expr: pl.Expr, rows: pl.Series) -> pl.Series:
        """The prepared values of the given rows, in their order."""
        position, values = self._prepared(side, expr, rows)
        asked = rows.to_numpy()
        wanted = asked if position is None else position[asked]
        # the very rows the values were computed for (the rule that needed them first)
        if _identity(wanted, values.len()):
            return values
        return values.gather(wanted)

    def strings(self, side: str, expr: pl.Expr, rows: np.ndarray) -> np.ndarray:
        """The values of the given rows as a numpy array of Python strings, for rapidfuzz."""
        return self.string_lookup(side, expr, rows)(rows)

    def string_lookup(self, side: str, expr: pl.Expr, rows: np.ndarray) -> Lookup:
        """A function from row numbers (among `rows`) to their strings, for callers that
        ask many times. Only the values of `rows` become Python strings (about 50 bytes
        each more than polars keeps), and only for as long as the function is kept: a
        partition's, not the whole side's."""
        values, index = self._of_rows(side, expr, rows)
        strings = values.to_numpy()

        def lookup(asked: np.ndarray) -> np.ndarray:
            found: np.ndarray = strings[index(asked)]
            return found

        return lookup

    def position_lookup(
        self, side: str, expr: pl.Expr, rows: np.ndarray
    ) -> tuple[Utf8Column, Lookup] | None:
        """The text values of `rows` as UTF-8 buffers (a copy of their text, kept as long
        as the function is, like `string_lookup`'s strings), and a function from row
        numbers among `rows` to their positions in them; None where a value is null."""
        values, index = self._of_rows(side, expr, rows)
        column = Utf8Column.of(values)
        return None if column is None else (column, index)

    def _of_rows(self, side: str, expr: pl.Expr, rows: np.ndarray) -> tuple[pl.Series, Lookup]:
        """The values of `rows` (each once, in the order computed), and a function from
        row numbers among `rows` to positions in them."""
        position, values = self._prepared(side, expr, pl.Series(rows))
        wanted = np.zeros(values.len(), dtype=bool)
        wanted[rows if position is None else position[rows]] = True
        chosen = np.flatnonzero(wanted)
        # each chosen value's position among them, written where it is (a scatter of the
        # partition's rows, not a running sum over every value: a partition is a fraction)
        index = np.empty(values.len(), dtype=np.int32 if chosen.size < 1 << 31 else np.int64)
        index[chosen] = np.arange(chosen.size, dtype=index.dtype)

        def at(asked: np.ndarray) -> np.ndarray:
            found: np.ndarray = index[asked if position is None else position[asked]]
            return found

        return values.gather(pl.Series(chosen, dtype=pl.UInt32)), at

    def mean_chars(self, side: str, expr: pl.Expr, rows: np.ndarray) -> float:
        """The mean length in characters of the text values computed with the given rows'
        (a superset of them: the rows of the rule that needed the values first)."""
        _, values = self._prepared(side, expr, pl.Series(rows))
        mean = values.str.len_chars().mean()
        return float(mean) if isinstance(mean, int | float) else 0.0

    def _prepared(
        self, side: str, expr: pl.Expr, rows: pl.Series
    ) -> tuple[np.ndarray | None, pl.Series]:
        key = _key(side, expr)
        if key not in self._values:
            self.precompute({side: [expr]}, {side: rows})
        return self._values[key]


def _positions(rows: np.ndarray, height: int) -> np.ndarray | None:
    """Per row number of a side of `height` rows, the position of its value among values
    computed for `rows` (ascending); None when `rows` are every row, as positions then
    are the row numbers. The narrowest integer that holds -1 and every position: half
    the memory of int64 for each value's table."""
    if _identity(rows, height):
        return None
    position = np.full(height, -1, dtype=np.int32 if height < 1 << 31 else np.int64)
    position[rows] = np.arange(rows.size, dtype=position.dtype)
    return position


def _key(side: str, expr: pl.Expr) -> tuple[str, str]:
    return (side, expr.meta.serialize(format="json"))


def _identity(positions: np.ndarray, length: int) -> bool:
    """Whether `positions` is 0, 1, ..., length - 1."""
    if positions.size != length or not length or positions[-1] != length - 1:
        return False
    return bool((positions[1:] > positions[:-1]).all())
