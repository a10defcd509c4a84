"""/api/health, /api/ready and the job metrics, computed from the database at scrape time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from jobs_helpers import register_inputs, worker
from net_helpers import free_port, get
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from api.health import create_app
from tieout.bootstrap import Container
from tieout.metrics import register_queue_metrics


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_health_ready_and_metrics_count_jobs(
    container: Container, tmp_path: Path, aiohttp_client: Any
) -> None:
    inputs = register_inputs(container, tmp_path, rows=200)
    done = inputs.request(container, key="good")
    poison = inputs.request(container, key="poison")
    registry = CollectorRegistry()
    register_queue_metrics(container.queue, registry)
    runner = worker(container, max_attempts=1)
    assert runner.tick()
    stored = Path(container.settings.object_store_location)
    source = container.app.get_source(inputs.project_id, inputs.left_id)
    (stored / source.location).write_bytes(b"corrupt")
    assert runner.tick()
    client: TestClient[Any, Any] = await aiohttp_client(create_app(container, registry))

    health = await client.get("/api/health")
    assert health.status == 200
    assert (await health.json())["jobs"] == {"completed": 1, "dead_lettered": 1}
    ready = await client.get("/api/ready")
    assert (ready.status, (await ready.json())["status"]) == (200, "ready")

    found = samples(await (await client.get("/metrics")).text())
    assert found[("tieout_jobs", (("status", "completed"),))] == 1
    assert found[("tieout_jobs", (("status", "running"),))] == 0
    assert found[("tieout_job_attempts_total", ())] == 2
    assert found[("tieout_jobs_failed_total", ())] == 1
    assert found[("tieout_jobs_completed_total", ())] == 1
    assert found[("tieout_dead_letters_total", ())] == 1
    assert found[("tieout_lease_takeovers_total", ())] == 0
    assert found[("tieout_job_duration_seconds_count", ())] == 1
    assert found[("tieout_oldest_running_job_heartbeat_age_seconds", ())] == 0
    assert {done, poison} == {entry.job_id for entry in container.queue.entries()}


def test_serve_answers_health_ready_and_metrics(cli_env: dict[str, str]) -> None:
    port = free_port()
    tieout = str(Path(sys.executable).parent / "tieout")
    server = subprocess.Popen([tieout, "serve", "--port", str(port)], env=cli_env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while get(f"{base}/api/ready")[0] != 200:
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.1)
        status, body = get(f"{base}/metrics")
        assert status == 200
        assert 'tieout_jobs{status="requested"} 0.0' in body
        health = json.loads(get(f"{base}/api/health")[1])
        assert (health["status"], health["jobs"], health["counts"]["pending"]) == ("ok", {}, 0)
    finally:
        server.terminate()
        assert server.wait(timeout=20) == 0
