"""What the API tests share: callers, a hand-moved clock, a project built through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from engine.domain.meta import event_meta
from engine.domain.org import Role
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.workers import build_worker

Client = TestClient[Any, Any]
JOBS = "/api/reconciliation/jobs"
OPERATOR = event_meta(actor="cli:test", causation="test")
RULES = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
"""
LEFT_CSV = b"txn_id,reference,amount\n1,A,10.5\n2,B,20\n3,C,7\n"
RIGHT_CSV = b"entry_id,ref,amount\n9,A,10.5\n8,B,20\n"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Caller:
    """A user or key with its `Authorization` header."""

    name: str
    headers: dict[str, str]


def user_token(container: Container, email: str, role: Role, org: str = "acme") -> str:
    user = container.tenancy.create_user(email, role, org, OPERATOR)
    return container.tokens.issue(user.id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """A project with two sources and a ruleset, made through the API."""

    project: str
    left: str
    right: str
    job: str = ""
    """A completed job of the project, when the test made one."""


async def build_world(client: Client, headers: dict[str, str]) -> World:
    made = await client.post("/api/projects", json={"name": "Bank"}, headers=headers)
    assert made.status == 201, await made.text()
    project = (await made.json())["id"]
    sources = []
    for name, data in (("left.csv", LEFT_CSV), ("right.csv", RIGHT_CSV)):
        answer = await client.post(
            f"/api/projects/{project}/sources?name={name}",
            data=data,
            headers=headers | {"Content-Type": "text/csv"},
        )
        assert answer.status == 201, await answer.text()
        sources.append((await answer.json())["id"])
    ruleset = await client.post(
        f"/api/projects/{project}/rulesets",
        data=RULES,
        headers=headers | {"Content-Type": "application/yaml"},
    )
    assert ruleset.status == 201, await ruleset.text()
    return World(project, sources[0], sources[1])


def job_body(world: World) -> dict[str, Any]:
    return {
        "project_id": world.project,
        "left_source_id": world.left,
        "right_source_id": world.right,
        "ruleset_version": 1,
    }


async def completed_job(client: Client, admin: dict[str, str], container: Container) -> str:
    world: World = await build_world(client, admin)
    made = await client.post(JOBS, json=job_body(world), headers=admin)
    job: str = (await made.json())["id"]
    assert build_worker(container).tick()
    catch_up(container.projections, timeout_seconds=60)
    return job
