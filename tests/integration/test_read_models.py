"""The analyst's read models on a real PostgreSQL: pages, filters, cursors, stats, export,
time travel, the proof of replay and the ruleset diff."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import polars as pl
import psycopg
import pytest
from jobs_helpers import Inputs, register_inputs, worker
from polars.testing import assert_frame_equal

from engine.analysis import job_as_of, rerun, ruleset_diff
from engine.errors import BadInputError, NotFoundError
from engine.matching.ruleset import parse_ruleset
from projections.projector import catch_up, rebuild
from projections.results_query import AGE_BUCKETS, DecisionFilters, Page, UnmatchedFilters
from tieout.bootstrap import Container
from tieout.settings import Settings

TIEOUT = str(Path(sys.executable).parent / "tieout")
ORDER = [pl.col("confidence").neg(), pl.col("row_no")]


@pytest.fixture(params=[False, True], ids=["shared", "own-partition"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Each test twice: the job's decisions in the shared partition, and in its own
    (projections/decision_partitions.py)."""
    return settings.model_copy(update={"own_partition_rows": 1 if request.param else 10**9})


@pytest.fixture
def done(container: Container, tmp_path: Path) -> tuple[Inputs, UUID]:
    """A completed job (600 bank rows), projected."""
    inputs = register_inputs(container, tmp_path)
    job_id = inputs.request(container)
    assert worker(container).tick()
    assert catch_up(container.projections, 60) == 0
    return inputs, job_id


def recorded(container: Container, job_id: UUID) -> tuple[pl.DataFrame, pl.DataFrame]:
    matches, unmatched = container.app.recorded_decisions(job_id, details=True)
    return matches.with_row_index("row_no"), unmatched.with_row_index("row_no")


def all_pages(fetch: object, limit: int) -> list[Page]:
    pages, cursor = [], None
    while True:
        page = fetch(limit=limit, cursor=cursor)  # type: ignore[operator]
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_decision_pages_cover_every_decision_in_order(
    container: Container, done: tuple[Inputs, UUID]
) -> None:
    _, job_id = done
    matches, _ = recorded(container, job_id)
    pages = all_pages(lambda **page: container.results.decisions(job_id, **page), 37)
    items = [item for page in pages for item in page.items]
    assert [len(page.items) for page in pages[:-1]] == [37] * (len(pages) - 1)
    expected = matches.sort(ORDER)
    assert [item["row_no"] for item in items] == expected.get_column("row_no").to_list()
    assert {item["review_status"] for item in items} == {"none"}
    first = items[0]
    row = expected.row(0, named=True)
    for name in ("group_id", "left_id", "right_id", "rule", "confidence", "status"):
        assert first[name] == row[name]
    assert first["left_amount"] == row["left_amount"]


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        (
            DecisionFilters(status="matched", max_confidence=0.99),
            (pl.col("status") == "matched") & (pl.col("confidence") <= 0.99),
        ),
        (DecisionFilters(rule="split-payments"), pl.col("rule") == "split-payments"),
        (
            DecisionFilters(min_confidence=0.8, max_confidence=0.95),
            pl.col("confidence").is_between(0.8, 0.95),
        ),
        (
            DecisionFilters(status="matched", rule="exact-reference"),
            (pl.col("status") == "matched") & (pl.col("rule") == "exact-reference"),
        ),
    ],
)
def test_decision_filters(
    container: Container, done: tuple[Inputs, UUID], filters: DecisionFilters, keep: pl.Expr
) -> None:
    _, job_id = done
    matches, _ = recorded(container, job_id)
    expected = matches.filter(keep).sort(ORDER).get_column("row_no").to_list()
    assert expected, "the filter must select something for the test to mean anything"
    pages = all_pages(lambda **page: container.results.decisions(job_id, filters, **page), 25)
    assert [item["row_no"] for page in pages for item in page.items] == expected


def test_cursors_are_bound_to_their_list_and_cannot_be_forged(
    container: Container, done: tuple[Inputs, UUID]
) -> None:
    _, job_id = done
    page = container.results.decisions(job_id, limit=5)
    assert page.next_cursor is not None
    with pytest.raises(BadInputError, match="another job or other filters"):
        container.results.decisions(job_id, DecisionFilters(status="matched"), 5, page.next_cursor)
    forged = page.next_cursor[:-3] + ("AAA" if not page.next_cursor.endswith("AAA") else "BBB")
    with pytest.raises(BadInputError, match="not a cursor"):
        container.results.decisions(job_id, limit=5, cursor=forged)
    with pytest.raises(BadInputError, match="not a cursor"):
        container.results.decisions(job_id, limit=5, cursor="not-base64!")


