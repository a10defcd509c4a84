"""Issue #3: the `digits` and `nospace` normalize steps, and `equals` with `normalize`
comparing any two column types as text."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from engine.errors import BadInputError
from engine.matching import match, parse_ruleset
from engine.matching.conditions import normalized


def _normalize(values: list[str | None], *steps: str) -> list[str | None]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(normalized(pl.col("v"), steps)).get_column("v").to_list()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("(555) 123-4567", "5551234567"),
        ("+1 555 123 4567", "15551234567"),  # a country code is a digit like any other
        ("INV-007/a", "007"),
        ("\u0663\u0664 and \uff11\uff12", None),  # Arabic-Indic, full-width: dropped
        ("no digits", None),  # an empty result is missing
        ("", None),
        (None, None),
    ],
)
def test_digits_keeps_only_0_to_9(value: str | None, expected: str | None) -> None:
    assert _normalize([value], "digits") == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SW1A 1AA", "SW1A1AA"),
        (" a\tb\nc\u00a0d\u3000e ", "abcde"),  # tabs, newlines, no-break and ideographic spaces
        ("A-B.C", "A-B.C"),  # only whitespace goes
        ("   ", None),
    ],
)
def test_nospace_removes_all_whitespace(value: str, expected: str | None) -> None:
    assert _normalize([value], "nospace") == [expected]


def test_steps_run_in_order() -> None:
    assert _normalize(["Sw1a 1aa"], "nospace", "lower") == ["sw1a1aa"]
    assert _normalize(["ab 12"], "alnum", "nospace") == ["ab12"]


RULES = """
left: {{id: id}}
right: {{id: rid}}
rules:
  - name: r
    when:
      - {{left: {left}, right: {right}, op: equals{extra}}}
"""


def _run(left: pl.DataFrame, right: pl.DataFrame, lcol: str, rcol: str, extra: str) -> list[str]:
    ruleset = parse_ruleset(RULES.format(left=lcol, right=rcol, extra=extra))
    ruleset.check_columns(left.schema, right.schema)
    result = match(left, right, ruleset)
    return [f"{a}={b}" for a, b in result.matches.select("left_id", "right_id").iter_rows()]


def test_equals_with_normalize_matches_text_against_a_number() -> None:
    left = pl.DataFrame({"id": ["a", "b", "c"], "phone": ["555-123-4567", "(555) 000-1111", None]})
    right = pl.DataFrame({"rid": ["x", "y", "z"], "tel": [5551234567, 5550001111, 5559999999]})
    assert _run(left, right, "phone", "tel", ", normalize: [digits]") == ["a=x", "b=y"]


def test_equals_with_normalize_matches_a_date_against_its_text() -> None:
    left = pl.DataFrame({"id": ["a", "b"], "day": [date(2024, 1, 31), date(2024, 2, 1)]})
    right = pl.DataFrame({"rid": ["x", "y"], "text": [" 2024-01-31 ", "01/02/2024"]})
    assert _run(left, right, "day", "text", ", normalize: [trim]") == ["a=x"]


def test_equals_with_normalize_compares_numbers_as_their_text() -> None:
    """With normalize both sides are text: 5 and 5.0 differ, -5 and 5 agree under digits."""
    left = pl.DataFrame({"id": ["a", "b"], "n": [5, -7]})
    right = pl.DataFrame({"rid": ["x", "y"], "f": [5.0, 7.0]})
    assert _run(left, right, "n", "f", ", normalize: [trim]") == []
    right_int = pl.DataFrame({"rid": ["x", "y"], "f": [5, 7]})
    assert _run(left, right_int, "n", "f", ", normalize: [digits]") == ["a=x", "b=y"]
    assert _run(left, right, "n", "f", "") == ["a=x"]  # without normalize: as numbers


def test_equals_without_normalize_still_refuses_mixed_types_with_a_hint() -> None:
    left = pl.DataFrame({"id": ["a"], "phone": ["5551234567"]})
    right = pl.DataFrame({"rid": ["x"], "tel": [5551234567]})
    with pytest.raises(BadInputError) as caught:
        _run(left, right, "phone", "tel", "")
    assert str(caught.value) == (
        "rules[0].when[0]: cannot compare text column 'phone' with number column 'tel'"
        " (add normalize to compare them as text)"
    )


@pytest.mark.parametrize(
    "condition",
    [
        "{left: nothing, right: day, op: equals}",
        "{left: nothing, right: day, op: within_days, days: 2}",
        "{left: nothing, right: n, op: within, tolerance: 1}",
        "{left: nothing, right: n, op: within, tolerance_pct: 1}",
        "{left: nothing, right: name, op: similar, min: 50}",
        "{left: nothing, right: name, op: equals, normalize: [digits]}",
    ],
)
def test_a_column_with_no_value_passes_every_check_and_matches_nothing(condition: str) -> None:
    left = pl.DataFrame({"id": ["a", "b"], "name": ["ann", "bob"]}).with_columns(
        nothing=pl.lit(None)
    )
    right = pl.DataFrame(
        {"rid": ["x", "y"], "name": ["ann", "bob"], "n": [1, 2], "day": [date(2024, 1, 1)] * 2}
    )
    assert left.schema["nothing"] == pl.Null()
    for extra in ("", "\n      - {left: name, right: name, op: equals}"):
        text = (
            "left: {id: id}\nright: {id: rid}\nrules:\n  - name: r\n    when:\n"
            f"      - {condition}{extra}\n"
        )
        ruleset = parse_ruleset(text)
        ruleset.check_columns(left.schema, right.schema)
        assert match(left, right, ruleset).matches.height == 0
