"""Baseline: the bank_ledger ruleset as DuckDB SQL, written the way a competent engineer would.

Hash joins on composite keys (normalized reference + cents; cents + a date window; a cents
bucket with its neighbours + a date window), never NOT IN; remaining rows by ANTI JOIN;
one-to-one by mutual best (ROW_NUMBER on each side); many-to-one by self-joins over pairs and
triples; similarity by DuckDB's native jaro_winkler_similarity, the scorer the ruleset names.
Usage: python bench/baselines_duckdb.py LEFT.csv RIGHT.csv OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

NORMALIZE = (
    "nullif(trim(regexp_replace(regexp_replace(lower({col}), '[^a-z0-9\\s]', '', 'g'),"
    " '\\s+', ' ', 'g')), '')"
)


def connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def load(con: duckdb.DuckDBPyConnection, left: Path, right: Path) -> None:
    con.execute(f"""
        CREATE TABLE l AS SELECT CAST(txn_id AS VARCHAR) AS lid, booked,
            CAST(round(amount * 100) AS BIGINT) AS cents,
            {NORMALIZE.format(col="reference")} AS refn,
            {NORMALIZE.format(col="description")} AS textn
        FROM read_csv('{left}')""")
    con.execute(f"""
        CREATE TABLE r AS SELECT CAST(entry_id AS VARCHAR) AS rid, posted,
            CAST(round(amount * 100) AS BIGINT) AS cents,
            {NORMALIZE.format(col="ref")} AS refn,
            {NORMALIZE.format(col="memo")} AS textn
        FROM read_csv('{right}')""")
    con.execute("CREATE TABLE m (lid VARCHAR, rid VARCHAR, rule VARCHAR)")


def remaining(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TABLE l2 AS SELECT * FROM l ANTI JOIN m USING (lid)")
    con.execute("CREATE OR REPLACE TABLE r2 AS SELECT * FROM r ANTI JOIN m USING (rid)")


def one_to_one(con: duckdb.DuckDBPyConnection, rule: str, candidates: str) -> None:
    """Candidates materialized once, then mutual best on (score desc, ids asc), two rounds."""
    remaining(con)
    con.execute(f"CREATE OR REPLACE TABLE c AS {candidates}")
    for _ in range(2):
        con.execute(f"""
            INSERT INTO m
            WITH open AS (SELECT * FROM c ANTI JOIN m USING (lid) ANTI JOIN m USING (rid)),
            ranked AS (
                SELECT lid, rid,
                    row_number() OVER (PARTITION BY lid ORDER BY score DESC, rid) AS bl,
                    row_number() OVER (PARTITION BY rid ORDER BY score DESC, lid) AS br
                FROM open)
            SELECT lid, rid, '{rule}' FROM ranked WHERE bl = 1 AND br = 1""")


def split_payments(con: duckdb.DuckDBPyConnection) -> None:
    remaining(con)
    con.execute("""
        CREATE OR REPLACE TABLE sc AS
        SELECT l.lid, l.cents AS target, r.rid, r.cents
        FROM l2 l JOIN r2 r ON l.refn = r.refn
        WHERE abs(date_diff('day', l.booked, r.posted)) <= 5""")
    con.execute("""
        CREATE OR REPLACE TABLE groups AS
        SELECT a.lid, [a.rid, b.rid] AS rids FROM sc a JOIN sc b
            ON a.lid = b.lid AND a.rid < b.rid
        WHERE abs(a.cents + b.cents - a.target) <= 1
        UNION ALL
        SELECT a.lid, [a.rid, b.rid, c.rid] FROM sc a
            JOIN sc b ON a.lid = b.lid AND a.rid < b.rid
            JOIN sc c ON a.lid = c.lid AND b.rid < c.rid
        WHERE abs(a.cents + b.cents + c.cents - a.target) <= 1""")
    con.execute("""
        INSERT INTO m
        WITH best AS (
            SELECT lid, rids, row_number() OVER (
                PARTITION BY lid ORDER BY len(rids), rids) AS k FROM groups),
        rows AS (SELECT lid, unnest(rids) AS rid FROM best WHERE k = 1),
        clash AS (SELECT rid FROM rows GROUP BY rid HAVING count(*) > 1),
        losers AS (SELECT DISTINCT lid FROM rows SEMI JOIN clash USING (rid))
        SELECT lid, rid, 'split-payments' FROM rows ANTI JOIN losers USING (lid)""")


def run(left: Path, right: Path, out: Path) -> None:
    con = connect()
    load(con, left, right)
    one_to_one(
        con,
        "exact-reference",
        "SELECT lid, rid, 1.0 AS score FROM l2 JOIN r2 USING (refn, cents)",
    )
    split_payments(con)
    one_to_one(
        con,
        "amount-date-description",
        """SELECT lid, rid, sim - abs(date_diff('day', booked, posted)) AS score FROM (
            SELECT l.lid, r.rid, l.booked, r.posted,
                100 * jaro_winkler_similarity(l.textn, r.textn) AS sim
            FROM l2 l JOIN r2 r ON l.cents = r.cents
                AND r.posted BETWEEN l.booked - 3 AND l.booked + 3)
        WHERE sim >= 72""",
    )
    one_to_one(
        con,
        "fuzzy-description",
        """SELECT lid, rid, score FROM (
            SELECT l.lid, r.rid, 100 * jaro_winkler_similarity(l.textn, r.textn) AS score
            FROM (SELECT *, unnest([d - 1, d, d + 1]) AS dk FROM (
                    SELECT *, unnest([cents // 10 - 1, cents // 10, cents // 10 + 1]) AS ck,
                        date_diff('day', DATE '1970-01-01', booked) // 6 AS d
                    FROM l2)) l
            JOIN (SELECT *, cents // 10 AS ck,
                    date_diff('day', DATE '1970-01-01', posted) // 6 AS dk FROM r2) r
                USING (ck, dk)
            WHERE abs(l.cents - r.cents) <= 5
                AND abs(date_diff('day', l.booked, r.posted)) <= 5)
        WHERE score >= 72""",
    )
    out.mkdir(parents=True, exist_ok=True)
    con.execute(
        "COPY (SELECT lid AS left_id, rid AS right_id, rule, 'matched' AS status FROM m"
        f" ORDER BY lid, rid) TO '{out / 'matches.parquet'}' (FORMAT parquet)"
    )


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