def test_unmatched_pages_ages_and_filters(container: Container, done: tuple[Inputs, UUID]) -> None:
    _, job_id = done
    _, unmatched = recorded(container, job_id)
    as_of = unmatched.get_column("date").max()
    assert isinstance(as_of, date)
    as_of += timedelta(days=10)
    pages = all_pages(
        lambda **page: container.results.unmatched(job_id, UnmatchedFilters(as_of=as_of), **page),
        40,
    )
    items = [item for page in pages for item in page.items]
    assert [item["row_no"] for item in items] == unmatched.get_column("row_no").to_list()
    ages = unmatched.select((pl.lit(as_of) - pl.col("date")).dt.total_days()).to_series()
    assert [item["age_days"] for item in items] == ages.to_list()
    assert {item["side"] for item in items} == {"left", "right"}
    for bucket, (youngest, oldest) in AGE_BUCKETS.items():
        filters = UnmatchedFilters(side="left", age=bucket, as_of=as_of)
        found = all_pages(
            lambda **page: container.results.unmatched(job_id, filters, **page),  # noqa: B023
            40,
        )
        got = [item["row_no"] for page in found for item in page.items]
        in_bucket = (ages >= youngest) & (ages <= (oldest if oldest is not None else 10**6))
        wanted = unmatched.filter(in_bucket & (pl.col("side") == "left"))
        assert got == wanted.get_column("row_no").to_list()


def test_stats_add_up(container: Container, done: tuple[Inputs, UUID]) -> None:
    _, job_id = done
    matches, unmatched = recorded(container, job_id)
    found = container.results.stats(job_id, as_of=date(2030, 1, 1))
    by_rule = {(row["rule"], row["status"]): row["rows"] for row in found["by_rule"]}
    expected = matches.group_by("rule", "status").len()
    assert by_rule == {(r, s): n for r, s, n in expected.iter_rows()}
    left = matches.unique("left_id", keep="first").get_column("left_amount").sum()
    assert found["amount_matched"]["left"] == pytest.approx(left)
    for side in ("left", "right"):
        rows = unmatched.filter(pl.col("side") == side)
        assert found["unmatched"][side]["items"] == rows.height
        assert sum(found["unmatched"][side]["by_age"].values()) == rows.height
        assert found["unmatched"][side]["amount"] == pytest.approx(rows["amount"].sum())


def test_the_job_row_and_the_project_lists(container: Container, done: tuple[Inputs, UUID]) -> None:
    inputs, job_id = done
    job = container.results.job(job_id)
    outcome = container.app.get_job(job_id).outcome
    assert outcome is not None
    assert (job["status"], job["decisions_hash"]) == ("completed", outcome.decisions_hash)
    assert job["counts"]["matched"] == outcome.counts["matched"]
    assert [item["id"] for item in container.results.jobs(inputs.project_id).items] == [str(job_id)]
    assert [item["name"] for item in container.results.projects().items] == ["jobs"]
    sources = container.results.sources(inputs.project_id).items
    assert {item["source_id"] for item in sources} == {str(inputs.left_id), str(inputs.right_id)}
    assert [item["version"] for item in container.results.rulesets(inputs.project_id)] == [1]
    with pytest.raises(NotFoundError):
        container.results.job(UUID(int=7))


def test_a_rebuild_gives_identical_views(container: Container, done: tuple[Inputs, UUID]) -> None:
    before = view_digest(container.database_url)
    reports = {report.projection: report.events for report in rebuild(container.projections)}
    assert reports["results"] > 0
    assert view_digest(container.database_url) == before


def view_digest(url: str) -> list[str]:
    tables = ("tieout_rm_jobs", "tieout_rm_decisions", "tieout_rm_unmatched", "tieout_rm_sources")
    with psycopg.connect(url) as conn:
        return [
            str(
                conn.execute(
                    f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {t} t"
                ).fetchone()
            )
            for t in tables
        ]


