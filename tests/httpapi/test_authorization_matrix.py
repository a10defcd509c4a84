"""The authorization matrix, declared as data: every role x every operation x a project of
the caller's own organization and one of another. A foreign id always answers 404, with
the very body a random id that names nothing gets: a client of another organization learns
nothing, not even that the object exists."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from api_helpers import (
    LEFT_CSV,
    OPERATOR,
    RULES,
    Client,
    World,
    bearer,
    build_world,
    user_token,
)

from engine.domain.org import Role
from engine.matching.schemas import GROUP_ID, LEFT_ID
from engine.reviews import Reviews
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.workers import build_worker

Ids = dict[str, str]
"""What a request names: `project`, `left`, `right`, `job`, `alien` (a source of the other
organization), and what an operation prepares (`group`, `action`)."""
Send = Callable[[Client, dict[str, str], Ids], Awaitable[Any]]
Prepare = Callable[[World, Container], Ids]
OK, FORBIDDEN, HIDDEN = "ok", 403, 404

SUGGESTING = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: near-id
    when:
      - {left: reference, right: ref, op: equals}
      - {left: txn_id, right: entry_id, op: within, tolerance: 10}
    accept_at: 0.99
"""
"""Ruleset version 2 of every world: both pairs suggested (groups to confirm or reject)."""
AMOUNTS = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: reference-and-amount
    when:
      - {left: reference, right: ref, op: equals}
      - {left: amount, right: amount, op: equals}
