"""`tieout audit verify`: recompute the hash chain and name the first bad position."""

from __future__ import annotations

import sys

import click
from eventsourcing.persistence import Tracking

from projections.chain import ChainView, Verdict
from tieout.cli.audit import audit
from tieout.cli.context import container, emit_json

EXIT_TAMPERED = 1


@audit.command("verify")
@click.option("--from", "start", default=1, type=click.IntRange(1), help="First event to check.")
@click.option("--to", "end", default=None, type=click.IntRange(1), help="Last event to check.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify(start: int, end: int | None, as_json: bool) -> None:
    """Recompute the chain over events FROM..TO from the nearest seal before FROM, after
    chaining what is new. Exit 1 and name the first bad position when the log was changed."""
    if end is not None and end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}")
    with (
        container() as built,
        built.projections.opened(built.projections.named("chain")) as (log, view),
    ):
        if not isinstance(view, ChainView):
            raise TypeError(f"the chain projection's view is a {type(view).__name__}")
        view.extend(Tracking(log.name, log.recorder.max_notification_id() or 0))
        verdict = view.verify(built.signer.verifier, start, end)
    if as_json:
        emit_json(_as_json(verdict))
    else:
        click.echo(_line(verdict))
    if not verdict.ok:
        sys.exit(EXIT_TAMPERED)


def _line(verdict: Verdict) -> str:
    if not verdict.ok:
        return f"TAMPERED at event {verdict.first_bad}: {verdict.reason}"
    span = f"events {verdict.start}..{verdict.end}" if verdict.events else "no events"
    return (
        f"chain intact: {span} ({verdict.events} rehashed, {verdict.seals} signed seals"
        f" checked), head {verdict.head.hex()}"
    )


def _as_json(verdict: Verdict) -> dict[str, object]:
    return {
        "ok": verdict.ok,
        "from": verdict.start,
        "to": verdict.end,
        "events": verdict.events,
        "seals": verdict.seals,
        "head": verdict.head.hex(),
        "first_bad": verdict.first_bad,
        "reason": verdict.reason,
        "unchained": verdict.unchained,
    }
