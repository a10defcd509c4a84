"""A client's way through the API: a project, sources, a ruleset, jobs, the audit log."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import polars as pl
from api_helpers import LEFT_CSV, OPERATOR, Client, World, build_world, job_body

from api.logs import JsonFormatter, RequestIdFilter
from engine.domain.org import Role
from projections.projector import catch_up
from tieout.bootstrap import Container


async def test_project_sources_ruleset_and_jobs(client: Client, admin: dict[str, str]) -> None:
    world = await build_world(client, admin)
    listed = await (await client.get("/api/projects", headers=admin)).json()
    assert [item["id"] for item in listed["items"]] == [world.project]
    assert listed["next_cursor"] is None
    project = await (await client.get(f"/api/projects/{world.project}", headers=admin)).json()
    assert (project["name"], project["latest_ruleset_version"], project["role"]) == (
        "Bank",
        1,
        "admin",
    )
    ruleset = await client.get(f"/api/projects/{world.project}/rulesets/1", headers=admin)
    assert (await ruleset.json())["ruleset"]["rules"][0]["name"] == "exact-reference"

    first = await client.post(
        "/api/reconciliation/jobs",
        json=job_body(world),
        headers=admin | {"Idempotency-Key": "run-1"},
    )
    assert first.status == 202
    job = await first.json()
    assert job["status"] == "requested"
    again = await client.post(
        "/api/reconciliation/jobs",
        json=job_body(world),
        headers=admin | {"Idempotency-Key": "run-1"},
    )
    assert (again.status, (await again.json())["id"]) == (202, job["id"])
    other = job_body(world) | {"left_source_id": world.right}
    clash = await client.post(
        "/api/reconciliation/jobs", json=other, headers=admin | {"Idempotency-Key": "run-1"}
    )
    assert clash.status == 409
    assert clash.content_type == "application/problem+json"

    shown = await (await client.get(f"/api/reconciliation/jobs/{job['id']}", headers=admin)).json()
    assert (shown["id"], shown["ruleset_version"]) == (job["id"], 1)
    cancelled = await client.post(f"/api/reconciliation/jobs/{job['id']}/cancel", headers=admin)
    assert cancelled.status == 200
    twice = await client.post(f"/api/reconciliation/jobs/{job['id']}/cancel", headers=admin)
    assert twice.status == 409


async def test_upload_answers_rows_and_the_sha256_of_the_bytes(
    client: Client, admin: dict[str, str]
) -> None:
    world = await build_world(client, admin)
    listed = await client.get(f"/api/projects/{world.project}/sources", headers=admin)
    assert listed.status == 200
    answer = await client.post(
        f"/api/projects/{world.project}/sources?name=left.csv",
        data=LEFT_CSV,
        headers=admin | {"Content-Type": "text/csv"},
    )
    source = await answer.json()
    assert (source["id"], source["rows"]) == (world.left, 3)
    assert source["sha256"] == hashlib.sha256(LEFT_CSV).hexdigest()


async def test_jobs_page_with_a_keyset_cursor(client: Client, admin: dict[str, str]) -> None:
    world = await build_world(client, admin)
    made = []
    for n in range(5):
        answer = await client.post(
            "/api/reconciliation/jobs",
            json=job_body(world),
            headers=admin | {"Idempotency-Key": f"k{n}"},
        )
        made.append((await answer.json())["id"])
    seen: list[str] = []
    url = f"/api/reconciliation/jobs?project_id={world.project}&limit=2"
    cursor = None
    while True:
        page = await (
            await client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=admin)
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))
    bad = await client.get("/api/reconciliation/jobs?cursor=bm9wZQ", headers=admin)
    assert bad.status == 422


async def test_request_ids_reach_the_events_and_the_audit_log(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    world = await build_world(client, admin)
    answer = await client.post(
        "/api/reconciliation/jobs",
        json=job_body(world),
        headers=admin | {"X-Request-ID": "req-42.a"},
    )
    assert answer.headers["X-Request-ID"] == "req-42.a"
    insane = await client.get("/api/projects", headers=admin | {"X-Request-ID": "a b<script>"})
    assert insane.headers["X-Request-ID"] != "a b<script>"
    assert len(insane.headers["X-Request-ID"]) == 32
    catch_up(container.projections, timeout_seconds=30)
    found = await client.get("/api/audit/events?request_id=req-42.a", headers=admin)
    items = (await found.json())["items"]
    assert [item["event_type"] for item in items] == ["JobRequested"]
    assert items[0]["actor"] == "user:boss@acme.test"
    sources = await (
        await client.get(f"/api/projects/{world.project}/sources", headers=admin)
    ).json()
    assert {item["source_id"] for item in sources["items"]} == {world.left, world.right}


async def test_members(client: Client, admin: dict[str, str], container: Container) -> None:
    container.tenancy.create_user("ann@acme.test", Role.VIEWER, "acme", OPERATOR)
    world: World = await build_world(client, admin)
    url = f"/api/projects/{world.project}/members"
    added = await client.post(
        url, json={"email": "ann@acme.test", "role": "analyst"}, headers=admin
    )
    assert added.status == 201
    listed = await (await client.get(url, headers=admin)).json()
    assert {(item["email"], item["role"]) for item in listed["items"]} == {
        ("boss@acme.test", "admin"),
        ("ann@acme.test", "analyst"),
    }
    stranger = await client.post(
        url, json={"email": "nobody@acme.test", "role": "viewer"}, headers=admin
    )
    assert stranger.status == 422
    removed = await client.delete(f"{url}/ann@acme.test", headers=admin)
    assert removed.status == 204
    assert (await client.delete(f"{url}/ann@acme.test", headers=admin)).status == 422
    listed = await (await client.get(url, headers=admin)).json()
    assert [item["email"] for item in listed["items"]] == ["boss@acme.test"]


async def test_each_request_is_one_json_log_line_with_its_request_id(
    client: Client, admin: dict[str, str]
) -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tieout.api")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        await client.get("/api/projects", headers=admin | {"X-Request-ID": "trace-7"})
    finally:
        logger.removeHandler(handler)
    found = [json.loads(line) for line in lines]
    assert [(line["request_id"], line["route"], line["status"]) for line in found] == [
        ("trace-7", "/api/projects", 200)
    ]
    assert found[0]["actor"] == "user:boss@acme.test"


async def test_parquet_and_ndjson_uploads_answer_rows_and_sha256(
    client: Client, admin: dict[str, str]
) -> None:
    world = await build_world(client, admin)
    url = f"/api/projects/{world.project}/sources"
    frame = pl.DataFrame({"txn_id": ["p1", "p2"], "amount": [1.5, 2.0]})
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    ndjson = b'{"txn_id": "n1", "amount": 3}\n{"txn_id": "n2", "amount": 4.5}\n{"txn_id": "n3"}\n'
    for name, media, data, rows in (
        ("p.parquet", "application/x-parquet", buffer.getvalue(), 2),
        ("n.ndjson", "application/x-ndjson", ndjson, 3),
    ):
        answer = await client.post(
            f"{url}?name={name}", data=data, headers=admin | {"Content-Type": media}
        )
        assert answer.status == 201, await answer.text()
        source = await answer.json()
        assert (source["name"], source["rows"]) == (name, rows)
        assert source["sha256"] == hashlib.sha256(data).hexdigest()
    broken = b'{"txn_id": "b1", "amount": 1}\n{"txn_id": "b2", "amount": 2}\n{"txn_id": "b3", \n'
    refused = await client.post(
        f"{url}?name=b.ndjson",
        data=broken,
        headers=admin | {"Content-Type": "application/x-ndjson"},
    )
    assert refused.status == 422
    assert refused.content_type == "application/problem+json"
    assert "line 3" in (await refused.json())["detail"]
