"""The ruleset contract: what parses, and the one-line errors for what does not."""

from __future__ import annotations

import json

import polars as pl
import pytest

from demo.datagen import bank_ledger_rules, generate_bank_ledger
from engine.errors import BadInputError
from engine.matching.ruleset import Ruleset, parse_ruleset

CONTRACT_EXAMPLE = """
left:  {id: txn_id}            # id column of each side (any column name)
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
      - {left: amount, right: amount, op: equals}
  - name: amount-and-date
    when:
      - {left: amount, right: amount, op: equals}
      - {left: booked, right: posted, op: within_days, days: 3}
  - name: fuzzy-description
    when:
      - {left: amount, right: amount, op: within, tolerance: 0.05}     # or tolerance_pct: 0.5
      - {left: booked, right: posted, op: within_days, days: 5}
      - {left: description, right: memo, op: similar, scorer: token_set_ratio, min: 80}
    accept_at: 0.9        # confidence >= accept_at: matched; below: suggested for review
  - name: split-payments
    kind: many_to_one     # several right rows sum to one left row
    when:
      - {left: reference, right: ref, op: equals}
    sum: {left: amount, right: amount, tolerance: 0.01}
"""

LEFT = pl.Schema(
    {
        "txn_id": pl.Int64(),
        "reference": pl.String(),
        "amount": pl.Float64(),
        "booked": pl.Date(),
        "description": pl.String(),
    }
)
RIGHT = pl.Schema(
    {
        "entry_id": pl.String(),
        "ref": pl.String(),
        "amount": pl.Float64(),
        "posted": pl.Datetime("us"),
        "memo": pl.String(),
    }
)


def rules_with(condition: str, extra: str = "") -> str:
    return (
        "left: {id: txn_id}\nright: {id: entry_id}\nrules:\n"
        "  - name: a\n    when:\n      - {left: amount, right: amount, op: equals}\n"
        f"  - name: b\n    when:\n      - {condition}\n{extra}"
    )


def test_the_contract_example_parses() -> None:
    ruleset = parse_ruleset(CONTRACT_EXAMPLE)
    assert [rule.name for rule in ruleset.rules] == [
        "exact-reference",
        "amount-and-date",
        "fuzzy-description",
        "split-payments",
    ]
    assert ruleset.rules[2].accept_at == 0.9
    assert ruleset.rules[3].kind == "many_to_one"
    ruleset.check_columns(LEFT, RIGHT)


def test_json_and_the_canonical_dump_round_trip() -> None:
    ruleset = parse_ruleset(CONTRACT_EXAMPLE)
    dumped = ruleset.model_dump(mode="json")
    assert parse_ruleset(json.dumps(dumped)) == ruleset
    assert parse_ruleset(json.dumps(dumped)).model_dump(mode="json") == dumped


def test_the_shipped_bank_ledger_ruleset_parses_and_fits_the_generator() -> None:
    ruleset = parse_ruleset(bank_ledger_rules())
    pair = generate_bank_ledger(50, seed=1)
    ruleset.check_columns(pair.left.schema, pair.right.schema)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "{left: amount, right: amount, op: near}",
            "rules[1].when[0].op: unknown op 'near'",
        ),
        ("{left: amount, right: amount}", "rules[1].when[0].op: required"),
        (
            "{left: memo, right: memo, op: similar, min: 101}",
            "rules[1].when[0].min: Input should be less than or equal to 100",
        ),
        (
            "{left: memo, right: memo, op: similar, min: 80, scorer: cosine}",
            "rules[1].when[0].scorer: Input should be",
        ),
        (
            "{left: amount, right: amount, op: within}",
            "rules[1].when[0]: give exactly one of 'tolerance' or 'tolerance_pct'",
        ),
        (
            "{left: amount, right: amount, op: within, tolerance: 1, tolerance_pct: 2}",
            "rules[1].when[0]: give exactly one of 'tolerance' or 'tolerance_pct'",
        ),
        (
            "{left: amount, right: amount, op: within, tolerance: -1}",
            "rules[1].when[0].tolerance: Input should be greater than or equal to 0",
        ),
        ("{left: a, right: b, op: within_days}", "rules[1].when[0].days: required"),
        ("{left: a, right: b, op: equals, fuzzy: 1}", "rules[1].when[0].fuzzy: unknown field"),
        (
            "{left: a, right: b, op: equals, normalize: [upper]}",
            (
                "rules[1].when[0].normalize[0]: Input should be 'lower', 'trim', 'alnum',"
                " 'digits' or 'nospace', got 'upper'"
            ),
        ),
        (
            "{left: a, right: b, op: equals, normalize: lower}",
            "rules[1].when[0].normalize: expected a list, got 'lower'",
        ),
        (
            "{left: a, right: b, op: equals, normalize: null}",
            "rules[1].when[0].normalize: expected a list, got null (nothing)",
        ),
    ],
)
def test_a_bad_condition_names_its_field(condition: str, message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_ruleset(rules_with(condition))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: []\nleft: {id: a}\nright: {id: b}", "rules: Tuple should have at least 1 item"),
        ("left: {id: a}\nrules: []", "right: required"),
        ("[1, 2]", "ruleset: expected a mapping"),
        ("left: {id: a\n", "ruleset: cannot parse at line"),
        (
            rules_with("{left: a, right: b, op: equals}", "    accept_at: 2\n"),
            "rules[1].accept_at: Input should be less than or equal to 1",
        ),
        (
            rules_with("{left: a, right: b, op: equals}", "    near_margin: -0.1\n"),
            "rules[1].near_margin: Input should be greater than or equal to 0",
        ),
        (
            rules_with("{left: a, right: b, op: equals}", "    kind: many_to_one\n"),
            "rules[1]: a many_to_one rule needs 'sum'",
        ),
        (
            rules_with("{left: a, right: b, op: equals}", "    kind: sideways\n"),
            "rules[1].kind: Input should be 'one_to_one' or 'many_to_one'",
        ),
        (
            rules_with("{left: a, right: b, op: equals}").replace("name: b", "name: a"),
            "rules: duplicate rule name 'a'",
        ),
        (
            "left: {id: a}\nright: {id: b}\nrules:\n  - name: x\n    when: []",
            "rules[0]: 'when' needs at least one condition",
        ),
        # issue #3: `when:` with nothing after it (null) reads like an empty list
        (
            "left: {id: a}\nright: {id: b}\nrules:\n  - name: x\n    when:\n",
            "rules[0]: 'when' needs at least one condition",
        ),
        (
            "left: {id: a}\nright: {id: b}\nrules:\n  - name: x\n    when: {left: a, right: b}",
            "rules[0].when: expected a list, got a mapping",
        ),
        ("left: {id: a}\nright: {id: b}\nrules:\n", "rules: expected a list, got null"),
        ("left:\nright: {id: b}\nrules: []", "left: expected a mapping, got null"),
    ],
)
def test_a_bad_ruleset_names_its_field(text: str, message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_ruleset(text)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "{left: refrence, right: ref, op: equals}",
            "rules[1].when[0].left: unknown column 'refrence' in left input (columns: txn_id,",
        ),
        (
            "{left: reference, right: reff, op: equals}",
            "rules[1].when[0].right: unknown column 'reff' in right input",
        ),
        (
            "{left: description, right: amount, op: within, tolerance: 1}",
            "rules[1].when[0].left: column 'description' is text, but within needs number",
        ),
        (
            "{left: amount, right: memo, op: within_days, days: 1}",
            "rules[1].when[0].left: column 'amount' is number, but within_days needs date",
        ),
        (
            "{left: amount, right: memo, op: equals}",
            (
                "rules[1].when[0]: cannot compare number column 'amount' with text column"
                " 'memo' (add normalize to compare them as text)"
            ),
        ),
    ],
)
def test_check_columns_names_the_field(condition: str, message: str) -> None:
    ruleset = parse_ruleset(rules_with(condition))
    with pytest.raises(BadInputError) as caught:
        ruleset.check_columns(LEFT, RIGHT)
    assert str(caught.value).startswith(message)


