"""Record a stored sample of every event version that has none yet.

Run `python tests/samples/record_samples.py` after adding an event or bumping a
`class_version`. Existing samples are never overwritten: they are the proof that events
stored by older versions of Tieout keep loading (tests/unit/test_event_samples.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from engine.application import Tieout
from engine.domain.meta import event_meta
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
    left_id = app.register_source(project, left, meta)
    right_id = app.register_source(project, right, meta)
    app.request_job(project, left_id, right_id, 1, meta, idempotency_key="sample")


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        app = Tieout({"PERSISTENCE_MODULE": "eventsourcing.popo"}, LocalObjectStore(scratch))
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
