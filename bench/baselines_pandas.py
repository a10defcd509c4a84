"""Baseline: the bank_ledger ruleset as plain pandas merges.

merge on exact keys; merge_asof (nearest, with a tolerance) for the date and amount
windows, so each left row sees one candidate; similarity through rapidfuzz's cpdist;
one-to-one by sorting and dropping duplicates; many-to-one by grouping all same-reference
candidates and checking their total. Usage: python bench/baselines_pandas.py LEFT RIGHT OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

MIN_SIMILARITY = 72


def normalized(text: pd.Series) -> pd.Series:
    kept = text.str.lower().str.replace(r"[^a-z0-9\s]", "", regex=True)
    squeezed = kept.str.replace(r"\s+", " ", regex=True).str.strip()
    return squeezed.where(squeezed != "")


def load(left: Path, right: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    lframe = pd.read_csv(left, parse_dates=["booked"], dtype={"txn_id": str})
    rframe = pd.read_csv(right, parse_dates=["posted"], dtype={"entry_id": str})
    lframe = pd.DataFrame(
        {
            "lid": lframe["txn_id"],
            "ldate": lframe["booked"],
            "lcents": (lframe["amount"] * 100).round().astype("int64"),
            "refn": normalized(lframe["reference"]),
            "ltext": normalized(lframe["description"]).fillna(""),
        }
    )
    rframe = pd.DataFrame(
        {
            "rid": rframe["entry_id"],
            "rdate": rframe["posted"],
            "rcents": (rframe["amount"] * 100).round().astype("int64"),
            "refn": normalized(rframe["ref"]),
            "rtext": normalized(rframe["memo"]).fillna(""),
        }
    )
    return lframe, rframe


def one_to_one(candidates: pd.DataFrame, rule: str) -> pd.DataFrame:
    ordered = candidates.sort_values(["score", "lid", "rid"], ascending=[False, True, True])
    return ordered.drop_duplicates("lid").drop_duplicates("rid")[["lid", "rid"]].assign(rule=rule)


def similarity(frame: pd.DataFrame) -> np.ndarray:
    """jaro_winkler (0-100), the scorer the ruleset names, pair by pair in one batch."""
    scores = process.cpdist(
        frame["ltext"].tolist(),
        frame["rtext"].tolist(),
        scorer=JaroWinkler.normalized_similarity,
        workers=-1,
    )
    return np.asarray(scores) * 100


def run(left_path: Path, right_path: Path, out: Path) -> None:
    left, right = load(left_path, right_path)
    decided: list[pd.DataFrame] = []

    def rest() -> tuple[pd.DataFrame, pd.DataFrame]:
        taken = pd.concat(decided) if decided else pd.DataFrame({"lid": [], "rid": []})
        return left[~left["lid"].isin(taken["lid"])], right[~right["rid"].isin(taken["rid"])]

    exact = left.dropna(subset=["refn"]).merge(
        right.dropna(subset=["refn"]), left_on=["refn", "lcents"], right_on=["refn", "rcents"]
    )
    decided.append(one_to_one(exact.assign(score=1.0), "exact-reference"))
    decided.append(split_payments(*rest()))
    decided.append(amount_date_description(*rest()))
    decided.append(fuzzy_description(*rest()))
    out.mkdir(parents=True, exist_ok=True)
    result = pd.concat(decided).rename(columns={"lid": "left_id", "rid": "right_id"})
    result.assign(status="matched").sort_values(["left_id", "right_id"]).to_parquet(
        out / "matches.parquet", index=False
    )


def split_payments(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    pairs = left.dropna(subset=["refn"]).merge(right.dropna(subset=["refn"]), on="refn")
    pairs = pairs[(pairs["ldate"] - pairs["rdate"]).abs() <= pd.Timedelta(days=5)]
    totals = pairs.groupby("lid").agg(
        total=("rcents", "sum"), n=("rid", "size"), t=("lcents", "first")
    )
    good = totals[(totals["n"].between(2, 3)) & ((totals["total"] - totals["t"]).abs() <= 1)]
    rows = pairs[pairs["lid"].isin(good.index)]
    return rows.drop_duplicates("rid")[["lid", "rid"]].assign(rule="split-payments")


def amount_date_description(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    near = pd.merge_asof(
        left.sort_values("ldate"),
        right.sort_values("rdate"),
        left_on="ldate",
        right_on="rdate",
        left_by="lcents",
        right_by="rcents",
        tolerance=pd.Timedelta(days=3),
        direction="nearest",
    ).dropna(subset=["rid"])
    near = near.assign(score=similarity(near))
    return one_to_one(near[near["score"] >= MIN_SIMILARITY], "amount-date-description")


def fuzzy_description(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    near = pd.merge_asof(
        left.sort_values("lcents"),
        right.sort_values("rcents"),
        left_on="lcents",
        right_on="rcents",
        tolerance=5,
        direction="nearest",
    ).dropna(subset=["rid"])
    near = near[(near["ldate"] - near["rdate"]).abs() <= pd.Timedelta(days=5)]
    near = near.assign(score=similarity(near))
    return one_to_one(near[near["score"] >= MIN_SIMILARITY], "fuzzy-description")


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
