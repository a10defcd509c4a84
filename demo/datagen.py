"""A bank statement and a ledger that should reconcile, with the ground truth.

Deterministic given a seed, vectorized (numpy + polars): a million rows a side take
seconds. Left (bank): txn_id, booked, amount, reference, description. Right (ledger):
entry_id, posted, amount, ref, memo. Kinds of left rows, by share:

- exact: same reference (formatted differently), same amount, posted 0-2 days later
- shifted: no reference, same amount, posted 1-3 days later, same counterparty
- fuzzy: no reference, amount off by a fee of 0-5 cents, 0-5 days, memo with typos
- split: one bank row paid as 2-3 ledger rows that share its reference
- orphan: no partner; the ledger has orphans of its own, and decoys: entries with the
  amount of a shifted or fuzzy bank row, a date within 3 days and another counterparty.

A tenth of amounts are popular round figures (10, 20, 50, 100, 200, 500, 1000).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

KINDS = ("exact", "shifted", "fuzzy", "split", "orphan")
SHARES = (0.52, 0.15, 0.12, 0.07, 0.14)
DECOY_SHARE = 0.03
RIGHT_ORPHAN_SHARE = 0.04
ROUND_AMOUNTS = np.array([10, 20, 50, 100, 200, 500, 1000], dtype=np.int64) * 100
START = dt.date(2024, 1, 1)
SYLLABLES = np.array(
    [
        "ka",
        "lo",
        "mi",
        "ra",
        "ne",
        "to",
        "vu",
        "sa",
        "pe",
        "di",
        "bo",
        "an",
        "el",
        "or",
        "us",
        "in",
        "et",
        "ar",
        "ix",
        "um",
        "zen",
        "tek",
        "cor",
        "lab",
        "fin",
    ]
)
SUFFIXES = np.array(["LTD", "GMBH", "INC", "BV", "SA", "LLC", "PLC", "AG"])
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
COUNTERPARTIES = 5_000
BANK_LEDGER_RULES = Path(__file__).parent / "rulesets" / "bank_ledger.yaml"
HALF = 0.5


@dataclass(frozen=True)
class GeneratedPair:
    """The two sides and the truth: one row per true (left_id, right_id) pair."""

    left: pl.DataFrame
    right: pl.DataFrame
    truth: pl.DataFrame

    def write_csv(self, directory: Path) -> tuple[Path, Path]:
        """Write left.csv, right.csv and truth.csv into `directory`; return the first two."""
        directory.mkdir(parents=True, exist_ok=True)
        left, right = directory / "left.csv", directory / "right.csv"
        self.left.write_csv(left)
        self.right.write_csv(right)
        self.truth.write_csv(directory / "truth.csv")
        return left, right


def bank_ledger_rules() -> str:
    """The default ruleset (YAML) for the generator's columns: `tieout demo` and the bench."""
    return BANK_LEDGER_RULES.read_text(encoding="utf-8")


def generate_bank_ledger(rows: int, seed: int = 7) -> GeneratedPair:
    """`rows` bank rows and about as many ledger rows, with the true pairs."""
    rng = np.random.default_rng(seed)
    names = _counterparties(rng)
    bank = _bank(rng, rows, names)
    parts = [
        _ledger_pairs(rng, bank),
        _ledger_splits(rng, bank),
        _decoys(rng, bank, names),
    ]
    parts.append(_ledger_orphans(rng, rows - sum(p.height for p in parts), rows, names))
    ledger = pl.concat(parts, how="vertical_relaxed")
    ledger = ledger[rng.permutation(ledger.height)].with_columns(
        pl.format("E{}", pl.int_range(pl.len()) + 10_000_000).alias("entry_id")
    )
    truth = ledger.filter(pl.col("truth").is_not_null()).select(
        pl.col("truth").alias("left_id"),
        pl.col("entry_id").alias("right_id"),
        pl.col("truth").alias("group_id"),
        "kind",
    )
    left = bank.select("txn_id", "booked", "amount", "reference", "description")
    right = ledger.select("entry_id", "posted", "amount", "ref", "memo")
    return GeneratedPair(
        left[rng.permutation(left.height)], right, truth.sort("left_id", "right_id")
    )


