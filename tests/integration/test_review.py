"""The review workflow on a real PostgreSQL: the CLI contract, races between reviewers,
four-eyes approval, and the read models the projector keeps."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from review_helpers import RULES, ReviewJob, baseline, register
from threads import Threads

from engine.analysis import job_as_of, ruleset_diff
from engine.domain.meta import EventMeta, event_meta
from engine.domain.review import ReviewConflictError, review_id
from engine.errors import ConflictError
from engine.matching.ruleset import parse_ruleset
from engine.reviews import Reviews
from projections.projector import catch_up, rebuild
from tieout.bootstrap import Container
from tieout.cli import main
from tieout.settings import Settings

TIEOUT = str(Path(sys.executable).parent / "tieout")
ALICE = event_meta(actor="cli:alice", causation="test")
BOB = event_meta(actor="cli:bob", causation="test")


@pytest.fixture(params=[False, True], ids=["shared", "own-partition"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Each test twice: the job's decisions in the shared partition, and in its own
    (projections/decision_partitions.py)."""
    return settings.model_copy(update={"own_partition_rows": 1 if request.param else 10**9})


@pytest.fixture
def job(container: Container, tmp_path: Path) -> ReviewJob:
    return register(container, tmp_path / "inputs")


def subprocess_tieout(env: dict[str, str], *args: str, code: int = 0) -> list[str]:
    """`tieout ARGS` as a user runs it: the output lines (stderr's, when it fails)."""
    done = subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == code, done.stderr
    return _lines(done.stdout, done.stderr, code)


