"""/api/ready: the event store answers and the audit index keeps up with the log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from net_helpers import free_port, get

from api.health import READY_MAX_LAG, create_app
from engine.domain.meta import event_meta
from engine.domain.project import Project
from projections.projector import catch_up
from tieout.bootstrap import Container

META = event_meta(actor="user:alice@example.com", causation="test")


async def test_not_ready_while_the_index_trails_the_log(
    container: Container, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(container))
    catch_up(container.projections, timeout_seconds=30)
    assert (await client.get("/api/ready")).status == 200
    container.app.save(*(Project(f"p{n}", META) for n in range(READY_MAX_LAG + 1)))
    behind = await client.get("/api/ready")
    assert behind.status == 503
    body = await behind.json()
    assert (body["status"], body["projection_lag_events"]) == ("catching up", READY_MAX_LAG + 1)
    assert body["projections"] == dict.fromkeys(
        (spec.name for spec in container.projections.specs), READY_MAX_LAG + 1
    )
    catch_up(container.projections, timeout_seconds=30)
    again = await client.get("/api/ready")
    assert (again.status, (await again.json())["projection_lag_events"]) == (200, 0)


def test_serve_on_the_embedded_default_runs_the_projector(embedded_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEOUT_")}
    env["TIEOUT_HOME"] = str(embedded_home)
    tieout = str(Path(sys.executable).parent / "tieout")
    created = subprocess.run(
        [tieout, "projects", "create", "indexed by serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert created.stdout.strip()
    port = free_port()
    server = subprocess.Popen([tieout, "serve", "--port", str(port)], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            status, body = get(f"http://127.0.0.1:{port}/api/ready")
            if status == 200 and json.loads(body)["projection_lag_events"] == 0:
                break
            assert server.poll() is None, "serve exited"
            assert time.monotonic() < deadline, f"index never caught up: {status} {body}"
            time.sleep(0.2)
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


async def test_handlers_run_on_threads_bounded_by_the_pool(
    container: Container, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(container))
    assert (await client.get("/api/health")).status == 200
    executor = getattr(asyncio.get_running_loop(), "_default_executor", None)
    assert isinstance(executor, ThreadPoolExecutor)
    assert executor._max_workers == container.settings.db_pool_size