def _counterparties(rng: np.random.Generator) -> pl.Series:
    first = rng.choice(SYLLABLES, size=(COUNTERPARTIES, 3))
    second = rng.choice(SYLLABLES, size=(COUNTERPARTIES, 2))
    frame = pl.DataFrame(
        {
            "a": first[:, 0],
            "b": first[:, 1],
            "c": first[:, 2],
            "d": second[:, 0],
            "e": second[:, 1],
            "f": rng.choice(SUFFIXES, size=COUNTERPARTIES),
        }
    )
    name = pl.concat_str("a", "b", "c", pl.lit(" "), "d", "e", pl.lit(" "), "f")
    return frame.select(name.str.to_uppercase()).to_series()


def _amount_cents(rng: np.random.Generator, size: int) -> np.ndarray:
    cents = np.round(rng.lognormal(mean=9.0, sigma=1.3, size=size)).astype(np.int64) + 100
    popular = rng.random(size) < 0.1  # noqa: PLR2004 - a tenth are round figures
    cents[popular] = rng.choice(ROUND_AMOUNTS, size=int(popular.sum()))
    return cents


def _bank(rng: np.random.Generator, rows: int, names: pl.Series) -> pl.DataFrame:
    kind = np.array(KINDS)[rng.choice(len(KINDS), size=rows, p=SHARES)]
    has_ref = np.isin(kind, ["exact", "split"]) | ((kind == "orphan") & (rng.random(rows) < HALF))
    frame = pl.DataFrame(
        {
            "txn_id": pl.Series(rng.permutation(rows) + 10_000_000).cast(pl.String),
            "kind": kind,
            "day": rng.integers(0, 365, size=rows),
            "cents": _amount_cents(rng, rows),
            "party": names.gather(rng.integers(0, COUNTERPARTIES, size=rows)),
            "invoice": rng.integers(10_000, 1_000_000, size=rows),
            "refno": rng.permutation(rows) + 20_000_000,
            "has_ref": has_ref,
        }
    )
    return frame.with_columns(
        pl.format("T{}", "txn_id").alias("txn_id"),
        _date("day").alias("booked"),
        (pl.col("cents") / 100).round(2).alias("amount"),
        pl.when("has_ref").then(pl.format("RF{}", "refno")).alias("reference"),
        pl.format("PAYMENT {} INV {}", "party", "invoice").alias("description"),
    )


def _date(days: str | pl.Expr) -> pl.Expr:
    start = (START - dt.date(1970, 1, 1)).days
    column = pl.col(days) if isinstance(days, str) else days
    return (column + start).cast(pl.Int32).cast(pl.Date)


def _memo(party: pl.Expr, invoice: pl.Expr) -> pl.Expr:
    return pl.format("{} invoice {}", party.str.to_titlecase(), invoice)


def _ledger_ref(rng: np.random.Generator, size: int) -> pl.Expr:
    """The bank reference as the ledger writes it: as is, or lower case with a dash."""
    plain = pl.lit(pl.Series(rng.random(size) < 0.7))  # noqa: PLR2004
    dashed = pl.format("rf-{}", pl.col("refno"))
    return pl.when(pl.col("has_ref") & plain).then(pl.col("reference")).when("has_ref").then(dashed)


def _ledger_pairs(rng: np.random.Generator, bank: pl.DataFrame) -> pl.DataFrame:
    pairs = bank.filter(pl.col("kind").is_in(["exact", "shifted", "fuzzy"]))
    size = pairs.height
    shift = np.where(
        pairs["kind"] == "exact",
        rng.integers(0, 3, size),
        np.where(pairs["kind"] == "shifted", rng.integers(1, 4, size), rng.integers(0, 6, size)),
    )
    fee = np.where(pairs["kind"] == "fuzzy", rng.integers(0, 6, size), 0)
    memo = _memo(pl.col("party"), pl.col("invoice"))
    fuzzy = pl.col("kind") == "fuzzy"
    return pairs.select(
        pl.col("txn_id").alias("truth"),
        "kind",
        _date(pl.col("day") + pl.lit(pl.Series(shift))).alias("posted"),
        ((pl.col("cents") - pl.lit(pl.Series(fee))) / 100).round(2).alias("amount"),
        _ledger_ref(rng, size).alias("ref"),
        pl.when(fuzzy).then(_typos(rng, memo, size)).otherwise(memo).alias("memo"),
    )


