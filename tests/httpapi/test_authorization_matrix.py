"""The authorization matrix, declared as data: every role x every operation x a project of
the caller's own organization and one of another. A foreign id always answers 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from api_helpers import (
    LEFT_CSV,
    OPERATOR,
    RULES,
    Client,
    World,
    bearer,
    build_world,
    job_body,
    user_token,
)

from engine.domain.org import Role
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.workers import build_worker

Call = Callable[[Client, dict[str, str], World, Container], Awaitable[int]]
OK, FORBIDDEN, HIDDEN = "ok", 403, 404


async def _status(answer: Any) -> int:
    status: int = answer.status
    assert status < 500, await answer.text()
    return status


def get(path: str) -> Call:
    async def call(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
        del c
        return await _status(await client.get(path.format(w=world), headers=headers))

    return call


async def add_member(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    del c
    url = f"/api/projects/{world.project}/members"
    body = {"email": "member@acme.test", "role": "viewer"}
    return await _status(await client.post(url, json=body, headers=headers))


async def upload(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    del c
    url = f"/api/projects/{world.project}/sources?name=again.csv"
    kind = {"Content-Type": "text/csv"}
    return await _status(await client.post(url, data=LEFT_CSV, headers=headers | kind))


async def publish(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    del c
    url = f"/api/projects/{world.project}/rulesets"
    kind = {"Content-Type": "application/yaml"}
    return await _status(await client.post(url, data=RULES, headers=headers | kind))


async def create_job(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    del c
    url = "/api/reconciliation/jobs"
    return await _status(await client.post(url, json=job_body(world), headers=headers))


async def explain(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    del c
    body = {"side": "left", "id": "3", "reason": "timing", "note": "next week"}
    url = f"/api/reconciliation/jobs/{world.job}/exceptions"
    return await _status(await client.post(url, json=body, headers=headers))


async def show_job(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    job = fresh_job(world, c)
    return await _status(await client.get(f"/api/reconciliation/jobs/{job}", headers=headers))


async def cancel_job(client: Client, headers: dict[str, str], world: World, c: Container) -> int:
    job = fresh_job(world, c)
    url = f"/api/reconciliation/jobs/{job}/cancel"
    return await _status(await client.post(url, headers=headers))


def fresh_job(world: World, container: Container) -> str:
    ids = (UUID(world.project), UUID(world.left), UUID(world.right))
    return str(container.app.request_job(*ids, 1, OPERATOR))


P = "/api/projects/{w.project}"
J = "/api/reconciliation/jobs/{w.job}"
OPERATIONS: dict[str, tuple[str, Call]] = {
    "get project": ("read", get(P)),
    "list members": ("read", get(P + "/members")),
    "list sources": ("read", get(P + "/sources")),
    "list rulesets": ("read", get(P + "/rulesets")),
    "get ruleset": ("read", get(P + "/rulesets/1")),
    "list jobs of project": ("read", get("/api/reconciliation/jobs?project_id={w.project}")),
    "show job": ("read", show_job),
    "results": ("read", get(J + "/results")),
    "unmatched": ("read", get(J + "/unmatched")),
    "stats": ("read", get(J + "/stats")),
    "export": ("read", get(J + "/export?format=csv")),
    "history": ("read", get(J + "/history?as_of=2100-01-01T00:00:00%2B00:00")),
    "review queue": ("read", get(J + "/review-queue")),
    "explain an open item": ("write", explain),
    "add member": ("manage", add_member),
    "upload source": ("write", upload),
    "publish ruleset": ("write", publish),
    "create job": ("write", create_job),
    "cancel job": ("write", cancel_job),
    "audit of project": ("audit", get("/api/audit/events?project_id={w.project}")),
}

# The caller's role, as (organization-wide role, role as a member of the project or None).
CALLERS: dict[str, tuple[Role, Role | None]] = {
    "admin": (Role.ADMIN, None),
    "auditor": (Role.AUDITOR, None),
    "analyst member": (Role.ANALYST, Role.ANALYST),
    "viewer member": (Role.VIEWER, Role.VIEWER),
    "analyst made viewer": (Role.ANALYST, Role.VIEWER),
    "analyst not a member": (Role.ANALYST, None),
    "api key analyst": (Role.ANALYST, None),
    "api key viewer": (Role.VIEWER, None),
}

EXPECTED: dict[str, dict[str, object]] = {
    "admin": {"read": OK, "write": OK, "manage": OK, "audit": OK},
    "auditor": {"read": OK, "write": FORBIDDEN, "manage": FORBIDDEN, "audit": OK},
    "analyst member": {"read": OK, "write": OK, "manage": FORBIDDEN, "audit": FORBIDDEN},
    "viewer member": {"read": OK, "write": FORBIDDEN, "manage": FORBIDDEN, "audit": FORBIDDEN},
    "analyst made viewer": {
        "read": OK,
        "write": FORBIDDEN,
        "manage": FORBIDDEN,
        "audit": FORBIDDEN,
    },
    "analyst not a member": {"read": HIDDEN, "write": HIDDEN, "manage": HIDDEN, "audit": HIDDEN},
    "api key analyst": {"read": OK, "write": OK, "manage": FORBIDDEN, "audit": FORBIDDEN},
    "api key viewer": {"read": OK, "write": FORBIDDEN, "manage": FORBIDDEN, "audit": FORBIDDEN},
}


async def worlds(client: Client, container: Container) -> tuple[World, World]:
    """This organization's project and another's, each with a completed job."""
    own = await build_world(client, bearer(user_token(container, "boss@acme.test", Role.ADMIN)))
    evil = bearer(user_token(container, "eve@evil.test", Role.ADMIN, org="evil"))
    foreign = await build_world(client, evil)
    for world in (own, foreign):
        world.job = fresh_job(world, container)
        assert build_worker(container).tick()
    catch_up(container.projections, timeout_seconds=60)
    return own, foreign


async def caller(client: Client, container: Container, name: str, own: World) -> dict[str, str]:
    role, member_role = CALLERS[name]
    if name.startswith("api key"):
        return bearer(container.tenancy.issue_api_key("acme", role, name, OPERATOR).token)
    if name == "admin":
        return bearer(user_token(container, "boss@acme.test", Role.ADMIN))
    email = name.replace(" ", "-") + "@acme.test"
    headers = bearer(user_token(container, email, role))
    if member_role is not None:
        admin = bearer(user_token(container, "boss@acme.test", Role.ADMIN))
        body = {"email": email, "role": member_role.value}
        url = f"/api/projects/{own.project}/members"
        assert (await client.post(url, json=body, headers=admin)).status == 201
    return headers


async def test_every_caller_every_operation_own_and_foreign(
    client: Client, container: Container
) -> None:
    container.tenancy.create_user("member@acme.test", Role.VIEWER, "acme", OPERATOR)
    own, foreign = await worlds(client, container)
    seen: dict[tuple[str, str, str], object] = {}
    wanted: dict[tuple[str, str, str], object] = {}
    for name in CALLERS:
        headers = await caller(client, container, name, own)
        for operation, (kind, call) in OPERATIONS.items():
            status = await call(client, headers, own, container)
            seen[(name, operation, "own")] = OK if status < 300 else status
            wanted[(name, operation, "own")] = EXPECTED[name][kind]
            seen[(name, operation, "foreign")] = await call(client, headers, foreign, container)
            wanted[(name, operation, "foreign")] = HIDDEN
        for url in ("/api/projects", "/api/reconciliation/jobs", "/api/audit/events"):
            listed = await client.get(url, headers=headers)
            text = await listed.text()
            assert listed.status == 200, text
            assert foreign.project not in text
            assert foreign.left not in text
    assert {key: (value, wanted[key]) for key, value in seen.items() if value != wanted[key]} == {}
