"""The ruleset: a pydantic model of the format in docs/matching.md, parsed from YAML or JSON.

Every error is one line naming the bad field, e.g. `rules[2].when[1].op: unknown op 'near'`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

import polars as pl
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.errors import BadInputError
from engine.matching.errors import describe_validation_error

# The similarity scorers a rule may name; similarity.py maps each to its rapidfuzz function.
Scorer = Literal[
    "ratio",
    "partial_ratio",
    "token_sort_ratio",
    "token_set_ratio",
    "WRatio",
    "QRatio",
    "jaro_winkler",
]
SCORERS: tuple[str, ...] = get_args(Scorer)
Normalizer = Literal["lower", "trim", "alnum", "digits", "nospace"]
MAX_GROUP_SIZE = 4
# how far below a decision's base its runner-up must be for the decision to be matched
DEFAULT_MARGIN = 0.1
# how far below a decision's similarity the best near miss of its rows must be for the
# decision to be matched automatically (a score 0-1; 0 turns near misses off)
DEFAULT_NEAR_MARGIN = 0.07
MAX_GROUP_CANDIDATES = 16


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Side(_Model):
    id: str = Field(min_length=1)


class _Condition(_Model):
    left: str = Field(min_length=1)
    right: str = Field(min_length=1)


class Equals(_Condition):
    op: Literal["equals"]
    normalize: tuple[Normalizer, ...] = ()


class Within(_Condition):
    op: Literal["within"]
    tolerance: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    tolerance_pct: float | None = Field(default=None, ge=0, lt=100, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_tolerance(self) -> Within:
        if (self.tolerance is None) == (self.tolerance_pct is None):
            raise ValueError("give exactly one of 'tolerance' or 'tolerance_pct'")
        return self


class WithinDays(_Condition):
    op: Literal["within_days"]
    days: float = Field(ge=0, allow_inf_nan=False)


class Similar(_Condition):
    op: Literal["similar"]
    scorer: Scorer = "token_set_ratio"
    min: float = Field(ge=0, le=100, allow_inf_nan=False)
    normalize: tuple[Normalizer, ...] = ()


Condition = Annotated[Equals | Within | WithinDays | Similar, Field(discriminator="op")]
EXACT_OPS = ("equals",)


class SumSpec(_Model):
    left: str = Field(min_length=1)
    right: str = Field(min_length=1)
    tolerance: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    max_group_size: int = Field(default=3, ge=2, le=MAX_GROUP_SIZE)
    max_candidates: int = Field(default=10, ge=2, le=MAX_GROUP_CANDIDATES)


class Rule(_Model):
    name: str = Field(min_length=1)
    kind: Literal["one_to_one", "many_to_one"] = "one_to_one"
    when: tuple[Condition, ...] = ()
    accept_at: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    margin: float = Field(default=DEFAULT_MARGIN, ge=0, le=1, allow_inf_nan=False)
    near_margin: float = Field(default=DEFAULT_NEAR_MARGIN, ge=0, le=1, allow_inf_nan=False)
    sum: SumSpec | None = None

    @field_validator("when", mode="before")
    @classmethod
    def _when_null(cls, when: object) -> object:
        # `when:` with nothing after it is null in YAML: the same as an empty list
        return () if when is None else when

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if self.kind == "many_to_one" and self.sum is None:
            raise ValueError("a many_to_one rule needs 'sum'")
        if self.kind == "one_to_one" and self.sum is not None:
            raise ValueError("'sum' is only for kind many_to_one")
        if self.kind == "one_to_one" and not self.when:
            raise ValueError("'when' needs at least one condition")
        return self


class Ruleset(_Model):
    left: Side
    right: Side
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"duplicate rule name {rule.name!r}")
            seen.add(rule.name)
        return rules

    def columns(self, side: Literal["left", "right"]) -> list[str]:
        """Every column of one side the ruleset reads: the id first, then in rule order."""
        names = [self.left.id if side == "left" else self.right.id]
        for rule in self.rules:
            names += [getattr(cond, side) for cond in rule.when]
            if rule.sum is not None:
                names.append(getattr(rule.sum, side))
        return list(dict.fromkeys(names))

    def check_columns(self, left: pl.Schema, right: pl.Schema) -> None:
        """Raise BadInputError if a column is missing or its type does not suit its op."""
        from engine.matching.columns import check_ruleset_columns  # noqa: PLC0415

        check_ruleset_columns(self, left, right)


def parse_ruleset(text: str) -> Ruleset:
    """Parse YAML or JSON text into a Ruleset; raise BadInputError naming the bad field."""
    data = _load(text)
    if not isinstance(data, dict):
        raise BadInputError("ruleset: expected a mapping with 'left', 'right' and 'rules'")
    return ruleset_from_dict(data)


def ruleset_from_dict(data: dict[str, Any]) -> Ruleset:
    try:
        return Ruleset.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(describe_validation_error(exc)) from None


def _load(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise BadInputError(f"ruleset: cannot parse{where}: {problem}") from None
