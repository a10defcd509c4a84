"""Baseline: bench/people_rules.yaml as DuckDB SQL, written the way a competent engineer would.

Hash joins on each rule's equals keys (member number; normalized phone; birth date +
normalized postcode; birth date), remaining rows by ANTI JOIN, one-to-one by mutual best
(ROW_NUMBER on each side, two rounds), names scored by DuckDB's native
jaro_winkler_similarity, the scorer the ruleset names. Nulls never join, as in SQL.
Usage: python bench/people_duckdb.py LEFT.csv RIGHT.csv OUT_DIR [RULESET]
RULESET is `plain` (default) or `name-only` (bench/people_name_only.yaml: a cross join).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from baselines_duckdb import one_to_one  # the same waterfall and mutual-best resolution

# Tieout's `alnum`: drop what is not a letter, digit or whitespace, collapse whitespace, trim
ALNUM = (
    "nullif(trim(regexp_replace(regexp_replace({col}, '[^\\p{{L}}\\p{{N}}\\s]+', '', 'g'),"
    " '\\s+', ' ', 'g')), '')"
)


def load(con: duckdb.DuckDBPyConnection, left: Path, right: Path) -> None:
    con.execute(f"""
        CREATE TABLE l AS SELECT CAST(customer_id AS VARCHAR) AS lid,
            CAST(member_no AS BIGINT) AS member, CAST(birth_date AS DATE) AS dob,
            {ALNUM.format(col="CAST(phone AS VARCHAR)")} AS phonen,
            {ALNUM.format(col="lower(CAST(postcode AS VARCHAR))")} AS zipn,
            {ALNUM.format(col="lower(full_name)")} AS namen
        FROM read_csv('{left}')""")
    con.execute(f"""
        CREATE TABLE r AS SELECT CAST(account_id AS VARCHAR) AS rid,
            CAST(membership AS BIGINT) AS member, CAST(dob AS DATE) AS dob,
            {ALNUM.format(col="CAST(tel AS VARCHAR)")} AS phonen,
            {ALNUM.format(col="lower(CAST(zip AS VARCHAR))")} AS zipn,
            {ALNUM.format(col="lower(name)")} AS namen
        FROM read_csv('{right}')""")
    con.execute("CREATE TABLE m (lid VARCHAR, rid VARCHAR, rule VARCHAR)")


def named(on: str, least: int) -> str:
    """Pairs joined on `on` whose names score at least `least` (0-100)."""
    return f"""SELECT lid, rid, score FROM (
        SELECT l.lid, r.rid, 100 * jaro_winkler_similarity(l.namen, r.namen) AS score
        FROM l2 l JOIN r2 r ON {on})
    WHERE score >= {least}"""


def plain(con: duckdb.DuckDBPyConnection) -> None:
    one_to_one(
        con,
        "member-number",
        "SELECT lid, rid, 1.0 AS score FROM l2 JOIN r2 USING (member)",
    )
    one_to_one(con, "phone-name", named("l.phonen = r.phonen", 75))
    one_to_one(con, "dob-postcode-name", named("l.dob = r.dob AND l.zipn = r.zipn", 80))
    one_to_one(con, "dob-name", named("l.dob = r.dob", 92))


def name_only(con: duckdb.DuckDBPyConnection) -> None:
    one_to_one(con, "name-only", named("true", 95))


def run(left: Path, right: Path, out: Path, ruleset: str) -> None:
    con = duckdb.connect()
    load(con, left, right)
    {"plain": plain, "name-only": name_only}[ruleset](con)
    out.mkdir(parents=True, exist_ok=True)
    con.execute(
        "COPY (SELECT lid AS left_id, rid AS right_id, rule, 'matched' AS status FROM m"
        f" ORDER BY lid, rid) TO '{out / 'matches.parquet'}' (FORMAT parquet)"
    )


if __name__ == "__main__":
    run(
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        Path(sys.argv[3]),
        sys.argv[4] if len(sys.argv) > 4 else "plain",
    )
