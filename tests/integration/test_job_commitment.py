"""A completed job signs a Merkle root over its decisions; `tieout audit prove` and
`check-proof` let an auditor sample one decision and verify it with nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jobs_helpers import register_inputs

from engine.commitment import Signer, merkle_root
from engine.decision_proofs import Commitment, leaves_of
from tieout.bootstrap import Container
from tieout.workers import run_until_done

TIEOUT = str(Path(sys.executable).parent / "tieout")


def test_a_job_commits_to_its_decisions_and_proves_one_offline(
    container: Container, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    inputs = register_inputs(container, tmp_path, rows=300)
    job = run_until_done(container, inputs.request(container), lambda _: None, 120)
    assert job.outcome is not None
    commitment = Commitment(**job.outcome.commitment)
    matches, _ = container.app.recorded_decisions(job.id)
    assert commitment.leaves == matches.height > 0
    assert commitment.root == merkle_root(leaves_of(matches)).hex()
    assert commitment.key_id == container.signer.verifier.key_id
    group = str(matches.get_column("group_id")[matches.height // 2])

    def tieout(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TIEOUT, *args], env=cli_env, capture_output=True, text=True, check=False
        )

    proof_file = tmp_path / "proof.json"
    proved = tieout("audit", "prove", str(job.id), group, "--out", str(proof_file))
    assert proved.returncode == 0, proved.stderr
    checked = tieout("audit", "check-proof", str(proof_file))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("proof holds: ")
    stranger = tieout(
        "audit", "check-proof", str(proof_file), "--public-key", Signer.generate().verifier.text
    )
    assert stranger.returncode == 1
    assert stranger.stdout.startswith("INVALID: the root is not signed")
    proof = json.loads(proof_file.read_text())
    proof["decisions"][0]["row"]["status"] = "matched" if "sugg" in str(proof) else "suggested"
    proof_file.write_text(json.dumps(proof))
    edited = tieout("audit", "check-proof", str(proof_file))
    assert edited.returncode == 1
    assert "does not lead to the signed root" in edited.stdout
