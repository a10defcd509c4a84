"""The distribution matrix: the bank/ledger generator's data reshaped the ways real statements are.

Each distribution starts from `demo.datagen.generate_bank_ledger` (same columns, same kinds
of rows, same ground truth) and changes what real data changes, moving a left row's
partners with it so the truth stays true:

- `uniform`: the generator as it is (a tenth of amounts are round figures).
- `round`: a fifth of all rows carry one of a dozen round amounts (100.00, 75.00, 750.00,
  ...), the most popular repeated tens of thousands of times at 1M rows.
- `month_end`: a third of rows booked on the last two days of a month, with the round
  amounts of `round`.
- `long_text`: descriptions of 60-120 characters, most of their words drawn from one
  small vocabulary shared by every row.
- `popular_refs`: a twentieth of the references replaced by one of twenty popular ones
  (a payroll, a landlord), each on thousands of rows, splits included.
- `non_ascii`: counterparty names in accented Latin, Cyrillic and Greek letters.
- `lopsided`: the ledger padded with unrelated entries to five times the bank's rows.

Deterministic for a seed: the same rows, the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from demo.datagen import GeneratedPair, generate_bank_ledger

ROUND = np.array([100, 75, 750, 50, 20, 250, 500, 1000, 150, 10, 25, 300], dtype=np.float64)
ROUND_SHARE = 0.2
MONTH_END_SHARE = 1 / 3
POPULAR_REFS = 20
POPULAR_SHARE = 0.05
LOPSIDED = 5
VOCABULARY = [
    "payment",
    "transfer",
    "invoice",
    "monthly",
    "service",
    "fee",
    "account",
    "settlement",
    "card",
    "online",
    "purchase",
    "order",
    "subscription",
    "direct",
    "debit",
    "standing",
    "refund",
    "credit",
    "customer",
    "supplier",
    "ref",
    "period",
    "quarter",
    "annual",
    "utilities",
    "rent",
    "office",
    "supplies",
    "travel",
    "expenses",
    "consulting",
    "software",
    "license",
    "support",
    "maintenance",
    "insurance",
    "premium",
    "tax",
    "vat",
    "payroll",
    "salary",
    "bonus",
    "deposit",
]
# accented Latin, Cyrillic and Greek letters for the generator's syllable letters
NON_ASCII = [
    str.maketrans("aeiouklmnrst", "áéíóúķłmñřšť"),
    str.maketrans("aeiouklmnrst", "аеиоуклмнрст"),
    str.maketrans("aeiouklmnrst", "αειουκλμνρστ"),
]


def generate(name: str, rows: int, seed: int = 7) -> GeneratedPair:
    """The `name` distribution at `rows` bank rows."""
    base = generate_bank_ledger(rows, seed=seed)
    return DISTRIBUTIONS[name](base, np.random.default_rng(seed + 1))


def _partners(pair: GeneratedPair) -> pl.DataFrame:
    """Each ledger row's true bank row (null for orphans and decoys)."""
    return pair.right.select("entry_id").join(
        pair.truth.select(pl.col("right_id").alias("entry_id"), pl.col("left_id").alias("lid")),
        on="entry_id",
        how="left",
        maintain_order="left",
    )