def test_time_travel(container: Container, done: tuple[Inputs, UUID]) -> None:
    _, job_id = done
    events = list(container.app.events.get(job_id))
    requested, claimed, completed = (event.timestamp for event in events)  # type: ignore[attr-defined]
    with pytest.raises(BadInputError, match="did not exist yet"):
        job_as_of(container.app, job_id, requested - timedelta(seconds=1))
    then = job_as_of(container.app, job_id, claimed)
    assert (then.status, then.counts) == ("running", None)
    now = job_as_of(container.app, job_id, completed + timedelta(seconds=1), limit=10)
    matches, _ = recorded(container, job_id)
    assert now.status == "completed"
    assert now.decisions_recorded == matches.height
    assert now.decisions.height == 10
    assert now.as_json()["decisions"][0]["left_id"] == matches.row(0, named=True)["left_id"]


def test_rerun_proves_the_hash_and_names_the_first_difference(
    container: Container, done: tuple[Inputs, UUID]
) -> None:
    inputs, job_id = done
    proof = rerun(container.app, job_id)
    assert proof.identical
    assert proof.first_difference is None
    # an operator replaces the stored input behind the system's back
    source = container.app.get_source(inputs.project_id, inputs.left_id)
    stored = Path(container.settings.object_store_location) / source.location
    frame = pl.read_parquet(stored)
    frame.with_columns(pl.col("amount") + 1).write_parquet(stored)
    changed = rerun(container.app, job_id)
    assert not changed.identical
    assert changed.first_difference is not None
    stored.unlink()
    with pytest.raises(NotFoundError):
        rerun(container.app, job_id)


def test_ruleset_diff_lists_what_a_dropped_rule_changes(
    container: Container, done: tuple[Inputs, UUID], tmp_path: Path
) -> None:
    inputs, job_id = done
    text = container.app.get_project(inputs.project_id).rulesets[1]
    kept = [rule for rule in text["rules"] if rule["name"] != "split-payments"]
    without = {**text, "rules": kept}
    found = ruleset_diff(container.app, job_id, parse_ruleset(json.dumps(without)))
    matches, _ = recorded(container, job_id)
    split = matches.filter(pl.col("rule") == "split-payments").height
    assert split > 0
    summary = found.as_json()
    assert summary["per_rule"]["split-payments"] == {"before": split, "after": 0}
    assert found.removed.height >= split
    assert found.added.height + found.changed.height > 0 or found.removed.height == split
    same = ruleset_diff(container.app, job_id, parse_ruleset(json.dumps(text)))
    assert (same.added.height, same.removed.height, same.changed.height) == (0, 0, 0)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_contract(
    container: Container, done: tuple[Inputs, UUID], cli_env: dict[str, str], tmp_path: Path
) -> None:
    _, job_id = done
    job = str(job_id)
    first = cli(cli_env, "results", job, "--limit", "3", "--json")
    assert first.returncode == 0, first.stderr
    page = json.loads(first.stdout)
    assert set(page) == {"items", "next_cursor"}
    keys = {"group_id", "left_id", "right_id", "rule", "confidence", "status", "review_status"}
    assert keys <= set(page["items"][0])
    second = cli(cli_env, "results", job, "--limit", "3", "--cursor", page["next_cursor"], "--json")
    assert json.loads(second.stdout)["items"][0]["row_no"] not in {
        item["row_no"] for item in page["items"]
    }
    too_many = cli(cli_env, "results", job, "--limit", "1001")
    assert too_many.returncode == 2
    unmatched = json.loads(cli(cli_env, "unmatched", job, "--side", "right", "--json").stdout)
    assert {"side", "id", "reason", "age_days"} <= set(unmatched["items"][0])
    matches, _ = recorded(container, job_id)
    for file_format in ("csv", "parquet"):
        out = tmp_path / f"export.{file_format}"
        exported = cli(cli_env, "export", job, "--format", file_format, "--out", str(out))
        assert exported.returncode == 0, exported.stderr
        assert exported.stdout.strip().splitlines()[-1] == str(out)
        frame = pl.read_csv(out) if file_format == "csv" else pl.read_parquet(out)
        assert frame.get_column("row_no").to_list() == list(range(matches.height))
        assert_frame_equal(
            frame.select("left_id", "right_id").cast(pl.String),
            matches.select("left_id", "right_id"),
        )
    proof = cli(cli_env, "replay", job, "--rerun")
    assert (proof.returncode, proof.stdout.split(":")[0]) == (0, "identical")
    before = cli(cli_env, "replay", job, "--as-of", "2001-01-01T00:00:00Z")
    assert before.returncode == 2
    assert before.stderr.strip().startswith("error: as_of: job")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    then = json.loads(cli(cli_env, "replay", job, "--as-of", later, "--json").stdout)
    assert then["status"] == "completed"
