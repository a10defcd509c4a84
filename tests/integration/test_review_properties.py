"""Any sequence of review commands from several reviewers keeps the review's invariants
(hypothesis, stateful, on a real PostgreSQL):

- every item of the job is in at most one live group;
- matched + suggested + manual + open = the job's rows;
- the read models, caught up, say what replaying the log says: each group's review status,
  the open items and the counts.

Each example reviews a fresh job on the same inputs.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from budget import DEEP, SCALE, examples
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from review_helpers import EXACT, NEAR, OPEN, SPLITS, ReviewJob, new_job, register

from engine.domain.meta import event_meta
from engine.domain.review import DEAD
from engine.errors import TieoutError
from engine.reviews import Reviews, ReviewState
from projections.projector import catch_up
from tieout.bootstrap import Container

ACTORS = [event_meta(actor=f"cli:{name}", causation="property") for name in ("ann", "ben")]
GROUPS = (
    [f"L{n}" for n in range(EXACT)]
    + [f"N{n}" for n in range(NEAR)]
    + [f"S{n}" for n in range(SPLITS)]
    + ["manual-1", "manual-2", "manual-3"]
)
LEFTS = [f"L{n}" for n in range(3)] + ["N0", "N1", "S0"] + [f"U{n}" for n in range(OPEN)]
RIGHTS = [f"E{n}" for n in range(3)] + ["M0", "M1", "T0a", "T0b"] + [f"V{n}" for n in range(OPEN)]
actors = st.sampled_from(ACTORS)


class ReviewMachine(RuleBasedStateMachine):
    container: Container
    template: ReviewJob
    totals: Counter[str]
    """Commands that succeeded, over all examples: the test must exercise each."""
    actions = Bundle("actions")

    @initialize(above=st.sampled_from([None, Decimal(0)]))
    def fresh_job(self, above: Decimal | None) -> None:
        """Half the examples start under four-eyes for every amount, so approvals and
        declines are reached in every run, not in one seed of several."""
        self.job = new_job(self.container, self.template)
        self.reviews = Reviews(self.container.app)
        self.reviews.configure_four_eyes(self.template.project_id, above, ACTORS[0])

    def attempt(self, command: Any, *args: Any) -> str | None:
        try:
            found = command(self.job.job_id, *args)
        except TieoutError:
            return None
        self.totals[command.__name__] += 1
        return str(found)

    @rule(group=st.sampled_from(GROUPS), actor=actors)
    def confirm(self, group: str, actor: Any) -> None:
        self.attempt(self.reviews.confirm, [group], "", actor)

    @rule(group=st.sampled_from(GROUPS), actor=actors)
    def reject(self, group: str, actor: Any) -> None:
        self.attempt(self.reviews.reject, group, "", actor)

    @rule(target=actions, data=st.data(), actor=actors)
    def match(self, data: st.DataObject, actor: Any) -> str:
        state = self.state()
        review = state.review
        opened = sorted(review.open_items(state.baseline) if review else state.baseline.unmatched)
        ids = {side: [item for s, item in opened if s == side] for side in ("left", "right")}
        if not ids["left"] or not ids["right"]:
            return "none"
        # mostly open items, sometimes any item (which the domain must refuse)
        lefts = data.draw(
            st.lists(
                st.sampled_from(ids["left"]) | st.sampled_from(LEFTS),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        rights = data.draw(
            st.lists(
                st.sampled_from(ids["right"]) | st.sampled_from(RIGHTS),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        return self.attempt(self.reviews.match, lefts, rights, "", actor) or "none"

    @rule(target=actions, group=st.sampled_from(GROUPS), actor=actors)
    def unmatch(self, group: str, actor: Any) -> str:
        return self.attempt(self.reviews.unmatch, group, "", actor) or "none"

    @rule(target=actions, rule_name=st.sampled_from([None, "split", "exact-reference"]))
    def revert_auto(self, rule_name: str | None) -> str:
        return self.attempt(self.reviews.revert_auto, rule_name, "", ACTORS[0]) or "none"

    @rule(action=actions, actor=actors)
    def approve(self, action: str, actor: Any) -> None:
        self.attempt(self.reviews.approve, action, "", actor)

    @rule(data=st.data())
    def settle_pending(self, data: st.DataObject) -> None:
        """A second person settles an action awaiting approval, as reviewers do: random
        action ids alone seldom name one, and a run must reach approvals."""
        review = self.state().review
        # in the order they were proposed: action ids are random, so an order by id would
        # differ when hypothesis replays the same steps, and so would what it drew
        pending = list(review.pending.items()) if review else []
        if not pending:
            return
        action_id, waiting = data.draw(st.sampled_from(pending))
        other = next(meta for meta in ACTORS if meta["actor"] != waiting.proposer)
        settle = self.reviews.approve if data.draw(st.booleans()) else self.reviews.decline
        self.attempt(settle, action_id, "", other)

    @rule(action=actions, actor=actors)
    def decline(self, action: str, actor: Any) -> None:
        self.attempt(self.reviews.decline, action, "", actor)

    @rule(above=st.sampled_from([None, Decimal(0), Decimal(500)]))
    def four_eyes(self, above: Decimal | None) -> None:
        self.reviews.configure_four_eyes(self.template.project_id, above, ACTORS[0])

    def state(self) -> ReviewState:
        return Reviews(self.container.app).state(self.job.job_id)  # replayed from the log

    @invariant()
    def each_item_in_at_most_one_live_group(self) -> None:
        state = self.state()
        if state.review is None:
            return
        review, baseline = state.review, state.baseline
        items: Counter[tuple[str, str]] = Counter()
        for group in baseline.groups.values():
            if review.status_of(group.group_id) not in DEAD:
                items.update(group.items())
        for group_id, manual in review.manual.items():
            if review.status_of(group_id) not in DEAD:
                items.update(manual.items())
        assert [item for item, count in items.items() if count > 1] == []

    @invariant()
    def counts_add_up(self) -> None:
        state = self.state()
        assert sum(state.counts().values()) == state.baseline.rows

    def teardown(self) -> None:
        if not hasattr(self, "job"):
            return
        assert catch_up(self.container.projections, 60) == 0
        state = self.state()
        results = self.container.results
        rows = results.decisions(self.job.job_id, limit=1000).items
        assert {row["group_id"]: row["review_status"] for row in rows} == {
            row["group_id"]: state.status_of(row["group_id"]) for row in rows
        }
        opened = results.exception_queue(self.job.job_id, limit=1000).items
        expected = set(state.review.open_items(state.baseline)) if state.review else set()
        if state.review is None:
            expected = set(state.baseline.unmatched)
        assert {(item["side"], item["id"]) for item in opened} == expected
        assert results.review_stats(self.job.job_id)["items"] == state.counts()


@pytest.mark.timeout(300 * SCALE)  # a deep run's twenty times the examples take minutes
def test_any_review_sequence_keeps_the_invariants(container: Container, tmp_path: Path) -> None:
    ReviewMachine.container = container
    ReviewMachine.template = register(container, tmp_path / "inputs")
    ReviewMachine.totals = Counter()
    run_state_machine_as_test(
        ReviewMachine,
        settings=settings(
            max_examples=examples(10),
            derandomize=not DEEP,  # the floors below count rare commands over 10 examples
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    done = ReviewMachine.totals
    assert done["confirm"], done
    assert done["match"], done
    assert done["unmatch"] + done["revert_auto"], done
    assert done["approve"] + done["decline"], done