def _round_amounts(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of `size` rows take a round amount (ROUND_SHARE of them), and the amounts:
    the dozen figures by popularity 1, 1/2, 1/3, ..."""
    weights = 1 / np.arange(1, ROUND.size + 1)
    return rng.random(size) < ROUND_SHARE, rng.choice(ROUND, size, p=weights / weights.sum())


def _round(pair: GeneratedPair, rng: np.random.Generator) -> GeneratedPair:
    chosen, amounts = _round_amounts(rng, pair.left.height)
    # a split's parts must still sum to its amount: splits keep theirs
    splits = pair.truth.group_by("left_id").len().filter(pl.col("len") > 1).get_column("left_id")
    chosen &= ~pair.left.get_column("txn_id").is_in(splits.implode()).to_numpy()
    new = np.where(chosen, amounts, pair.left.get_column("amount").to_numpy())
    moved = _follow(pair, pair.left.with_columns(pl.Series("amount", new)), "amount", "amount")
    # the ledger's own rows with no partner take round amounts too
    orphan = _partners(moved).get_column("lid").is_null().to_numpy()
    chosen, amounts = _round_amounts(rng, moved.right.height)
    own = np.where(orphan & chosen, amounts, moved.right.get_column("amount").to_numpy())
    return GeneratedPair(moved.left, moved.right.with_columns(pl.Series("amount", own)), pair.truth)


def _follow(
    pair: GeneratedPair, left: pl.DataFrame, column: str, right_column: str
) -> GeneratedPair:
    """`left` replaces the bank side; each partner's `right_column` moves by the same
    difference as its bank row's `column` (a fee or a delay stays what it was)."""
    delta = left.select(
        pl.col("txn_id").alias("lid"),
        (pl.col(column) - pair.left.get_column(column)).alias("__delta"),
    )
    deltas = _partners(pair).join(delta, on="lid", how="left", maintain_order="left")
    change = deltas.get_column("__delta")
    unmoved = pl.lit(change).is_null()
    moved = pl.when(unmoved).then(pl.col(right_column)).otherwise(pl.col(right_column) + change)
    if right_column == "amount":
        moved = moved.round(2)
    return GeneratedPair(left, pair.right.with_columns(moved.alias(right_column)), pair.truth)


def _month_end(pair: GeneratedPair, rng: np.random.Generator) -> GeneratedPair:
    rounded = _round(pair, rng)
    left = rounded.left
    booked = left.get_column("booked")
    chosen = rng.random(left.height) < MONTH_END_SHARE
    last = booked.dt.month_end()
    back = pl.Series(rng.integers(0, 2, left.height)).cast(pl.Int64) * 86_400_000
    end = (last.cast(pl.Datetime("ms")) - pl.Series(back).cast(pl.Duration("ms"))).cast(pl.Date)
    new = pl.Series("booked", np.where(chosen, end.to_numpy(), booked.to_numpy()))
    return _follow(rounded, left.with_columns(new.cast(pl.Date)), "booked", "posted")


def _long_text(pair: GeneratedPair, rng: np.random.Generator) -> GeneratedPair:
    words = np.array(VOCABULARY)
    weights = 1 / np.arange(1, words.size + 1) ** 0.5
    count = 8
    tails = rng.choice(words, size=(pair.left.height, count), p=weights / weights.sum())
    lengths = rng.integers(5, count + 1, pair.left.height)
    tail = pl.Series(
        [" ".join(row[:n]) for row, n in zip(tails.tolist(), lengths.tolist(), strict=True)]
    )
    left = pair.left.with_columns(
        pl.concat_str(pl.col("description"), pl.lit(" "), pl.lit(tail).str.to_uppercase())
    )
    partner_tail = (
        _partners(pair)
        .join(
            pair.left.select(pl.col("txn_id").alias("lid"), pl.lit(tail).alias("__t")),
            on="lid",
            how="left",
            maintain_order="left",
        )
        .get_column("__t")
    )
    own = rng.choice(words, size=(pair.right.height, count), p=weights / weights.sum())
    own_tail = pl.Series([" ".join(row[: 5 + i % 4]) for i, row in enumerate(own.tolist())])
    right = pair.right.with_columns(
        pl.concat_str(pl.col("memo"), pl.lit(" "), pl.lit(partner_tail).fill_null(pl.lit(own_tail)))
    )
    return GeneratedPair(left, right, pair.truth)


def _popular_refs(pair: GeneratedPair, rng: np.random.Generator) -> GeneratedPair:
    popular = np.array([f"RF{90_000_000 + k}" for k in range(POPULAR_REFS)])
    chosen = (rng.random(pair.left.height) < POPULAR_SHARE) & pair.left.get_column(
        "reference"
    ).is_not_null().to_numpy()
    picks = rng.choice(popular, pair.left.height)
    left = pair.left.with_columns(
        pl.when(pl.lit(pl.Series(chosen)))
        .then(pl.lit(pl.Series(picks)))
        .otherwise(pl.col("reference"))
        .alias("reference")
    )
    new = left.select(pl.col("txn_id").alias("lid"), pl.col("reference").alias("__new"))
    changed = pl.col("__new") != pl.col("__old")
    refs = (
        _partners(pair)
        .join(new, on="lid", how="left", maintain_order="left")
        .join(
            pair.left.select(pl.col("txn_id").alias("lid"), pl.col("reference").alias("__old")),
            on="lid",
            how="left",
            maintain_order="left",
        )
        .select(pl.when(changed).then(pl.col("__new")).alias("__ref"))
        .get_column("__ref")
    )
    right = pair.right.with_columns(
        pl.when(pl.lit(refs).is_not_null()).then(pl.lit(refs)).otherwise(pl.col("ref")).alias("ref")
    )
    # ledger orphans with a reference take popular ones as well
    orphan = _partners(pair).get_column("lid").is_null().to_numpy()
    has_ref = right.get_column("ref").is_not_null().to_numpy()
    extra = orphan & has_ref & (rng.random(right.height) < POPULAR_SHARE * 4)
    right = right.with_columns(
        pl.when(pl.lit(pl.Series(extra)))
        .then(pl.lit(pl.Series(rng.choice(popular, right.height))))
        .otherwise(pl.col("ref"))
        .alias("ref")
    )
    return GeneratedPair(left, right, pair.truth)


def _non_ascii(pair: GeneratedPair, rng: np.random.Generator) -> GeneratedPair:
    script = rng.integers(0, len(NON_ASCII) + 1, pair.left.height)
    left = pair.left.with_columns(_translated("description", script))
    per_right = (
        _partners(pair)
        .join(
            pair.left.select(pl.col("txn_id").alias("lid"), pl.Series("__s", script)),
            on="lid",
            how="left",
            maintain_order="left",
        )
        .get_column("__s")
        .fill_null(pl.Series(rng.integers(0, len(NON_ASCII) + 1, pair.right.height)))
    )
    right = pair.right.with_columns(_translated("memo", per_right.to_numpy()))
    return GeneratedPair(left, right, pair.truth)


def _translated(column: str, script: np.ndarray) -> pl.Expr:
    """`column` with its letters in the script each row drew (the last: plain ASCII)."""
    text = pl.col(column)
    result = text
    for number, table in enumerate(NON_ASCII):
        lower = {chr(k): chr(v) for k, v in table.items()}
        upper = {k.upper(): v.upper() for k, v in lower.items()}
        mapped = text.str.replace_many(
            list(lower) + list(upper), list(lower.values()) + list(upper.values())
        )
        result = pl.when(pl.lit(pl.Series(script == number))).then(mapped).otherwise(result)
    return result.alias(column)


def _lopsided(pair: GeneratedPair, rng: np.random.Generator) -> GeneratedPair:
    extra_rows = pair.left.height * (LOPSIDED - 1)
    extra = generate_bank_ledger(extra_rows, seed=int(rng.integers(1 << 30))).right
    extra = extra.head(extra_rows).with_columns(
        pl.format("X{}", pl.int_range(pl.len()) + 10_000_000).alias("entry_id"),
        pl.col("ref").str.replace("^(rf-|RF)", "RX"),
    )
    right = pl.concat([pair.right, extra])
    return GeneratedPair(pair.left, right[rng.permutation(right.height)], pair.truth)


Reshape = Callable[[GeneratedPair, np.random.Generator], GeneratedPair]
DISTRIBUTIONS: dict[str, Reshape] = {
    "uniform": lambda pair, _: pair,
    "round": _round,
    "month_end": _month_end,
    "long_text": _long_text,
    "popular_refs": _popular_refs,
    "non_ascii": _non_ascii,
    "lopsided": _lopsided,
}