def test_check_columns_checks_the_id_and_sum_columns() -> None:
    ruleset = parse_ruleset(CONTRACT_EXAMPLE)
    with pytest.raises(BadInputError, match=r"^left\.id: unknown column 'txn_id'"):
        ruleset.check_columns(pl.Schema({"id": pl.Int64()}), RIGHT)
    no_amount = pl.Schema({k: v for k, v in RIGHT.items() if k != "amount"})
    with pytest.raises(BadInputError, match=r"^rules\[0\]\.when\[1\]\.right: unknown column"):
        ruleset.check_columns(LEFT, no_amount)


def test_defaults_are_documented_values() -> None:
    ruleset = Ruleset.model_validate(
        {
            "left": {"id": "a"},
            "right": {"id": "b"},
            "rules": [
                {
                    "name": "s",
                    "kind": "many_to_one",
                    "when": [{"left": "k", "right": "k", "op": "equals"}],
                    "sum": {"left": "x", "right": "y"},
                }
            ],
        }
    )
    rule = ruleset.rules[0]
    assert (rule.accept_at, rule.margin, rule.near_margin) == (0.5, 0.1, 0.07)
    assert rule.sum is not None
    assert (rule.sum.tolerance, rule.sum.max_group_size, rule.sum.max_candidates) == (0, 3, 10)


def test_a_many_to_one_rule_may_leave_when_empty() -> None:
    text = (
        "left: {id: a}\nright: {id: b}\nrules:\n  - name: s\n    kind: many_to_one\n"
        "    when:\n    sum: {left: x, right: y}\n"
    )
    assert parse_ruleset(text).rules[0].when == ()


def test_the_new_normalize_steps_parse() -> None:
    ruleset = parse_ruleset(
        rules_with("{left: a, right: b, op: equals, normalize: [nospace, lower, digits]}")
    )
    assert ruleset.rules[1].when[0].normalize == ("nospace", "lower", "digits")  # type: ignore[union-attr]


def test_equals_with_normalize_compares_any_two_types() -> None:
    """Issue #3: with `normalize`, `equals` compares text, so number and text (or date) mix."""
    for condition in (
        "{left: amount, right: memo, op: equals, normalize: [digits]}",
        "{left: booked, right: memo, op: equals, normalize: [trim]}",
        "{left: amount, right: posted, op: equals, normalize: [alnum]}",
    ):
        parse_ruleset(rules_with(condition)).check_columns(LEFT, RIGHT)


def test_an_empty_column_suits_every_condition() -> None:
    """Issue #3: a CSV column with no value at all is read as dtype Null."""
    left = pl.Schema({**LEFT, "amount": pl.Null(), "booked": pl.Null(), "description": pl.Null()})
    parse_ruleset(CONTRACT_EXAMPLE).check_columns(left, RIGHT)
