"""The rules the Review aggregate enforces, on a small baseline, without a database."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import polars as pl
import pytest

from engine.domain.meta import event_meta
from engine.domain.project import Project
from engine.domain.review import (
    CONFIRMED,
    MANUAL,
    NONE,
    PENDING,
    REJECTED,
    UNMATCHED,
    Review,
    ReviewConflictError,
    SelfApprovalError,
)
from engine.domain.review_baseline import Baseline
from engine.errors import BadInputError, NotFoundError
from engine.reviews import Focus

ALICE = event_meta(actor="cli:alice", causation="test")
BOB = event_meta(actor="cli:bob", causation="test")


@pytest.fixture
def baseline() -> Baseline:
    """g1 matched 1:1, g2 suggested 1:1, g3 matched many-to-one (L3 = R3a + R3b); L4, R4 open."""
    decisions = pl.DataFrame(
        {
            "group_id": ["L1", "L2", "L3", "L3"],
            "left_id": ["L1", "L2", "L3", "L3"],
            "right_id": ["R1", "R2", "R3a", "R3b"],
            "rule": ["exact", "fuzzy", "split", "split"],
            "confidence": [1.0, 0.8, 1.0, 1.0],
            "status": ["matched", "suggested", "matched", "matched"],
            "left_amount": [10.0, 20.0, 30.0, 30.0],
            "right_amount": [10.0, 20.0, 12.0, 18.0],
        }
    )
    unmatched = pl.DataFrame(
        {"side": ["left", "right"], "id": ["L4", "R4"], "amount": [500.0, 499.0]}
    )
    return Baseline.from_frames(decisions, unmatched)


@pytest.fixture
def review() -> Review:
    return Review(job_id=uuid4(), project_id=uuid4(), meta=ALICE)


def replayed(review: Review) -> Review:
    """The aggregate rebuilt from the events it recorded."""
    events = review.collect_events()
    rebuilt = None
    for recorded in events:
        rebuilt = recorded.mutate(rebuilt)
    assert isinstance(rebuilt, Review)
    return rebuilt


def test_the_baseline_knows_groups_items_and_amounts(baseline: Baseline) -> None:
    assert baseline.rows == 9
    assert baseline.groups["L3"].right_ids == ("R3a", "R3b")
    assert baseline.groups["L3"].amount == 30.0
    assert baseline.amount_of(("right", "R3b")) == 18.0
    assert baseline.amount_of(("left", "nope")) is None


def test_a_decided_group_cannot_be_confirmed_again(baseline: Baseline, review: Review) -> None:
    review.confirm(baseline, ["L1", "L2"], "", ALICE)
    with pytest.raises(ReviewConflictError, match="group L2 is already confirmed"):
        review.confirm(baseline, ["L2"], "", BOB)
    with pytest.raises(ReviewConflictError, match="group L1 is already confirmed"):
        review.reject(baseline, "L1", "", BOB)
    with pytest.raises(NotFoundError, match="group nope not found"):
        review.confirm(baseline, ["nope"], "", BOB)


def test_only_a_suggestion_can_be_rejected_and_its_items_reopen(
    baseline: Baseline, review: Review
) -> None:
    with pytest.raises(ReviewConflictError, match="unmatch it instead"):
        review.reject(baseline, "L1", "", ALICE)
    review.reject(baseline, "L2", "not the same customer", ALICE)
    assert review.status_of("L2") == REJECTED
    assert set(review.open_items(baseline)) == {
        ("left", "L4"),
        ("right", "R4"),
        ("left", "L2"),
        ("right", "R2"),
    }


def test_a_manual_match_takes_only_open_items_of_the_job(
    baseline: Baseline, review: Review
) -> None:
    with pytest.raises(ReviewConflictError, match="right id R1 is not open: it is in group L1"):
        review.match(baseline, ["L4"], ["R1"], "", False, ALICE)  # noqa: FBT003
    with pytest.raises(NotFoundError, match="left id L9 is not in job"):
        review.match(baseline, ["L9"], ["R4"], "", False, ALICE)  # noqa: FBT003
    with pytest.raises(BadInputError, match="at least one left and one right"):
        review.match(baseline, ["L4"], [], "", False, ALICE)  # noqa: FBT003
    review.match(baseline, ["L4"], ["R4"], "same invoice", False, ALICE)  # noqa: FBT003
    assert review.status_of("manual-1") == MANUAL
    assert review.manual["manual-1"].difference == 1.0
    with pytest.raises(
        ReviewConflictError, match="left id L4 is not open: it is in group manual-1"
    ):
        review.match(baseline, ["L4"], ["R4"], "", False, BOB)  # noqa: FBT003


def test_an_unmatched_group_frees_its_items_for_a_manual_n_to_m_match(
    baseline: Baseline, review: Review
) -> None:
    review.unmatch(baseline, "L3", "wrong split", False, ALICE)  # noqa: FBT003
    assert review.status_of("L3") == UNMATCHED
    review.match(baseline, ["L3", "L4"], ["R3a", "R3b", "R4"], "", False, ALICE)  # noqa: FBT003
    assert review.item_category(baseline, ("right", "R3a")) == MANUAL
    review.unmatch(baseline, "manual-1", "", False, ALICE)  # noqa: FBT003
    assert review.item_category(baseline, ("right", "R3a")) == "open"
    with pytest.raises(ReviewConflictError, match="group manual-1 is already unmatched"):
        review.unmatch(baseline, "manual-1", "", False, ALICE)  # noqa: FBT003


def test_four_eyes_the_proposer_never_approves(baseline: Baseline, review: Review) -> None:
    action = review.match(baseline, ["L4"], ["R4"], "", True, ALICE)  # noqa: FBT003
    assert review.status_of("manual-1") == PENDING
    with pytest.raises(ReviewConflictError, match="left id L4 is not open"):
        review.match(baseline, ["L4"], ["R4"], "", False, BOB)  # noqa: FBT003
    with pytest.raises(SelfApprovalError, match="cli:alice proposed it"):
        review.approve(action, "", ALICE)
    review.approve(action, "checked", BOB)
    assert review.status_of("manual-1") == MANUAL
    with pytest.raises(ReviewConflictError, match=f"action {action} was already approved"):
        review.approve(action, "", BOB)


def test_a_declined_action_leaves_everything_as_it_was(baseline: Baseline, review: Review) -> None:
    review.confirm(baseline, ["L1"], "", ALICE)
    undo = review.unmatch(baseline, "L1", "", True, ALICE)  # noqa: FBT003
    with pytest.raises(ReviewConflictError, match="group L1 is already pending_approval"):
        review.unmatch(baseline, "L1", "", True, BOB)  # noqa: FBT003
    review.decline(undo, "keep it", BOB)
    assert review.status_of("L1") == CONFIRMED
    manual = review.match(baseline, ["L4"], ["R4"], "", True, ALICE)  # noqa: FBT003
    review.decline(manual, "withdrawn", ALICE)  # the proposer may withdraw
    assert review.status_of("manual-1") == REJECTED
    assert review.item_category(baseline, ("left", "L4")) == "open"


def test_revert_auto_undoes_undecided_automatic_matches_of_a_rule(
    baseline: Baseline, review: Review
) -> None:
    review.confirm(baseline, ["L1"], "", ALICE)
    with pytest.raises(ReviewConflictError, match="no undecided automatic matches of rule exact"):
        review.revert_auto(baseline, "exact", "", False, ALICE)  # noqa: FBT003
    with pytest.raises(BadInputError, match="decided nothing"):
        review.revert_auto(baseline, "nope", "", False, ALICE)  # noqa: FBT003
    action = review.revert_auto(baseline, None, "", True, ALICE)  # noqa: FBT003
    assert review.pending[action].group_ids == ("L3",)
    review.approve(action, "", BOB)
    assert [review.status_of(group) for group in ("L1", "L2", "L3")] == [
        CONFIRMED,
        NONE,
        UNMATCHED,
    ]


def test_explanations_take_a_known_reason_for_an_open_item(
    baseline: Baseline, review: Review
) -> None:
    with pytest.raises(BadInputError, match="reason: 'lost' is not one of timing"):
        review.explain(baseline, ("left", "L4"), "lost", "", ALICE)
    with pytest.raises(ReviewConflictError, match="left id L1 is not open"):
        review.explain(baseline, ("left", "L1"), "timing", "", ALICE)
    review.explain(baseline, ("left", "L4"), "timing", "clears Monday", ALICE)
    review.assign(baseline, ("left", "L4"), "carol", "", ALICE)
    assert review.explained["left", "L4"].reason == "timing"
    assert review.assigned["left", "L4"] == "carol"


def test_replaying_the_events_rebuilds_the_same_state(baseline: Baseline, review: Review) -> None:
    review.confirm(baseline, ["L1"], "", ALICE)
    review.reject(baseline, "L2", "", ALICE)
    pending = review.match(baseline, ["L2", "L4"], ["R4"], "", True, ALICE)  # noqa: FBT003
    review.unmatch(baseline, "L3", "", False, BOB)  # noqa: FBT003
    rebuilt = replayed(review)
    assert rebuilt.status == review.status
    assert rebuilt.held == review.held
    assert rebuilt.pending == review.pending
    assert rebuilt.pending[pending].proposer == "cli:alice"


def test_four_eyes_threshold_on_the_project() -> None:
    project = Project(name="p", meta=ALICE)
    assert not project.needs_approval(1e9)
    project.configure_four_eyes(Decimal(100), ALICE)
    assert not project.needs_approval(100.0)
    assert project.needs_approval(-100.5)
    project.configure_four_eyes(Decimal(0), ALICE)
    assert project.needs_approval(0.0)


def test_a_focus_keeps_whole_groups_of_the_items_it_names(baseline: Baseline) -> None:
    decisions = pl.DataFrame(
        {
            "group_id": ["L1", "L3", "L3", "manual-2"],
            "left_id": ["L1", "L3", "L3", "manual-2"],
            "right_id": ["R1", "R3a", "R3b", "R7"],
            "rule": ["exact", "split", "split", "exact"],
            "confidence": [1.0, 1.0, 1.0, 1.0],
            "status": ["matched"] * 4,
        }
    )
    unmatched = pl.DataFrame({"side": ["left", "right"], "id": ["L4", "R4"], "amount": [1.0, 2.0]})
    focus = Focus(items=frozenset({("right", "R3b"), ("left", "L4")}))
    focused = Baseline.from_frames(*focus.select(decisions, unmatched))
    assert set(focused.groups) == {"L3", "manual-2"}  # manual-looking ids: never reused
    assert focused.groups["L3"].right_ids == ("R3a", "R3b")
    assert set(focused.unmatched) == {("left", "L4")}
    review = Review(job_id=uuid4(), project_id=uuid4(), meta=ALICE)
    review.match(baseline, ["L4"], ["R4"], "", False, ALICE)  # noqa: FBT003
    assert review._next_manual_id(focused) == "manual-3"  # manual-1 is taken, manual-2 recorded
