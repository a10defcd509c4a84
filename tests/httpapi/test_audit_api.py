"""The audit log and the job list through the API: every event a request caused carries its
request id (the worker's too); filters by actor, type, time and stream; an organization's
own events (users, keys) for its admins and auditors, never for another organization."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api_helpers import (
    JOBS,
    OPERATOR,
    RULES,
    Client,
    bearer,
    build_world,
    job_body,
    user_token,
)

from engine.domain.org import Role, organization_id, user_id
from projections.audit_query import AuditFilters
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.workers import build_worker

AUDIT = "/api/audit/events"
JOB_EVENTS = {
    "JobRequested",
    "JobClaimed",
    "DecisionsRecorded",
    "UnmatchedRecorded",
    "JobCompleted",
}


async def items(client: Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    answer = await client.get(AUDIT, params=params, headers=headers)
    body = await answer.json()
    assert answer.status == 200, body
    found: list[dict[str, Any]] = body["items"]
    return found


async def test_the_worker_events_of_a_requested_job_carry_its_request_id(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    world = await build_world(client, admin)
    asked = await client.post(JOBS, json=job_body(world), headers=admin | {"X-Request-ID": "run-7"})
    assert asked.status == 202, await asked.text()
    job = (await asked.json())["id"]
    other = await client.post(JOBS, json=job_body(world), headers=admin | {"X-Request-ID": "run-8"})
    cancel = f"{JOBS}/{(await other.json())['id']}/cancel"
    assert (await client.post(cancel, headers=admin | {"X-Request-ID": "stop-8"})).status == 200
    worker = build_worker(container)
    assert worker.tick()
    catch_up(container.projections, timeout_seconds=60)

    found = await items(client, admin, request_id="run-7")
    assert {item["event_type"] for item in found} == JOB_EVENTS
    by_type = {item["event_type"]: item for item in found}
    assert by_type["JobRequested"]["actor"] == "user:boss@acme.test"
    assert by_type["JobCompleted"]["originator_id"] == job
    worker_actor = f"service:{worker.config.name}"
    assert {item["actor"] for item in found if item["event_type"] != "JobRequested"} == {
        worker_actor
    }
    assert {item["project_id"] for item in found} == {world.project}
    cli = container.audit.events(AuditFilters(request_id="run-7", limit=100))
    assert {row.event_type for row in cli} == JOB_EVENTS  # `tieout audit events --request-id`
    stopped = await items(client, admin, request_id="stop-8")
    assert [item["event_type"] for item in stopped] == ["JobCancelled"]  # its own request


async def test_audit_filters(client: Client, admin: dict[str, str], container: Container) -> None:
    world = await build_world(client, admin)
    ann = bearer(user_token(container, "ann@acme.test", Role.ADMIN))
    kind = {"Content-Type": "application/yaml"}
    second = RULES.replace("exact-reference", "by-reference")
    url = f"/api/projects/{world.project}/rulesets"
    assert (await client.post(url, data=second, headers=ann | kind)).status == 201
    catch_up(container.projections, timeout_seconds=60)
    project = world.project

    by_ann = await items(client, admin, actor="user:ann@acme.test", project_id=project)
    assert [item["event_type"] for item in by_ann] == ["RulesetPublished"]
    published = await items(client, admin, type="RulesetPublished")
    assert [item["actor"] for item in published] == ["user:ann@acme.test", "user:boss@acme.test"]
    sources = await items(client, admin, type="SourceRegistered")
    assert {item["originator_id"] for item in sources} == {world.left, world.right}
    (left,) = await items(client, admin, aggregate_id=world.left)
    assert (left["event_type"], left["originator_id"]) == ("SourceRegistered", world.left)

    moment = by_ann[0]["occurred_at"]
    since = await items(client, admin, project_id=project, **{"from": moment})
    assert [item["event_type"] for item in since] == ["RulesetPublished"]
    until = await items(client, admin, project_id=project, to=moment)
    assert until
    assert all(item["occurred_at"] < moment for item in until)
    assert {item["notification_id"] for item in since + until} == {
        item["notification_id"] for item in await items(client, admin, project_id=project)
    }

    first = await client.get(
        AUDIT, params={"type": "SourceRegistered", "limit": "1"}, headers=admin
    )
    cursor = (await first.json())["next_cursor"]
    rest = await items(client, admin, type="SourceRegistered", limit="1", cursor=cursor)
    assert [item["notification_id"] for item in rest] == [sources[1]["notification_id"]]

    for bad in ({"from": "yesterday"}, {"from": moment, "to": moment}, {"aggregate_id": "x"}):
        answer = await client.get(AUDIT, params=bad, headers=admin)
        assert answer.status == 422, (bad, await answer.text())


async def test_job_list_status_filter(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    world = await build_world(client, admin)
    made = [
        (await (await client.post(JOBS, json=job_body(world), headers=admin)).json())["id"]
        for _ in range(3)
    ]
    assert build_worker(container).tick()  # the oldest
    cancel = f"{JOBS}/{made[2]}/cancel"
    assert (await client.post(cancel, headers=admin)).status == 200

    async def listed(status: str) -> list[str]:
        answer = await client.get(JOBS, params={"status": status}, headers=admin)
        assert answer.status == 200, await answer.text()
        return [item["id"] for item in (await answer.json())["items"]]

    assert await listed("completed") == [made[0]]
    assert await listed("requested") == [made[1]]
    assert await listed("cancelled") == [made[2]]
    assert await listed("failed") == []
    assert (await client.get(JOBS, params={"status": "done"}, headers=admin)).status == 422


async def test_an_organization_audits_its_users_and_keys_and_no_one_elses(
    client: Client, admin: dict[str, str], outsider: dict[str, str], container: Container
) -> None:
    tenancy = container.tenancy
    ours = tenancy.issue_api_key("acme", Role.ANALYST, "loader", OPERATOR)
    tenancy.revoke_api_key(ours.id, "rotated", OPERATOR)
    theirs = tenancy.issue_api_key("evil", Role.AUDITOR, "spy", OPERATOR)
    auditor = bearer(user_token(container, "aud@acme.test", Role.AUDITOR))
    key_auditor = bearer(tenancy.issue_api_key("acme", Role.AUDITOR, "ledger", OPERATOR).token)
    analyst = bearer(user_token(container, "ann@acme.test", Role.ANALYST))
    made = await client.post("/api/projects", json={"name": "Ann's"}, headers=analyst)
    assert made.status == 201  # ann administers this project as its member
    catch_up(container.projections, timeout_seconds=60)

    acme = {
        organization_id("acme"),
        user_id("boss@acme.test"),
        user_id("aud@acme.test"),
        user_id("ann@acme.test"),
        ours.id,
    }
    evil = {organization_id("evil"), user_id("eve@evil.test"), theirs.id}
    for caller in (admin, auditor, key_auditor):
        seen = {UUID(item["originator_id"]) for item in await items(client, caller, limit="1000")}
        assert acme <= seen
        assert not evil & seen
        revoked = await items(client, caller, type="ApiKeyRevoked")
        assert [item["originator_id"] for item in revoked] == [str(ours.id)]
    seen = {UUID(item["originator_id"]) for item in await items(client, outsider, limit="1000")}
    assert evil <= seen
    assert not acme & seen
    for_ann = await items(client, analyst, limit="1000")
    assert {item["event_type"] for item in for_ann} >= {"ProjectCreated"}
    assert not {UUID(item["originator_id"]) for item in for_ann} & (acme | evil) - {
        organization_id("acme")  # ProjectAdded, on the organization's stream, is the project's
    }
    assert not {item["event_type"] for item in for_ann} & {"UserCreated", "ApiKeyIssued"}
    project = (await made.json())["id"]
    named = await items(client, admin, project_id=project)
    assert not {item["event_type"] for item in named} & {"UserCreated", "ApiKeyIssued"}
