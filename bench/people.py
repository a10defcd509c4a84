"""A CRM export and a billing system's accounts that describe the same customers, with truth.

Deterministic given a seed, vectorized (numpy + polars): a million rows a side take seconds.

Left (CRM): customer_id (integer), full_name, birth_date (date, sometimes null), postcode,
phone (text, often null), member_no (integer, often null), city.
Right (billing): account_id (text), name, dob, zip, tel, membership, town.

Kinds of left rows, by share:

- exact: the same person on the right, names identical; phone and postcode written the
  billing way (`(555)123-4567`, lower-case postcode), each side's phone and member number
  null independently
- variant: the name changed on the right: case, one typo (replace, drop or swap two
  letters), first name cut to an initial, last name first (`Smith, John`), a middle
  initial, a title, extra spaces
- nodob: a variant whose right row has no birth date
- moved: a variant with another postcode on the right
- orphan: no partner

Left rows also include twins (2% of people: a sibling with the same last name, birth
date, postcode and home phone) and namesakes (1%: `John Smith` in one of 20 postcodes).
The right side has orphans of its own and decoys: a sibling of a left person (same last
name, birth date and postcode, another first name), a namesake in the same postcode with
another birth date, or the same birth date and a one-letter-off name elsewhere. A few
right rows (0.2%) carry another person's member number (bad data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

KINDS = ("exact", "variant", "nodob", "moved", "orphan")
SHARES = (0.40, 0.36, 0.04, 0.04, 0.16)
TWIN_SHARE = 0.02
NAMESAKE_SHARE = 0.01
RIGHT_ORPHAN_SHARE = 0.12
DECOY_SHARE = 0.04
BAD_MEMBER_SHARE = 0.002
LEFT_NULL = {"phone": 0.4, "member": 0.5, "dob": 0.01}
RIGHT_NULL = {"phone": 0.4, "member": 0.3}
BIRTH_START = dt.date(1940, 1, 1)
BIRTH_DAYS = 365 * 65
FIRST = (  # split in _name_pools
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher "
    "Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George "
    "Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry "
    "Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis "
    "Jerry Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Mary Patricia "
    "Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret "
    "Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah "
    "Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela "
    "Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine "
    "Maria Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina "
    "Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara "
    "Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris "
    "Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla "
    "Alexis Lori José Zoë Renée Björn Søren Chloé Jürgen François Ågot Siobhán"
)
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts O'Brien McDonald Müller Østergaard Núñez D'Angelo Van-der-Berg"
)
SYLLABLES = (
    "ka lo mi ra ne to vu sa pe di bo an el or us in et ar ix um ber son ham ley ton wick ford man"
)
TITLES = np.array(["Mr", "Mrs", "Ms", "Dr"])
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
GENERATED_LAST = 20_000


@dataclass(frozen=True)
class People:
    """The two sides and the truth: one row per true (left_id, right_id) pair."""

    left: pl.DataFrame
    right: pl.DataFrame
    truth: pl.DataFrame

    def write_csv(self, directory: Path) -> None:
        """Write left.csv, right.csv and truth.csv into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        self.left.write_csv(directory / "left.csv")
        self.right.write_csv(directory / "right.csv")
        self.truth.write_csv(directory / "truth.csv")


def generate_people(rows: int, seed: int = 11) -> People:
    """`rows` CRM customers and about as many billing accounts, with the true pairs."""
    rng = np.random.default_rng(seed)
    names = _name_pools(rng)
    persons = _persons(rng, rows, names)
    persons = _twins_and_namesakes(rng, persons)
    left = _left(rng, persons)
    right = pl.concat(
        [_partners(rng, persons), _orphans(rng, rows, names), _decoys(rng, persons, names)],
        how="vertical_relaxed",
    )
    right = _bad_members(rng, right)
    right = right[rng.permutation(right.height)].with_columns(
        pl.format("AC{}", (pl.int_range(pl.len()) + 10_000_000)).alias("account_id")
    )
    truth = right.filter(pl.col("truth").is_not_null()).select(
        pl.col("truth").alias("left_id"), pl.col("account_id").alias("right_id"), "kind"
    )
    return People(
        left[rng.permutation(left.height)],
        right.select("account_id", "name", "dob", "zip", "tel", "membership", "town"),
        truth.sort("left_id", "right_id"),
    )