def _typos(rng: np.random.Generator, text: pl.Expr, size: int) -> pl.Expr:
    """One or two characters of the counterparty name replaced or dropped."""
    for _ in range(2):
        where = pl.lit(pl.Series(rng.integers(0, 8, size)))
        letter = pl.lit(pl.Series(rng.choice(LETTERS, size)))
        drop = pl.lit(pl.Series(rng.random(size) < 0.3))  # noqa: PLR2004
        insert = pl.when(drop).then(pl.lit("")).otherwise(letter)
        text = pl.concat_str(text.str.slice(0, where), insert, text.str.slice(where + 1))
    return text


def _ledger_splits(rng: np.random.Generator, bank: pl.DataFrame) -> pl.DataFrame:
    splits = bank.filter(pl.col("kind") == "split")
    pieces = rng.integers(2, 4, splits.height)
    rows = splits[np.repeat(np.arange(splits.height), pieces)]
    weight = rng.random(rows.height) + 0.3
    rows = rows.with_columns(pl.Series("w", weight)).with_columns(
        (pl.col("w") / pl.col("w").sum().over("txn_id")).alias("w"),
        pl.int_range(pl.len()).over("txn_id").alias("piece"),
    )
    part = (pl.col("w") * pl.col("cents")).floor().cast(pl.Int64)
    last = pl.col("piece") == pl.col("piece").max().over("txn_id")
    cents = pl.when(last).then(pl.col("cents") - part.sum().over("txn_id") + part).otherwise(part)
    return rows.select(
        pl.col("txn_id").alias("truth"),
        "kind",
        _date(pl.col("day") + pl.lit(pl.Series(rng.integers(0, 4, rows.height)))).alias("posted"),
        (cents / 100).round(2).alias("amount"),
        _ledger_ref(rng, rows.height).alias("ref"),
        pl.format("{} part {}", _memo(pl.col("party"), pl.col("invoice")), "piece").alias("memo"),
    )


def _decoys(rng: np.random.Generator, bank: pl.DataFrame, names: pl.Series) -> pl.DataFrame:
    """Entries with the amount of a bank row, a near date and another counterparty."""
    pool = bank.filter(pl.col("kind").is_in(["shifted", "fuzzy"]))
    size = min(pool.height, int(bank.height * DECOY_SHARE))
    chosen = pool[rng.choice(pool.height, size, replace=False)] if size else pool.clear()
    shift = rng.integers(-3, 4, chosen.height)
    party = names.gather(rng.integers(0, COUNTERPARTIES, chosen.height))
    return chosen.select(
        pl.lit(None, pl.String).alias("truth"),
        pl.lit("decoy").alias("kind"),
        _date(pl.col("day") + pl.lit(pl.Series(shift))).alias("posted"),
        "amount",
        pl.lit(None, pl.String).alias("ref"),
        _memo(
            pl.lit(party), pl.lit(pl.Series(rng.integers(10_000, 1_000_000, chosen.height)))
        ).alias("memo"),
    )


def _ledger_orphans(
    rng: np.random.Generator, wanted: int, rows: int, names: pl.Series
) -> pl.DataFrame:
    size = max(wanted, int(rows * RIGHT_ORPHAN_SHARE))
    with_ref = rng.random(size) < HALF
    refno = rng.permutation(size) + 40_000_000
    return pl.DataFrame(
        {
            "truth": pl.Series([None] * size, dtype=pl.String),
            "kind": ["orphan"] * size,
            "day": rng.integers(0, 365, size),
            "cents": _amount_cents(rng, size),
            "party": names.gather(rng.integers(0, COUNTERPARTIES, size)),
            "invoice": rng.integers(10_000, 1_000_000, size),
            "with_ref": with_ref,
            "refno": refno,
        }
    ).select(
        "truth",
        "kind",
        _date("day").alias("posted"),
        (pl.col("cents") / 100).round(2).alias("amount"),
        pl.when("with_ref").then(pl.format("RF{}", "refno")).alias("ref"),
        _memo(pl.col("party"), pl.col("invoice")).alias("memo"),
    )
