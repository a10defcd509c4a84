"""The demo's last act: two people review the job, and the log shows who did what.

Alice confirms the most confident suggestion, rejects the least confident one, and matches
two open items by hand; the project's four-eyes rule holds her manual match until Bob
approves it. Each step prints the action id the CLI would print.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from rich.console import Console
from rich.table import Table

from engine.domain.meta import event_meta
from engine.domain.review_baseline import LEFT, RIGHT, SUGGESTED, Baseline
from engine.reviews import Reviews

ALICE = event_meta(actor="cli:alice", causation="demo.review")
BOB = event_meta(actor="cli:bob", causation="demo.review")


def review_demo(reviews: Reviews, project_id: UUID, job_id: UUID, console: Console) -> None:
    """Confirm, reject, match by hand under four-eyes, approve; print the trail."""
    baseline = reviews.baseline(job_id)
    suggestions = sorted(
        (group for group in baseline.groups.values() if group.status == SUGGESTED),
        key=lambda group: (-group.confidence, group.group_id),
    )
    reviews.configure_four_eyes(project_id, Decimal(0), ALICE)
    table = Table("action", "by", "what", "action id", title="Review (four eyes on every match)")
    # the best suggestion is confirmed, or an automatic match when there is one suggestion
    automatic = (group for group in baseline.groups.values() if group.status != SUGGESTED)
    best = suggestions[0] if len(suggestions) > 1 else next(automatic, None)
    if best is not None:
        done = reviews.confirm(job_id, [best.group_id], "amounts and dates agree", ALICE)
        table.add_row("confirm", "alice", f"group {best.group_id} ({best.confidence:.2f})", done)
    if suggestions:
        worst = suggestions[-1]
        done = reviews.reject(job_id, worst.group_id, "different payee", ALICE)
        table.add_row("reject", "alice", f"group {worst.group_id} ({worst.confidence:.2f})", done)
    pair = _closest_open_pair(baseline)
    if pair is not None:
        left, right = pair
        proposed = reviews.match(job_id, [left], [right], "same invoice, typo in ref", ALICE)
        table.add_row("match", "alice", f"left {left} + right {right}: pending", proposed)
        approved = reviews.approve(job_id, proposed, "checked the invoice", BOB)
        table.add_row("approve", "bob", f"alice's match {proposed[:8]}…", approved)
    console.print(table)
    counts = reviews.state(job_id).counts()
    shown = " · ".join(f"{name} {count:,}" for name, count in counts.items())
    console.print(
        f"[bold]Review[/bold] items now: {shown} (= {baseline.rows:,} rows); "
        "alice's manual match approved by cli:bob, provable from the log "
        f"(tieout audit events --project {project_id})",
        soft_wrap=True,
        highlight=False,
    )


def _closest_open_pair(baseline: Baseline) -> tuple[str, str] | None:
    """The open left and right items whose amounts are closest: the kind of pair an
    analyst matches by hand."""
    lefts = sorted(
        (amount, item) for (side, item), amount in baseline.unmatched.items() if side == LEFT
    )
    rights = sorted(
        (amount, item) for (side, item), amount in baseline.unmatched.items() if side == RIGHT
    )
    if not lefts or not rights:
        return None
    best: tuple[float, str, str] | None = None
    position = 0
    for amount, left in lefts:
        while position + 1 < len(rights) and rights[position + 1][0] <= amount:
            position += 1
        for candidate, right in rights[position : position + 2]:
            gap = abs(candidate - amount)
            if best is None or gap < best[0]:
                best = (gap, left, right)
    return (best[1], best[2]) if best else None
