"""Checking a ruleset against the columns and types of its two inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from engine.errors import BadInputError

if TYPE_CHECKING:
    from engine.matching.ruleset import Ruleset

NUMERIC = "number"
TEXT = "text"
TEMPORAL = "date"
BOOLEAN = "boolean"
ANY = "any"

_ACCEPTS: dict[str, frozenset[str]] = {
    "equals": frozenset({NUMERIC, TEXT, TEMPORAL, BOOLEAN}),
    "within": frozenset({NUMERIC}),
    "within_days": frozenset({TEMPORAL}),
    "similar": frozenset({TEXT, NUMERIC, TEMPORAL, BOOLEAN}),
    "sum": frozenset({NUMERIC}),
}


def type_class(dtype: pl.DataType) -> str:
    """The family a column's type belongs to, for checking conditions."""
    if dtype == pl.Null:
        return ANY
    if dtype.is_numeric():
        return NUMERIC
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return TEXT
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return TEMPORAL
    if dtype == pl.Boolean:
        return BOOLEAN
    return str(dtype)


def check_ruleset_columns(ruleset: Ruleset, left: pl.Schema, right: pl.Schema) -> None:
    """Raise BadInputError naming the field whose column is missing or of the wrong type."""
    _need(left, ruleset.left.id, "left.id", "left")
    _need(right, ruleset.right.id, "right.id", "right")
    for r, rule in enumerate(ruleset.rules):
        for c, cond in enumerate(rule.when):
            field = f"rules[{r}].when[{c}]"
            as_text = cond.op == "equals" and bool(cond.normalize)
            _check_pair(left, right, cond.left, cond.right, cond.op, field, as_text=as_text)
        if rule.sum is not None:
            spec = rule.sum
            _check_pair(left, right, spec.left, spec.right, "sum", f"rules[{r}].sum")


def _check_pair(
    left: pl.Schema,
    right: pl.Schema,
    lcol: str,
    rcol: str,
    op: str,
    field: str,
    *,
    as_text: bool = False,
) -> None:
    """`as_text`: an `equals` with `normalize`, which compares any two types as text."""
    lclass = type_class(_need(left, lcol, f"{field}.left", "left"))
    rclass = type_class(_need(right, rcol, f"{field}.right", "right"))
    accepts = _ACCEPTS[op]
    for side, col, cls in (("left", lcol, lclass), ("right", rcol, rclass)):
        if cls not in accepts and cls != ANY:
            wanted = " or ".join(sorted(accepts))
            raise BadInputError(f"{field}.{side}: column {col!r} is {cls}, but {op} needs {wanted}")
    if op == "equals" and not as_text and ANY not in {lclass, rclass} and lclass != rclass:
        raise BadInputError(
            f"{field}: cannot compare {lclass} column {lcol!r} with {rclass} column {rcol!r}"
            " (add normalize to compare them as text)"
        )


def _need(schema: pl.Schema, column: str, field: str, side: str) -> pl.DataType:
    if column not in schema:
        names = ", ".join(schema.names())
        raise BadInputError(
            f"{field}: unknown column {column!r} in {side} input (columns: {names})"
        )
    return schema[column]