def _name_pools(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """First names, and last names: the common ones, then generated rarer ones."""
    parts = rng.choice(np.array(SYLLABLES.split()), size=(GENERATED_LAST, 3))
    generated = np.char.capitalize(
        np.char.add(np.char.add(parts[:, 0], parts[:, 1]), parts[:, 2]).astype(str)
    )
    return np.array(FIRST.split()), np.concatenate([np.array(LAST.split()), np.unique(generated)])


def _zipf(rng: np.random.Generator, pool: np.ndarray, size: int, offset: float) -> np.ndarray:
    weights = 1.0 / (np.arange(len(pool)) + offset)
    return rng.choice(pool, size=size, p=weights / weights.sum())


def _postcodes(rng: np.random.Generator, size: int, pool: int) -> np.ndarray:
    letters = np.array(list("ABCDEFGHJKLMNPRSTUWXYZ"))
    codes = np.char.add(
        np.char.add(rng.choice(letters, pool), rng.choice(letters, pool)),
        rng.integers(1, 30, pool).astype(str),
    )
    tail = np.char.add(
        rng.integers(1, 10, pool).astype(str),
        np.char.add(rng.choice(letters, pool), rng.choice(letters, pool)),
    )
    codes = np.char.add(np.char.add(codes, " "), tail)
    return codes[rng.integers(0, pool, size)]


def _persons(
    rng: np.random.Generator, rows: int, names: tuple[np.ndarray, np.ndarray]
) -> pl.DataFrame:
    first, last = names
    return pl.DataFrame(
        {
            "customer_id": rng.permutation(rows).astype(np.int64) + 1_000_000,
            "kind": np.array(KINDS)[rng.choice(len(KINDS), size=rows, p=SHARES)],
            "first": _zipf(rng, first, rows, 5.0),
            "last": _zipf(rng, last, rows, 20.0),
            "day": rng.integers(0, BIRTH_DAYS, rows),
            "postcode": _postcodes(rng, rows, max(rows // 40, 100)),
            "phone": rng.integers(200_000_0000, 999_999_9999, rows),
            "member": rng.permutation(rows).astype(np.int64) + 500_000,
        }
    )


def _twins_and_namesakes(rng: np.random.Generator, persons: pl.DataFrame) -> pl.DataFrame:
    """Make some people the twin of the person before them, and some `John Smith`s."""
    rows = persons.height
    twin = np.flatnonzero(rng.random(rows - 1) < TWIN_SHARE) + 1
    namesake = np.flatnonzero(rng.random(rows) < NAMESAKE_SHARE)
    namesake = np.setdiff1d(namesake, twin)
    columns = {name: persons[name].to_numpy().copy() for name in persons.columns}
    for name in ("last", "day", "postcode", "phone"):
        columns[name][twin] = columns[name][twin - 1]
    spots = columns["postcode"][rng.integers(0, rows, 20)]
    columns["first"][namesake] = "John"
    columns["last"][namesake] = "Smith"
    columns["postcode"][namesake] = spots[rng.integers(0, 20, len(namesake))]
    return pl.DataFrame(columns)


def _birth(day: pl.Expr) -> pl.Expr:
    start = (BIRTH_START - dt.date(1970, 1, 1)).days
    return (day + start).cast(pl.Int32).cast(pl.Date)


def _phone(digits: pl.Expr, *, billing: bool) -> pl.Expr:
    text = digits.cast(pl.String)
    area, mid, end = text.str.slice(0, 3), text.str.slice(3, 3), text.str.slice(6, 4)
    if billing:
        return pl.format("({}){}-{}", area, mid, end)
    return pl.format("{}-{}-{}", area, mid, end)


def _nulls(rng: np.random.Generator, size: int, share: float) -> pl.Expr:
    return pl.lit(pl.Series(rng.random(size) < share))


def _left(rng: np.random.Generator, persons: pl.DataFrame) -> pl.DataFrame:
    size = persons.height
    return persons.select(
        "customer_id",
        pl.format("{} {}", "first", "last").alias("full_name"),
        pl.when(_nulls(rng, size, LEFT_NULL["dob"])).then(None).otherwise(_birth(pl.col("day")))
        .alias("birth_date"),
        "postcode",
        pl.when(_nulls(rng, size, LEFT_NULL["phone"])).then(None)
        .otherwise(_phone(pl.col("phone"), billing=False)).alias("phone"),
        pl.when(_nulls(rng, size, LEFT_NULL["member"])).then(None).otherwise("member")
        .alias("member_no"),
        pl.format("Town {}", pl.col("postcode").str.slice(0, 2)).alias("city"),
    )  # fmt: skip


def _varied(rng: np.random.Generator, first: pl.Expr, last: pl.Expr, size: int) -> pl.Expr:
    """One change per name, chosen at random (see the module docstring)."""
    full = pl.format("{} {}", first, last)
    length = full.str.len_chars()
    at = (pl.lit(pl.Series(rng.random(size))) * (length - 2)).cast(pl.Int64) + 1
    letter = pl.lit(pl.Series(rng.choice(LETTERS, size)))
    middle = pl.lit(pl.Series(np.char.upper(rng.choice(LETTERS, size))))
    title = pl.lit(pl.Series(rng.choice(TITLES, size)))
    variants = [
        full.str.to_uppercase(),
        full.str.to_lowercase(),
        pl.concat_str(full.str.slice(0, at), letter, full.str.slice(at + 1)),
        pl.concat_str(full.str.slice(0, at), full.str.slice(at + 1)),
        pl.concat_str(
            full.str.slice(0, at), full.str.slice(at + 1, 1), full.str.slice(at, 1),
            full.str.slice(at + 2),
        ),
        pl.format("{}. {}", first.str.slice(0, 1), last),
        pl.format("{}, {}", last, first),
        pl.format("{} {}. {}", first, middle, last),
        pl.format("{} {} {}", title, first, last),
        pl.format("  {}   {} ", first, last),
    ]  # fmt: skip
    shares = np.array([1, 1, 2, 1.5, 1.5, 1, 0.8, 1, 0.6, 0.6])
    which = pl.lit(pl.Series(rng.choice(len(variants), size, p=shares / shares.sum())))
    return pl.concat_list(variants).list.get(which)


def _partners(rng: np.random.Generator, persons: pl.DataFrame) -> pl.DataFrame:
    pairs = persons.filter(pl.col("kind") != "orphan")
    size = pairs.height
    kind = pl.col("kind")
    moved = pl.lit(pl.Series(_postcodes(rng, size, max(size // 40, 100))))
    return pairs.select(
        pl.col("customer_id").alias("truth"),
        "kind",
        pl.when(kind == "exact").then(pl.format("{} {}", "first", "last"))
        .otherwise(_varied(rng, pl.col("first"), pl.col("last"), size)).alias("name"),
        pl.when(kind == "nodob").then(None).otherwise(_birth(pl.col("day"))).alias("dob"),
        pl.when(kind == "moved").then(moved).otherwise("postcode").str.to_lowercase()
        .alias("zip"),
        pl.when(_nulls(rng, size, RIGHT_NULL["phone"])).then(None)
        .otherwise(_phone(pl.col("phone"), billing=True)).alias("tel"),
        pl.when(_nulls(rng, size, RIGHT_NULL["member"])).then(None).otherwise("member")
        .alias("membership"),
        pl.format("TOWN {}", pl.col("postcode").str.slice(0, 2)).alias("town"),
    )  # fmt: skip


def _orphans(
    rng: np.random.Generator, rows: int, names: tuple[np.ndarray, np.ndarray]
) -> pl.DataFrame:
    size = int(rows * RIGHT_ORPHAN_SHARE)
    first, last = names
    frame = pl.DataFrame(
        {
            "first": _zipf(rng, first, size, 5.0),
            "last": _zipf(rng, last, size, 20.0),
            "day": rng.integers(0, BIRTH_DAYS, size),
            "postcode": _postcodes(rng, size, max(rows // 40, 100)),
            "phone": rng.integers(200_000_0000, 999_999_9999, size),
            "member": rng.permutation(size).astype(np.int64) + 5_000_000,
        }
    )
    return frame.select(
        pl.lit(None, pl.Int64).alias("truth"),
        pl.lit("orphan").alias("kind"),
        pl.format("{} {}", "first", "last").alias("name"),
        _birth(pl.col("day")).alias("dob"),
        pl.col("postcode").str.to_lowercase().alias("zip"),
        pl.when(_nulls(rng, size, RIGHT_NULL["phone"])).then(None)
        .otherwise(_phone(pl.col("phone"), billing=True)).alias("tel"),
        pl.when(_nulls(rng, size, RIGHT_NULL["member"])).then(None).otherwise("member")
        .alias("membership"),
        pl.format("TOWN {}", pl.col("postcode").str.slice(0, 2)).alias("town"),
    )  # fmt: skip


def _decoys(
    rng: np.random.Generator, persons: pl.DataFrame, names: tuple[np.ndarray, np.ndarray]
) -> pl.DataFrame:
    """Siblings, namesakes in the same postcode, near-names born the same day."""
    size = int(persons.height * DECOY_SHARE)
    chosen = persons[rng.choice(persons.height, size, replace=False)]
    which = pl.lit(pl.Series(rng.integers(0, 3, size)))
    other_first = pl.lit(pl.Series(_zipf(rng, names[0], size, 5.0)))
    at = pl.lit(pl.Series(rng.integers(1, 4, size)))
    letter = pl.lit(pl.Series(rng.choice(LETTERS, size)))
    near_last = pl.concat_str(pl.col("last").str.slice(0, at), letter,
                              pl.col("last").str.slice(at + 1))  # fmt: skip
    other_day = pl.lit(pl.Series(rng.integers(0, BIRTH_DAYS, size)))
    elsewhere = pl.lit(pl.Series(_postcodes(rng, size, max(size // 10, 100))))
    return chosen.select(
        pl.lit(None, pl.Int64).alias("truth"),
        pl.lit("decoy").alias("kind"),
        pl.when(which == 0).then(pl.format("{} {}", other_first, "last"))
        .when(which == 1).then(pl.format("{} {}", "first", "last"))
        .otherwise(pl.format("{} {}", "first", near_last)).alias("name"),
        pl.when(which == 1).then(_birth(other_day)).otherwise(_birth(pl.col("day")))
        .alias("dob"),
        pl.when(which == 2).then(elsewhere).otherwise("postcode").str.to_lowercase()
        .alias("zip"),
        pl.when(which == 0).then(_phone(pl.col("phone"), billing=True)).alias("tel"),
        pl.lit(None, pl.Int64).alias("membership"),
        pl.format("TOWN {}", pl.col("postcode").str.slice(0, 2)).alias("town"),
    )  # fmt: skip


def _bad_members(rng: np.random.Generator, right: pl.DataFrame) -> pl.DataFrame:
    """A few billing rows carry someone else's member number."""
    bad = rng.random(right.height) < BAD_MEMBER_SHARE
    shuffled = right["membership"].gather(rng.permutation(right.height))
    return right.with_columns(
        pl.when(pl.lit(pl.Series(bad)) & shuffled.is_not_null())
        .then(pl.lit(shuffled))
        .otherwise("membership")
        .alias("membership")
    )