@pytest.fixture
def tieout(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., list[str]]:
    """`tieout ARGS` in this process (a subprocess costs seconds on a busy machine)."""
    for name, value in cli_env.items():
        if name.startswith("TIEOUT_"):
            monkeypatch.setenv(name, value)

    def run(*args: str, code: int = 0) -> list[str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(list(args))
        out, err = capsys.readouterr()
        assert done.value.code == code, err
        return _lines(out, err, code)

    return run


def _lines(out: str, err: str, code: int) -> list[str]:
    if code:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        return lines
    return out.strip().splitlines()


def test_the_cli_works_a_job_through_review_and_four_eyes(
    container: Container, job: ReviewJob, cli_env: dict[str, str], tieout: Callable[..., list[str]]
) -> None:
    jid = str(job.job_id)
    catch_up(container.projections, 60)  # against a server, the projector's work
    queue = json.loads("\n".join(tieout("review", "queue", jid, "--json")))
    assert {item["status"] for item in queue["items"]} == {"suggested"}
    assert {item["review_status"] for item in queue["items"]} == {"none"}
    first, second = queue["items"][0]["group_id"], queue["items"][1]["group_id"]
    confirmed = tieout("review", "confirm", jid, first, "--comment", "checked")[-1]
    last = review_events(container, job)[-1]
    assert (last.action_id, last.comment) == (confirmed, "checked")
    assert last.meta["actor"] == f"cli:{getpass.getuser()}"
    rejected = subprocess_tieout(cli_env, "review", "reject", jid, second, "--actor", "alice")
    assert rejected[-1] == review_events(container, job)[-1].action_id
    again = tieout("review", "confirm", jid, first, code=2)[0]
    assert again == f"error: group {first} is already confirmed: it cannot be confirmed"
    configured = tieout("projects", "configure", str(job.project_id), "--four-eyes-above", "0")
    assert configured == ["four-eyes approval: above 0"]
    proposed = tieout("review", "match", jid, "--left", "U0", "--right", "V0", "--actor", "alice")[
        -1
    ]
    catch_up(container.projections, 60)
    pending = json.loads("\n".join(tieout("review", "queue", jid, "--json")))["items"]
    manual = [item for item in pending if item["status"] == "manual"]
    assert [(item["review_status"], item["action_id"]) for item in manual] == [
        ("pending_approval", proposed)
    ]
    own = subprocess_tieout(
        cli_env, "review", "approve", jid, proposed, "--actor", "alice", code=2
    )[0]
    assert own == f"error: action {proposed}: cli:alice proposed it and cannot approve it"
    tieout("review", "approve", jid, proposed, "--actor", "bob")
    explained = tieout(
        "review", "explain", jid, "--side", "left", "--id", "U1", "--reason", "timing"
    )
    assert len(explained[-1]) == 36
    bad = tieout("review", "explain", jid, "--side", "left", "--id", "U1", "--reason", "x", code=2)
    assert "x" in bad[0]
    catch_up(container.projections, 60)
    results = json.loads("\n".join(tieout("results", jid, "--json", "--limit", "1000")))["items"]
    statuses = {item["group_id"]: item["review_status"] for item in results}
    assert statuses[first] == "confirmed"
    assert statuses[second] == "rejected"
    assert statuses["manual-1"] == "manual"
    export = container.settings.home / "decisions.csv"
    tieout("export", jid, "--format", "csv", "--out", str(export))
    assert "manual-1" in export.read_text()


def test_the_cli_undoes_explains_and_counts(
    container: Container, job: ReviewJob, tieout: Callable[..., list[str]]
) -> None:
    jid = str(job.job_id)
    bulk = tieout("review", "confirm", jid, "--all-suggested", "--min-confidence", "0.86")
    assert bulk[-1] == review_events(container, job)[-1].action_id
    tieout("projects", "configure", str(job.project_id), "--four-eyes-above", "1000")
    held = tieout("review", "revert-auto", jid, "--rule", "exact-reference")[-1]
    tieout("review", "decline", jid, held, "--comment", "keep them")
    tieout("review", "revert-auto", jid, "--rule", "split")  # 90 + 91: below 1000
    undone = tieout("review", "unmatch", jid, "L11", "--actor", "alice")[-1]  # 1200: held
    tieout("review", "approve", jid, undone, "--actor", "bob")
    tieout("review", "assign", jid, "--side", "right", "--id", "T0a", "--to", "carol")
    tieout("review", "comment", jid, "L1", "--comment", "looked fine")
    tieout("projects", "configure", str(job.project_id), "--no-four-eyes")
    catch_up(container.projections, 60)
    stats = json.loads("\n".join(tieout("review", "stats", jid, "--json")))
    assert stats["groups"]["unmatched"] == 3  # S0, S1 and L11
    assert stats["groups"]["auto"] == 11  # the exact pairs but L11
    assert sum(stats["items"].values()) == baseline(container, job).rows
    exceptions = json.loads("\n".join(tieout("review", "exceptions", jid, "--json")))["items"]
    assigned = [item for item in exceptions if item["assignee"]]
    assert [(item["id"], item["assignee"], item["reason"]) for item in assigned] == [
        ("T0a", "carol", "unmatched")
    ]
    replayed = tieout("replay", jid, "--as-of", datetime.now(UTC).isoformat())
    assert any(line.strip().startswith("review: version") for line in replayed), replayed
    usage = tieout("review", "confirm", jid, code=2)[0]
    assert usage == "error: give exactly one of GROUP and --all-suggested"
    assert "not a valid id" in tieout("review", "queue", "nope", code=2)[0]
    assert "already unmatched" in tieout("review", "unmatch", jid, "L11", code=2)[0]


def review_events(container: Container, job: ReviewJob) -> list[Any]:
    return list(container.app.events.get(review_id(job.job_id)))


def test_two_reviewers_on_one_group_exactly_one_wins(
    container: Container, job: ReviewJob, threads: Threads
) -> None:
    group = next(g for g in baseline(container, job).groups.values() if g.status == "suggested")
    outcomes: list[str] = []
    barrier = threading.Barrier(2, timeout=30)  # a reviewer that failed frees the other

    def act(meta: EventMeta, command: str) -> None:
        reviews = Reviews(container.app)
        reviews.baseline(job.job_id)
        barrier.wait()
        try:
            if command == "confirm":
                reviews.confirm(job.job_id, [group.group_id], "", meta)
            else:
                reviews.reject(job.job_id, group.group_id, "", meta)
            outcomes.append(f"{command}: won")
        except ReviewConflictError as exc:
            outcomes.append(f"{command}: {exc}")

    threads.start(act, ALICE, "confirm")
    threads.start(act, BOB, "reject")
    threads.join()
    won = [outcome for outcome in outcomes if outcome.endswith("won")]
    lost = [outcome for outcome in outcomes if not outcome.endswith("won")]
    assert len(won) == 1, outcomes
    assert len(lost) == 1, outcomes
    assert f"group {group.group_id} is already" in lost[0]
    decided = [e for e in review_events(container, job) if hasattr(e, "group_ids")]
    assert [e.group_ids for e in decided] == [[group.group_id]]


def test_a_save_that_loses_the_race_decides_again_on_the_new_state(
    container: Container, job: ReviewJob
) -> None:
    groups = [
        g.group_id for g in baseline(container, job).groups.values() if g.status == "suggested"
    ]
    slow, fast = Reviews(container.app), Reviews(container.app)
    slow.confirm(job.job_id, [groups[0]], "", ALICE)  # the stream exists
    real = slow.app.repository.get

    def stale_then_race(aggregate_id: Any, **kwargs: Any) -> Any:
        found = real(aggregate_id, **kwargs)
        if not raced:
            raced.append(True)
            fast.confirm(job.job_id, [groups[1]], "", BOB)  # lands between load and save
        return found

    raced: list[bool] = []
    slow.app.repository.get = stale_then_race  # type: ignore[method-assign]
    try:
        slow.confirm(job.job_id, [groups[2]], "", ALICE)  # another group: still holds
    finally:
        del slow.app.repository.get
    state = Reviews(container.app).state(job.job_id)
    assert [state.status_of(g) for g in groups[:3]] == ["confirmed"] * 3


def test_four_eyes_threshold_holds_big_actions_only(container: Container, job: ReviewJob) -> None:
    reviews = Reviews(container.app)
    assert reviews.configure_four_eyes(job.project_id, Decimal(1000), ALICE)
    assert not reviews.configure_four_eyes(job.project_id, Decimal(1000), ALICE)
    small = reviews.match(job.job_id, ["U0"], ["V0"], "", ALICE)  # 7 against 3
    big = reviews.match(job.job_id, ["U1"], ["V1"], "", ALICE)  # 11,007 against 13,003
    state = reviews.state(job.job_id)
    assert state.review is not None
    assert small not in state.review.pending
    assert state.review.pending[big].proposer == "cli:alice"
    with pytest.raises(ConflictError, match="proposed it and cannot approve it"):
        reviews.approve(job.job_id, big, "", ALICE)
    reviews.approve(job.job_id, big, "", BOB)
    reverted = reviews.revert_auto(job.job_id, "split", "", ALICE)  # 90 + 91: below
    assert Reviews(container.app).state(job.job_id).status_of("S0") == "unmatched"
    assert reverted not in reviews.state(job.job_id).review.pending  # type: ignore[union-attr]
    reviews.configure_four_eyes(job.project_id, None, ALICE)
    events = review_events(container, job)
    approvals = [e for e in events if type(e).__name__ == "ReviewApproved"]
    proposals = {e.action_id: e.meta["actor"] for e in events if getattr(e, "pending", False)}
    assert [(proposals[e.approved_action], e.meta["actor"]) for e in approvals] == [
        ("cli:alice", "cli:bob")
    ]


def test_items_freed_by_a_rejection_keep_their_amount_and_date(
    container: Container, job: ReviewJob
) -> None:
    """They age in the exception queue like any open item (dates from review_helpers: the
    left row on 2 Nov, its near match a day later; amounts 37 + 1000n, and 0.5 more)."""
    Reviews(container.app).reject(job.job_id, "N1", "not the same invoice", ALICE)
    assert catch_up(container.projections, 60) == 0
    items = container.results.exception_queue(job.job_id, limit=1000).items
    freed = {
        (item["side"], item["id"]): (item["date"], item["amount"], item["reason"])
        for item in items
        if item["id"] in {"N1", "M1"}
    }
    assert freed == {
        ("left", "N1"): ("2026-11-02", 1037.0, "rejected"),
        ("right", "M1"): ("2026-11-03", 1037.5, "rejected"),
    }


def test_read_models_follow_reviews_and_a_rebuild_gives_the_same(
    container: Container, job: ReviewJob
) -> None:
    reviews = Reviews(container.app)
    reviews.reject(job.job_id, "N0", "", ALICE)
    reviews.unmatch(job.job_id, "S0", "", ALICE)
    manual = reviews.match(job.job_id, ["N0", "S0"], ["M0", "T0a", "T0b", "V2"], "", ALICE)
    reviews.explain(job.job_id, ("left", "U3"), "bank_error", "fee", ALICE)
    reviews.assign(job.job_id, ("left", "U3"), "carol", "", ALICE)
    reviews.configure_four_eyes(job.project_id, Decimal(0), ALICE)
    pending = reviews.unmatch(job.job_id, "L0", "", ALICE)
    assert catch_up(container.projections, 60) == 0
    first = snapshot(container, job)
    queue = container.results.review_queue(job.job_id, "amount", limit=1000).items
    assert [item.get("action_id") for item in queue if item["group_id"] == "L0"] == [pending]
    rows = [item for item in first["decisions"] if item["group_id"] == "manual-1"]
    assert [(r["left_id"], r["right_id"]) for r in rows] == [
        ("N0", "M0"),
        ("S0", "T0a"),
        ("S0", "T0b"),
        ("S0", "V2"),
    ]
    assert {r["review_status"] for r in rows} == {"manual"}
    assert manual
    exceptions = container.results.exception_queue(job.job_id, limit=100).items
    by_id = {item["id"]: item for item in exceptions}
    assert "N0" not in by_id
    assert "V2" not in by_id
    assert (by_id["U3"]["reason_code"], by_id["U3"]["assignee"]) == ("bank_error", "carol")
    stats = container.results.review_stats(job.job_id)
    assert sum(stats["items"].values()) == baseline(container, job).rows
    assert stats["items"] == Reviews(container.app).state(job.job_id).counts()
    rebuild(container.projections)
    assert snapshot(container, job) == first


def snapshot(container: Container, job: ReviewJob) -> dict[str, Any]:
    decisions = container.results.decisions(job.job_id, limit=1000).items
    items = container.results.exception_queue(job.job_id, limit=1000).items
    return {
        "decisions": sorted(decisions, key=lambda item: item["row_no"]),
        "open": sorted((item["side"], item["id"], item["reason_code"]) for item in items),
        "stats": container.results.review_stats(job.job_id),
    }


def test_replay_shows_the_review_as_it_stood_and_diff_names_contradictions(
    container: Container, job: ReviewJob
) -> None:
    reviews = Reviews(container.app)
    reviews.confirm(job.job_id, ["N1"], "", ALICE)
    between = review_events(container, job)[-1].timestamp
    reviews.reject(job.job_id, "N2", "", BOB)
    then = job_as_of(container.app, job.job_id, between, limit=1000).as_json()
    shown = {row["group_id"]: row["review_status"] for row in then["decisions"]}
    assert (shown["N1"], shown["N2"]) == ("confirmed", "none")
    assert then["review"]["groups"] == {"confirmed": 1}
    now = job_as_of(container.app, job.job_id, datetime.now(UTC), limit=1000).as_json()
    assert now["review"]["groups"] == {"confirmed": 1, "rejected": 1}
    same = ruleset_diff(container.app, job.job_id, parse_ruleset(RULES)).as_json()
    assert [(c["group_id"], c["why"]) for c in same["contradicted"]] == [
        ("N2", "the new rules match it again")
    ]
    rules = parse_ruleset(RULES).model_dump(mode="json")
    rules["rules"] = [rule for rule in rules["rules"] if rule["name"] != "near"]
    dropped = ruleset_diff(container.app, job.job_id, parse_ruleset(json.dumps(rules)))
    assert [(c["group_id"], c["why"]) for c in dropped.contradicted] == [
        ("N1", "the new rules leave it unmatched")
    ]
