"""Record a stored sample of every event version that has none yet.

Run `python tests/samples/record_samples.py` after adding an event or bumping a
`class_version`. Existing samples are never overwritten: they are the proof that events
stored by older versions of Tieout keep loading (tests/unit/test_event_samples.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import polars as pl

from engine.application import Tieout
from engine.domain.decisions import ARROW_FORMAT, DecisionBatch, UnmatchedBatch, encode_rows
from engine.domain.job import Job, JobOutcome, RetryPolicy
from engine.domain.meta import event_meta
from engine.domain.org import Role
from engine.domain.review import Review
from engine.domain.review_baseline import Baseline
from engine.memory import InMemoryFencedRecorder
from engine.tenancy import Tenancy
from snapshots.stores import LocalObjectStore

SAMPLES = Path(__file__).parent / "events"
RULES = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
"""


def sample_name(topic: str, class_version: int) -> str:
    return f"{topic.rsplit(':', 1)[-1]}.v{class_version}.json"


def run_scenario(app: Tieout, scratch: Path) -> None:
    """Cause at least one event of every kind."""
    meta = event_meta(actor="user:sample@example.com", causation="samples", request_id="r-1")
    project = app.create_project("Samples", meta)
    app.publish_ruleset(project, RULES, meta)
    left = scratch / "left.csv"
    left.write_text("txn_id,reference\n1,A\n", encoding="utf-8")
    right = scratch / "right.csv"
    right.write_text("entry_id,ref\n9,A\n", encoding="utf-8")
    left_id = app.register_source_file(project, left, meta)
    right_id = app.register_source_file(project, right, meta)
    job_id = app.request_job(project, left_id, right_id, 1, meta, idempotency_key="sample")
    run_job_lifecycle(app, job_id)
    run_tenancy(Tenancy(app))
    run_review(app, project, job_id)


def run_tenancy(tenancy: Tenancy) -> None:
    """Every Organization, User and ApiKey event, through the tenancy commands."""
    meta = event_meta(actor="cli:operator", causation="samples")
    admin = tenancy.create_user("admin@example.com", Role.ADMIN, "Samples Org", meta)
    tenancy.create_user("ann@example.com", Role.VIEWER, "Samples Org", meta)
    tenancy.create_user("ann@example.com", Role.ANALYST, "Samples Org", meta)
    key = tenancy.issue_api_key("Samples Org", Role.ANALYST, "loader", meta)
    tenancy.revoke_api_key(key.id, "rotated", meta)
    principal = tenancy.user_principal(admin.id)
    project = tenancy.create_project(principal, "Tenant project", meta)
    tenancy.add_member(principal, project, "ann@example.com", Role.ANALYST, meta)
    tenancy.remove_member(principal, project, "ann@example.com", meta)


def run_job_lifecycle(app: Tieout, job_id: UUID) -> None:
    """Every Job event and both decision-batch events, through the aggregates' commands."""
    worker = event_meta(actor="service:worker-sample", causation="worker.run")
    operator = event_meta(actor="cli:operator", causation="jobs.redrive")
    policy = RetryPolicy(max_attempts=2, backoff_seconds=5, backoff_max_seconds=60)
    job = app.get_job(job_id)
    job.claim("worker-sample", "lease-1", 5_000, worker)
    job.fail("lease-1", "object missing", policy, worker)
    job.retry(worker)
    job.claim("worker-sample", "lease-2", 5_000, worker)
    job.fail("lease-2", "object missing", policy, worker)  # exhausted: dead-lettered
    job.redrive(operator)
    job.claim("worker-sample", "lease-3", 5_000, worker)
    job.release("lease-3", "worker shutting down", worker)
    job.claim("worker-sample", "lease-4", 5_000, worker)
    decided = pl.DataFrame({"left_id": ["1"], "right_id": ["9"], "rule": ["exact-reference"]})
    unmatched = pl.DataFrame({"side": ["left"], "id": ["2"], "reason": ["no_candidate"]})
    batches = [
        DecisionBatch(job.id, 0, 0, 1, ARROW_FORMAT, encode_rows(decided), worker),
        UnmatchedBatch(job.id, 0, 0, 1, ARROW_FORMAT, encode_rows(unmatched), worker),
    ]
    outcome = JobOutcome(
        counts={"matched": 1, "suggested": 0, "unmatched_left": 1, "unmatched_right": 0},
        inputs_hash="0" * 64,
        ruleset_version=1,
        engine_version="0.1.0",
        decisions_hash="1" * 64,
        decision_batches=1,
        unmatched_batches=1,
    )
    job.complete("lease-4", outcome, worker)
    cancelled = Job(job.project_id, job.left_source_id, job.right_source_id, 1, "", worker)
    cancelled.cancel("requested by mistake", operator)
    app.save(job, cancelled, *batches)


def run_review(app: Tieout, project_id: UUID, job_id: UUID) -> None:
    """The four-eyes setting and every Review event, through the aggregates' commands."""
    alice = event_meta(actor="cli:alice", causation="samples", request_id="r-2")
    bob = event_meta(actor="cli:bob", causation="samples", request_id="r-3")
    project = app.get_project(project_id)
    project.configure_four_eyes(Decimal(1000), alice)
    decisions = pl.DataFrame(
        {
            "left_id": ["1", "2", "3"],
            "right_id": ["9", "8", "7"],
            "group_id": ["1", "2", "3"],
            "rule": ["exact-reference", "exact-reference", "fuzzy"],
            "confidence": [1.0, 0.7, 1.0],
            "status": ["matched", "suggested", "matched"],
            "left_amount": [10.0, 20.0, 30.0],
            "right_amount": [10.0, 20.0, 30.0],
        }
    )
    unmatched = pl.DataFrame({"side": ["left", "right"], "id": ["4", "6"], "amount": [40.0, 39.5]})
    baseline = Baseline.from_frames(decisions, unmatched)
    review = Review(job_id=job_id, project_id=project_id, meta=alice)
    review.confirm(baseline, ["1"], "checked the statement", alice)
    review.reject(baseline, "2", "different customer", alice)
    review.add_comment(baseline, "1", "ticked", bob)
    review.explain(baseline, ("left", "2"), "timing", "clears on Monday", alice)
    review.assign(baseline, ("right", "8"), "carol", "", alice)
    manual = review.match(baseline, ["4"], ["6"], "same invoice", True, alice)  # noqa: FBT003
    review.approve(manual, "", bob)
    unmatch = review.unmatch(baseline, "1", "wrong period", True, alice)  # noqa: FBT003
    review.decline(unmatch, "keep it", bob)
    review.revert_auto(baseline, "fuzzy", "rule too loose", False, alice)  # noqa: FBT003
    app.save(project, review)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        app = Tieout(
            {"PERSISTENCE_MODULE": "eventsourcing.popo"},
            LocalObjectStore(scratch),
            lambda _: InMemoryFencedRecorder(),
        )
        run_scenario(app, Path(scratch))
        written = 0
        for notification in app.recorder.select_notifications(start=None, limit=10_000):
            state = json.loads(notification.state)
            version = int(state.get("class_version", 1))
            target = SAMPLES / sample_name(notification.topic, version)
            if target.exists():
                continue
            sample = {
                "topic": notification.topic,
                "originator_id": str(notification.originator_id),
                "originator_version": notification.originator_version,
                "state": state,
            }
            target.write_text(json.dumps(sample, indent=2, sort_keys=True) + "\n")
            written += 1
            print(f"recorded {target.name}")  # noqa: T201
    print(f"{written} new samples")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
