"""A completed job's reads through the API: pages, stats, the streamed export, history,
the proof of replay and a diff; strong ETags and 304 for what cannot change."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import polars as pl
from api_helpers import Client, build_world, completed_job, job_body

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
    csv = await client.get(f"{J}/{job}/export?format=csv", headers=admin)
    assert csv.status == 200
    frame = pl.read_csv(io.BytesIO(await csv.read()))
    assert frame.height == 2
    parquet = await client.get(f"{J}/{job}/export?format=parquet&what=unmatched", headers=admin)
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
