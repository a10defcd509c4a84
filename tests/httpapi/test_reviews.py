"""Reviewing a job through the API: decisions on groups (a concurrent one is 409), manual
matches, reverting automatic matches, explanations; roles and foreign ids; the ETag moves."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import UUID

from api_helpers import JOBS, OPERATOR, Client, bearer, completed_job, user_token

from engine.domain.org import Role
from engine.reviews import Reviews
from projections.projector import catch_up
from tieout.bootstrap import Container


async def test_review_workflow(
    client: Client, admin: dict[str, str], outsider: dict[str, str], container: Container
) -> None:
    job = await completed_job(client, admin, container)
    results = await client.get(f"{JOBS}/{job}/results", headers=admin)
    tag = results.headers["ETag"]
    groups = {item["left_id"]: item["group_id"] for item in (await results.json())["items"]}
    queue = await client.get(f"{JOBS}/{job}/review-queue?order=amount", headers=admin)
    assert queue.status == 200
    assert (await queue.json())["next_cursor"] is None

    url = f"{JOBS}/{job}/decisions/{groups['1']}/unmatch"
    both = await asyncio.gather(
        *(client.post(url, json={"comment": "wrong pair"}, headers=admin) for _ in range(2))
    )
    assert sorted(answer.status for answer in both) == [201, 409]
    manual = await client.post(
        f"{JOBS}/{job}/manual-matches",
        json={"left_ids": ["1"], "right_ids": ["9"], "comment": "checked by hand"},
        headers=admin,
    )
    assert manual.status == 201, await manual.text()
    assert (await manual.json())["action_id"]
    reverted = await client.post(f"{JOBS}/{job}/revert-auto", json={}, headers=admin)
    assert reverted.status == 201, await reverted.text()
    explained = await client.post(
        f"{JOBS}/{job}/exceptions",
        json={"side": "left", "id": "3", "reason": "timing", "note": "clears next week"},
        headers=admin,
    )
    assert explained.status == 201, await explained.text()
    unknown = await client.post(f"{JOBS}/{job}/approvals/nope/approve", headers=admin)
    assert unknown.status in {404, 409, 422}

    catch_up(container.projections, timeout_seconds=60)
    after = await client.get(f"{JOBS}/{job}/results", headers=admin | {"If-None-Match": tag})
    assert after.status == 200  # the review changed the results: a new representation
    assert after.headers["ETag"] != tag

    container.tenancy.create_user("vic@acme.test", Role.AUDITOR, "acme", OPERATOR)
    auditor = bearer(user_token(container, "vic@acme.test", Role.AUDITOR))
    confirm = f"{JOBS}/{job}/decisions/{groups['2']}/confirm"
    assert (await client.post(confirm, headers=auditor)).status == 403
    assert (await client.post(confirm, headers=outsider)).status == 404
    assert (await client.get(f"{JOBS}/{job}/review-queue", headers=outsider)).status == 404


async def test_four_eyes_approvals_over_the_api(
    client: Client, admin: dict[str, str], container: Container
) -> None:
    """Above the project's threshold an action waits for a second person: another admin
    approves or declines it; its proposer approving it is 409."""
    job = await completed_job(client, admin, container)
    project = (await (await client.get(f"{JOBS}/{job}", headers=admin)).json())["project_id"]
    Reviews(container.app).configure_four_eyes(UUID(project), Decimal(0), OPERATOR)
    container.tenancy.create_user("ann@acme.test", Role.ADMIN, "acme", OPERATOR)
    second = bearer(user_token(container, "ann@acme.test", Role.ADMIN))
    results = await (await client.get(f"{JOBS}/{job}/results", headers=admin)).json()
    groups = {item["left_id"]: item["group_id"] for item in results["items"]}

    async def propose(left_id: str) -> str:
        url = f"{JOBS}/{job}/decisions/{groups[left_id]}/unmatch"
        proposed = await client.post(url, json={"comment": "wrong pair"}, headers=admin)
        assert proposed.status == 201, await proposed.text()
        action: str = (await proposed.json())["action_id"]
        return action

    first, other = await propose("1"), await propose("2")
    approvals = f"{JOBS}/{job}/approvals"
    own = await client.post(f"{approvals}/{first}/approve", headers=admin)
    assert own.status == 409
    assert own.content_type == "application/problem+json"
    assert "cannot approve" in (await own.json())["detail"]
    approved = await client.post(
        f"{approvals}/{first}/approve", json={"comment": "checked"}, headers=second
    )
    assert approved.status == 201, await approved.text()
    declined = await client.post(f"{approvals}/{other}/decline", headers=second)
    assert declined.status == 201, await declined.text()
    assert (await declined.json())["action_id"] != (await approved.json())["action_id"]
    settled = await client.post(f"{approvals}/{other}/approve", headers=second)
    assert settled.status == 409  # declined: nothing is pending any more

    state = Reviews(container.app).state(UUID(job))
    assert (state.status_of(groups["1"]), state.status_of(groups["2"])) == ("unmatched", "none")
