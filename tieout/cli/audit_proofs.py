"""`tieout audit verify|prove|check-proof`: the chain over the log, and decision proofs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.commitment import Verifier
from engine.decision_proofs import Commitment, ProofInvalidError
from engine.decision_proofs import check_proof as check_decision_proof
from engine.decision_proofs import prove as prove_decision
from engine.errors import BadInputError
from projections.chain import Verdict
from tieout.backups import verify_chain
from tieout.cli.audit import audit
from tieout.cli.context import container, emit_json, parse_id

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
    with container() as built:
        verdict = verify_chain(built, start, end)
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


@audit.command("prove")
@click.argument("job")
@click.argument("group")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it here.")
def prove(job: str, group: str, out: Path | None) -> None:
    """An inclusion proof that decision GROUP (its group_id) is in JOB's signed result."""
    job_id = parse_id(job, "JOB")
    with container() as built:
        found = built.app.get_job(job_id)
        if found.outcome is None or not found.outcome.commitment:
            raise BadInputError(f"job {job_id} has no signed commitment ({found.status})")
        matches, _ = built.app.recorded_decisions(job_id)
        commitment = Commitment(**found.outcome.commitment)
        proof = prove_decision(job_id, matches, group, commitment)
    text = json.dumps(proof, indent=2, sort_keys=True)
    if out is None:
        click.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    click.echo(str(out))


@audit.command("check-proof")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    default=None,
    help="Trust only this key (base64 of 32 bytes); default: the key the proof names.",
)
def check_proof(file: Path, public_key: str | None) -> None:
    """Verify a proof offline (no database): exit 0 if it holds, 1 if it does not."""
    try:
        proof = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BadInputError(f"{file}: not a JSON proof") from None
    if not isinstance(proof, dict):
        raise BadInputError(f"{file}: not a JSON proof")
    trusted = Verifier.from_text(public_key) if public_key else None
    try:
        checked = check_decision_proof(proof, trusted)
    except ProofInvalidError as invalid:
        click.echo(f"INVALID: {invalid}")
        sys.exit(EXIT_TAMPERED)
    click.echo(
        f"proof holds: {checked.rows} decision rows of job {checked.job_id} are in its result,"
        f" signed by key {checked.key_id}"
    )
