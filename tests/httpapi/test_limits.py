"""Bad input of every kind answers 4xx problem documents, never 5xx: oversized, chunked,
truncated, stalled and malformed bodies, bad queries, paths and media types."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from api_helpers import Client, World, build_world, completed_job

from api.app import long_call_slots
from api.keys import LONG_CALLS
from tieout.bootstrap import Container

PROBLEM = "application/problem+json"


async def chunks(total: int, size: int = 4096) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size


async def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status == status, await answer.text()
    assert answer.content_type == PROBLEM
    found: dict[str, Any] = await answer.json()
    assert found["status"] == status
    return found


async def test_bodies_past_the_limit_are_413_with_or_without_a_length(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    container.settings.max_body_bytes = 2048
    declared = await client.post("/api/projects", data=b"{" * 4096, headers=admin)
    await problem(declared, 413)
    streamed = await client.post("/api/projects", data=chunks(1 << 20), headers=admin)
    await problem(streamed, 413)


async def test_uploads_past_the_limit_are_413_while_streaming(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    world = await build_world(client, admin)
    container.settings.max_upload_bytes = 64 * 1024
    url = f"/api/projects/{world.project}/sources?name=big.csv"
    csv = {"Content-Type": "text/csv"}
    await problem(await client.post(url, data=chunks(1 << 24), headers=admin | csv), 413)
    await problem(await client.post(url, data=b"a" * 70_000, headers=admin | csv), 413)


async def test_a_stalled_upload_is_cut_off(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    world = await build_world(client, admin)
    container.settings.upload_idle_seconds = 0.3
    reader, writer = await asyncio.open_connection(client.host, client.port)
    head = (
        f"POST /api/projects/{world.project}/sources?name=slow.csv HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: {admin['Authorization']}\r\n"
        "Content-Type: text/csv\r\nContent-Length: 1000\r\n\r\nid,amount\n1,"
    )
    writer.write(head.encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.split()[1] == b"408"


async def test_malformed_json_and_fields_are_422_naming_the_field(
    client: Client, admin: dict[str, str]
) -> None:
    url = "/api/projects"
    await problem(await client.post(url, data=b'{"name": ', headers=admin), 422)
    await problem(await client.post(url, headers=admin), 422)
    wrong = await problem(await client.post(url, json={"name": 7}, headers=admin), 422)
    assert wrong["errors"][0]["field"] == "body.name"
    extra = await problem(await client.post(url, json={"name": "a", "x": 1}, headers=admin), 422)
    assert extra["errors"][0]["field"] == "body.x"
    for limit in ("0", "1001", "ten"):
        found = await problem(await client.get(f"{url}?limit={limit}", headers=admin), 422)
        assert found["errors"][0]["field"] == "query.limit"
    assert (await client.get(f"{url}?limit=1000", headers=admin)).status == 200


async def test_paths_media_types_and_bad_files(client: Client, admin: dict[str, str]) -> None:
    world: World = await build_world(client, admin)
    await problem(await client.get("/api/projects/not-a-uuid", headers=admin), 404)
    await problem(await client.get("/api/nothing-here", headers=admin), 404)
    await problem(await client.delete("/api/projects", headers=admin), 405)
    rulesets = f"/api/projects/{world.project}/rulesets"
    await problem(await client.get(f"{rulesets}/99999999999", headers=admin), 404)
    await problem(await client.get(f"{rulesets}/7", headers=admin), 404)
    await problem(await client.post(rulesets, data=b"rules: [", headers=admin), 422)
    await problem(await client.post(rulesets, data=b"\xff\xfe", headers=admin), 422)
    sources = f"/api/projects/{world.project}/sources"
    csv = admin | {"Content-Type": "text/csv"}
    await problem(await client.post(f"{sources}?name=a", data=b"x", headers=admin), 415)
    await problem(await client.post(sources, data=b"a\n1\n", headers=csv), 422)
    await problem(await client.post(f"{sources}?name=e.csv", data=b"", headers=csv), 422)
    broken = b'id,amount\n1,10\n2,"unterminated\n'
    found = await problem(await client.post(f"{sources}?name=b.csv", data=broken, headers=csv), 422)
    assert "line 3" in found["detail"]
    jobs = "/api/reconciliation/jobs"
    await problem(await client.post(jobs, json={"project_id": "x"}, headers=admin), 422)
    await problem(await client.get(f"{jobs}?status=bogus", headers=admin), 422)
    await problem(await client.get(f"{jobs}?cursor=%%%", headers=admin), 422)
    key = admin | {"Idempotency-Key": "has space"}
    await problem(await client.post(jobs, json={}, headers=key), 422)


async def test_slow_requests_answer_503(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    container.settings.request_timeout_seconds = 1e-6
    await problem(await client.get("/api/projects", headers=admin), 503)


async def test_reruns_past_the_timeout_answer_503_and_hold_a_slot_until_they_end(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    """A thread cannot be stopped: a rerun whose request times out answers 503 at once and
    runs to its end in the background, in one of the long-call slots; a rerun asked for
    while every slot is taken waits for one within its own timeout, then answers 503."""
    job = await completed_job(client, admin, container)
    slots = client.app[LONG_CALLS]
    assert long_call_slots(container.settings.db_pool_size) == 2
    rerun = f"/api/reconciliation/jobs/{job}/rerun"
    container.settings.request_timeout_seconds = 0.001
    answers = await asyncio.gather(*(client.post(rerun, headers=admin) for _ in range(3)))
    for answer in answers:
        found = await problem(answer, 503)
        assert found["detail"] == "the request took too long"
    deadline = time.monotonic() + 60
    while slots._value < 2:  # every slot comes back once its thread ends
        assert time.monotonic() < deadline, "a timed-out rerun never gave its slot back"
        await asyncio.sleep(0.05)

    container.settings.request_timeout_seconds = 0.2
    for _ in range(2):  # what two long reruns in flight hold
        await slots.acquire()
    await problem(await client.post(rerun, headers=admin), 503)
    container.settings.request_timeout_seconds = 60
    slots.release()
    proof = await client.post(rerun, headers=admin)
    assert proof.status == 200, await proof.text()
    assert (await proof.json())["identical"] is True
    slots.release()
