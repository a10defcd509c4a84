"""A completed job's reads through the API: pages, stats, the streamed export, history,
the proof of replay and a diff; strong ETags and 304 for what cannot change."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from datetime import UTC, datetime

import polars as pl
import pytest
from api_helpers import Client, build_world, completed_job, job_body
from export_helpers import make_export_large

from api.keys import METRICS
from api.middlewares import CLIENT_CLOSED
from projections.projector import catch_up
from tieout.bootstrap import Container

J = "/api/reconciliation/jobs"


async def test_results_pages_stats_and_conditional_reads(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    job = await completed_job(client, admin, container)
    page = await client.get(f"{J}/{job}/results?limit=1", headers=admin)
    assert page.status == 200
    body = await page.json()
    assert len(body["items"]) == 1
    assert body["next_cursor"]
    tag = page.headers["ETag"]
    assert tag.startswith('"')
    again = await client.get(f"{J}/{job}/results?limit=1", headers=admin | {"If-None-Match": tag})
    assert (again.status, again.headers["ETag"]) == (304, tag)
    following = await client.get(
        f"{J}/{job}/results?limit=1&cursor={body['next_cursor']}",
        headers=admin | {"If-None-Match": tag},
    )
    assert following.status == 200  # another page is another representation
    assert following.headers["ETag"] != tag
    unmatched = await (await client.get(f"{J}/{job}/unmatched?side=left", headers=admin)).json()
    assert [item["id"] for item in unmatched["items"]] == ["3"]
    stats = await client.get(f"{J}/{job}/stats", headers=admin)
    assert (await stats.json())["status"] == "completed"
    assert "ETag" in stats.headers
    bad = await client.get(
        f"{J}/{job}/results?min_confidence=0.9&max_confidence=0.1", headers=admin
    )
    assert bad.status == 422


async def test_export_history_rerun_and_diff(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    job = await completed_job(client, admin, container)
    csv = await client.get(f"{J}/{job}/export?format=csv", headers=admin | {"X-Request-ID": "e-1"})
    assert csv.status == 200
    assert (csv.content_type, csv.headers["X-Request-ID"]) == ("text/csv", "e-1")
    frame = pl.read_csv(io.BytesIO(await csv.read()))
    assert frame.height == 2
    parquet = await client.get(f"{J}/{job}/export?format=parquet&what=unmatched", headers=admin)
    assert parquet.content_type == "application/x-parquet"
    assert len(parquet.headers["X-Request-ID"]) == 32  # streamed answers get an id too
    for streamed in (csv, parquet):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
            streamed.headers
        )
    assert pl.read_parquet(io.BytesIO(await parquet.read())).height == 1
    tag = csv.headers["ETag"]
    cached = await client.get(
        f"{J}/{job}/export?format=csv", headers=admin | {"If-None-Match": tag}
    )
    assert cached.status == 304
    now = datetime.now(UTC).isoformat()
    history = await client.get(f"{J}/{job}/history", params={"as_of": now}, headers=admin)
    assert (await history.json())["status"] == "completed"
    proof = await (await client.post(f"{J}/{job}/rerun", headers=admin)).json()
    assert proof["identical"] is True
    project = (await (await client.get(f"{J}/{job}", headers=admin)).json())["project_id"]
    same_rules = await client.get(f"/api/projects/{project}/rulesets/1", headers=admin)
    ruleset = (await same_rules.json())["ruleset"]
    diff = await client.post(f"{J}/{job}/diff", json=ruleset, headers=admin)
    assert diff.status == 200, await diff.text()
    counts = (await diff.json())["counts"]
    assert (counts["added"], counts["removed"], counts["changed"]) == (0, 0, 0)


async def test_a_running_job_has_no_etag(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    world = await build_world(client, admin)
    made = await client.post(J, json=job_body(world), headers=admin)
    job = (await made.json())["id"]
    catch_up(container.projections, timeout_seconds=60)
    stats = await client.get(f"{J}/{job}/stats", headers=admin)
    assert stats.status == 200, await stats.text()
    assert "ETag" not in stats.headers


async def test_a_client_leaving_mid_export_is_no_server_error(
    client: Client, admin: dict[str, str], container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    """The export streams pages while the client reads; a client that closes the
    connection part way ends it quietly, logged and counted as 499, never as an error.
    (The server cancels the handler, `server_options`; were it not to, the handler's next
    write would fail instead, and the handler ends the export on that too.)"""
    job = await completed_job(client, admin, container)
    make_export_large(container, job)
    caplog.set_level(logging.INFO, logger="tieout.api")
    export = await client.get(f"{J}/{job}/export?format=csv", headers=admin)
    assert export.status == 200
    assert (await export.content.read(1 << 16)).startswith(b"row_no,")
    export.close()
    deadline = time.monotonic() + 30
    logged = f"GET /api/reconciliation/jobs/{{job_id}}/export {CLIENT_CLOSED}"
    while not any(record.getMessage() == logged for record in caplog.records):
        assert time.monotonic() < deadline, [record.getMessage() for record in caplog.records]
        await asyncio.sleep(0.05)
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    left = {"method": "GET", "route": f"{J}/{{job_id}}/export", "status": str(CLIENT_CLOSED)}
    registry = client.app[METRICS]
    assert registry.get_sample_value("tieout_http_requests_total", left) == 1
    assert registry.get_sample_value("tieout_http_request_duration_seconds_count", left) == 1
    health = await client.get("/api/health")
    assert health.status == 200