"""
"""Ruleset version 3: both pairs matched, with their amounts (10.50 and 20.00)."""
FOUR_EYES_ABOVE = Decimal(15)
"""Under version 3, undoing the pair of 20.00 or every automatic match (30.50) awaits
approval; undoing the pair of 10.50 does not."""


@dataclass(frozen=True)
class Operation:
    kind: str
    """`read`, `write`, `manage`, `audit`; `create` (names no project of anyone's);
    `write foreign source` (a write in the caller's project naming another's source)."""
    send: Send
    prepare: Prepare | None = None
    """Makes what the operation acts on (a fresh job, a pending action), so that each
    caller allowed to act finds it as the first one did."""


def request(
    method: str,
    path: str,
    body: Callable[[Ids], Any] | None = None,
    data: tuple[str, bytes | str] | None = None,
) -> Send:
    """A request whose path (and JSON body, or raw body of a media type) names `ids`."""

    async def send(client: Client, headers: dict[str, str], ids: Ids) -> Any:
        sent: dict[str, Any] = {"headers": headers}
        if body is not None:
            sent["json"] = body(ids)
        if data is not None:
            sent["headers"] = headers | {"Content-Type": data[0]}
            sent["data"] = data[1]
        return await client.request(method, path.format(**ids), **sent)

    return send


def get(path: str) -> Send:
    return request("GET", path)


def post(path: str, body: Callable[[Ids], Any] | None = None) -> Send:
    return request("POST", path, body)


def fresh_job(world: World, container: Container) -> str:
    ids = (UUID(world.project), UUID(world.left), UUID(world.right))
    return str(container.app.request_job(*ids, 1, OPERATOR))


def completed_job(world: World, container: Container, version: int) -> str:
    """A job of `world` run to completion (this one, whatever else is queued)."""
    ids = (UUID(world.project), UUID(world.left), UUID(world.right))
    job = container.app.request_job(*ids, version, OPERATOR)
    worker = build_worker(container)
    config = worker.config
    claimed = container.app.claim_job(job, config.name, uuid4().hex, config.batch_size, OPERATOR)
    assert worker.run_job(claimed) == "completed"
    return str(job)


def group_of(container: Container, job: str, left_id: str) -> str:
    matches, _ = container.app.recorded_decisions(UUID(job))
    return str(matches.filter(matches[LEFT_ID] == left_id)[GROUP_ID][0])


def requested(world: World, container: Container) -> Ids:
    return {"job": fresh_job(world, container)}


def suggested(world: World, container: Container) -> Ids:
    job = completed_job(world, container, 2)
    return {"job": job, "group": group_of(container, job, "1")}


def reopened(world: World, container: Container) -> Ids:
    """A job whose left 1 and right 9 are open again (their suggestion rejected)."""
    ids = suggested(world, container)
    Reviews(container.app).reject(UUID(ids["job"]), ids["group"], "not these", OPERATOR)
    return ids


def automatic(world: World, container: Container) -> Ids:
    job = completed_job(world, container, 3)
    return {"job": job, "group": group_of(container, job, "1")}


def pending(world: World, container: Container) -> Ids:
    """A job with an unmatch (of 20.00) proposed by someone else, awaiting approval."""
    job = completed_job(world, container, 3)
    group = group_of(container, job, "2")
    action = Reviews(container.app).unmatch(UUID(job), group, "wrong pair", OPERATOR)
    return {"job": job, "action": action}


def new_job(ids: Ids) -> dict[str, Any]:
    return {
        "project_id": ids["project"],
        "left_source_id": ids["left"],
        "right_source_id": ids["right"],
        "ruleset_version": 1,
    }


def naming_alien_source(ids: Ids) -> dict[str, Any]:
    return new_job(ids) | {"left_source_id": ids["alien"]}


def no_body(_: Ids) -> dict[str, Any]:
    return {}


P = "/api/projects/{project}"
J = "/api/reconciliation/jobs/{job}"
YAML = "application/yaml"
OPERATIONS: dict[str, Operation] = {
    "get project": Operation("read", get(P)),
    "list members": Operation("read", get(P + "/members")),
    "list sources": Operation("read", get(P + "/sources")),
    "list rulesets": Operation("read", get(P + "/rulesets")),
    "get ruleset": Operation("read", get(P + "/rulesets/1")),
    "list jobs of project": Operation("read", get("/api/reconciliation/jobs?project_id={project}")),
    "show job": Operation("read", get(J), requested),
    "results": Operation("read", get(J + "/results")),
    "unmatched": Operation("read", get(J + "/unmatched")),
    "stats": Operation("read", get(J + "/stats")),
    "export": Operation("read", get(J + "/export?format=csv")),
    "history": Operation("read", get(J + "/history?as_of=2100-01-01T00:00:00%2B00:00")),
    "review queue": Operation("read", get(J + "/review-queue")),
    "rerun": Operation("read", post(J + "/rerun")),
    "diff": Operation("read", request("POST", J + "/diff", data=(YAML, SUGGESTING))),
    "explain an open item": Operation(
        "write",
        post(
            J + "/exceptions",
            lambda _: {"side": "left", "id": "3", "reason": "timing", "note": "next week"},
        ),
    ),
    "confirm": Operation("write", post(J + "/decisions/{group}/confirm", no_body), suggested),
    "reject": Operation("write", post(J + "/decisions/{group}/reject", no_body), suggested),
    "unmatch": Operation("write", post(J + "/decisions/{group}/unmatch", no_body), automatic),
    "manual match": Operation(
        "write",
        post(J + "/manual-matches", lambda _: {"left_ids": ["1"], "right_ids": ["9"]}),
        reopened,
    ),
    "revert automatic matches": Operation("write", post(J + "/revert-auto", no_body), automatic),
    "approve": Operation("write", post(J + "/approvals/{action}/approve", no_body), pending),
    "decline": Operation("write", post(J + "/approvals/{action}/decline", no_body), pending),
    # "remove member" takes away the member that "add member", before it, added.
    "add member": Operation(
        "manage", post(P + "/members", lambda _: {"email": "member@acme.test", "role": "viewer"})
    ),
    "remove member": Operation("manage", request("DELETE", P + "/members/member@acme.test")),
    "upload source": Operation(
        "write", request("POST", P + "/sources?name=again.csv", data=("text/csv", LEFT_CSV))
    ),
    "publish ruleset": Operation("write", request("POST", P + "/rulesets", data=(YAML, RULES))),
    "create job": Operation("write", post("/api/reconciliation/jobs", new_job)),
    "create job naming a foreign source": Operation(
        "write foreign source", post("/api/reconciliation/jobs", naming_alien_source)
    ),
    "cancel job": Operation("write", post(J + "/cancel"), requested),
    "audit of project": Operation("audit", get("/api/audit/events?project_id={project}")),
    "create project": Operation("create", post("/api/projects", lambda _: {"name": "More"})),
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
    "admin": {"read": OK, "write": OK, "manage": OK, "audit": OK, "create": OK},
    "auditor": {
        "read": OK,
        "write": FORBIDDEN,
        "manage": FORBIDDEN,
        "audit": OK,
        "create": FORBIDDEN,
    },
    "analyst member": {
        "read": OK,
        "write": OK,
        "manage": FORBIDDEN,
        "audit": FORBIDDEN,
        "create": OK,
    },
    "viewer member": {
        "read": OK,
        "write": FORBIDDEN,
        "manage": FORBIDDEN,
        "audit": FORBIDDEN,
        "create": FORBIDDEN,
    },
    "analyst made viewer": {
        "read": OK,
        "write": FORBIDDEN,
        "manage": FORBIDDEN,
        "audit": FORBIDDEN,
        "create": OK,  # projects are created as an analyst of the organization
    },
    "analyst not a member": {
        "read": HIDDEN,
        "write": HIDDEN,
        "manage": HIDDEN,
        "audit": HIDDEN,
        "create": OK,
    },
    "api key analyst": {
        "read": OK,
        "write": OK,
        "manage": FORBIDDEN,
        "audit": FORBIDDEN,
        "create": OK,
    },
    "api key viewer": {
        "read": OK,
        "write": FORBIDDEN,
        "manage": FORBIDDEN,
        "audit": FORBIDDEN,
        "create": FORBIDDEN,
    },
}


def expected(caller: str, kind: str) -> object:
    """A write naming another organization's source: not found, where the write itself
    would be allowed; where it would not, the caller is told that first."""
    if kind == "write foreign source":
        write = EXPECTED[caller]["write"]
        return HIDDEN if write == OK else write
    return EXPECTED[caller][kind]


async def worlds(client: Client, container: Container) -> tuple[World, World]:
    """This organization's project and another's, each with a completed job, a second
    ruleset version (suggestions), a third (amounts) and a four-eyes threshold."""
    own = await build_world(client, bearer(user_token(container, "boss@acme.test", Role.ADMIN)))
    evil = bearer(user_token(container, "eve@evil.test", Role.ADMIN, org="evil"))
    foreign = await build_world(client, evil)
    reviews = Reviews(container.app)
    for world in (own, foreign):
        project = UUID(world.project)
        assert container.app.publish_ruleset(project, SUGGESTING, OPERATOR) == 2
        assert container.app.publish_ruleset(project, AMOUNTS, OPERATOR) == 3
        reviews.configure_four_eyes(project, FOUR_EYES_ABOVE, OPERATOR)
        world.job = completed_job(world, container, 1)
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


def named(world: World, other: World) -> Ids:
    return {
        "project": world.project,
        "left": world.left,
        "right": world.right,
        "job": world.job,
        "alien": other.left,
    }


def anonymous(body: dict[str, Any], ids: Ids) -> str:
    """The problem document without what differs between any two answers (its request
    id, its instance) and with every id it names replaced by the role the id plays."""
    kept = {key: value for key, value in body.items() if key not in {"instance", "request_id"}}
    text = json.dumps(kept, sort_keys=True)
    for role, value in ids.items():
        if len(value) >= 32:  # ids, not the short names of groups
            text = text.replace(value, f"<{role}>")
    return text


@dataclass
class Matrix:
    """What each (caller, operation, own | foreign) answered, and what it should have."""

    client: Client
    container: Container
    seen: dict[tuple[str, str, str], object] = field(default_factory=dict)
    wanted: dict[tuple[str, str, str], object] = field(default_factory=dict)
    prepared: dict[str, Ids] = field(default_factory=dict)
    """Another organization's ids per operation, prepared once: no caller of this
    organization ever acts on them."""

    async def check(self, name: str, headers: dict[str, str], own: World, foreign: World) -> None:
        for operation, spec in OPERATIONS.items():
            mine = named(own, foreign)
            if spec.prepare is not None:
                mine |= spec.prepare(own, self.container)
            answer = await self.answered(spec, headers, mine, hidden={"alien"})
            self.seen[(name, operation, "own")] = OK if answer < 300 else answer
            self.wanted[(name, operation, "own")] = expected(name, spec.kind)
            if spec.kind == "create":
                continue  # it names nothing of anyone's
            theirs = self.foreign_ids(operation, spec, own, foreign)
            hidden = set(theirs) - {"alien"}
            self.seen[(name, operation, "foreign")] = await self.answered(
                spec, headers, theirs, hidden
            )
            self.wanted[(name, operation, "foreign")] = HIDDEN

    async def answered(
        self, spec: Operation, headers: dict[str, str], ids: Ids, hidden: set[str]
    ) -> int:
        """The status; a 404 is also checked to be the body that ids naming nothing get."""
        answer = await spec.send(self.client, headers, ids)
        status: int = answer.status
        assert status < 500, await answer.text()
        if status != HIDDEN or not hidden & set(ids):
            return status
        ghost = ids | {key: str(uuid4()) for key in hidden & set(ids)}
        nothing = await spec.send(self.client, headers, ghost)
        assert nothing.status == HIDDEN, await nothing.text()
        assert anonymous(await answer.json(), ids) == anonymous(await nothing.json(), ghost)
        return status

    def foreign_ids(self, operation: str, spec: Operation, own: World, foreign: World) -> Ids:
        if operation not in self.prepared:
            theirs = named(foreign, own)
            if spec.prepare is not None:
                theirs |= spec.prepare(foreign, self.container)
            self.prepared[operation] = theirs
        return self.prepared[operation]


async def test_every_caller_every_operation_own_and_foreign(
    client: Client, container: Container
) -> None:
    container.tenancy.create_user("member@acme.test", Role.VIEWER, "acme", OPERATOR)
    own, foreign = await worlds(client, container)
    matrix = Matrix(client, container)
    for name in CALLERS:
        headers = await caller(client, container, name, own)
        await matrix.check(name, headers, own, foreign)
        for url in ("/api/projects", "/api/reconciliation/jobs", "/api/audit/events"):
            listed = await client.get(url, headers=headers)
            text = await listed.text()
            assert listed.status == 200, text
            assert foreign.project not in text
            assert foreign.left not in text
    wrong = {
        key: (value, matrix.wanted[key])
        for key, value in matrix.seen.items()
        if value != matrix.wanted[key]
    }
    assert wrong == {}
