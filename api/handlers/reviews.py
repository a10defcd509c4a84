"""Reviewing a completed job: the queue, decisions on groups, manual matches, reverting
automatic matches, approvals and explanations. Each answers the recorded action's id."""

from __future__ import annotations

from aiohttp import web

from api.handlers.common import answer, body, meta, page, path_id, principal, query, run
from api.keys import JOB_REVIEWS
from api.schemas import Comment, Explanation, ManualMatch, RevertAuto, ReviewQueueQuery


async def review_queue(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    parsed = query(request, ReviewQueueQuery)
    found = await run(
        request.app[JOB_REVIEWS].queue,
        principal(request),
        job,
        parsed.order,
        parsed.limit,
        parsed.cursor,
    )
    return page(found["items"], found["next_cursor"])


async def decide_group(request: web.Request) -> web.Response:
    """`…/decisions/{group}/confirm|reject|unmatch`."""
    job = path_id(request, "job_id")
    group = request.match_info["group"]
    decision = request.match_info["decision"]
    comment = (await body(request, Comment) if request.body_exists else Comment()).comment
    reviews = request.app[JOB_REVIEWS]
    command = {"confirm": reviews.confirm, "reject": reviews.reject, "unmatch": reviews.unmatch}
    action = await run(
        command[decision],
        principal(request),
        job,
        group,
        comment,
        meta(request, f"review.{decision}"),
    )
    return answer({"action_id": action}, status=201)


async def manual_match(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    parsed = await body(request, ManualMatch)
    action = await run(
        request.app[JOB_REVIEWS].match,
        principal(request),
        job,
        (parsed.left_ids, parsed.right_ids),
        parsed.comment,
        meta(request, "review.match"),
    )
    return answer({"action_id": action}, status=201)


async def revert_auto(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    parsed = await body(request, RevertAuto) if request.body_exists else RevertAuto()
    action = await run(
        request.app[JOB_REVIEWS].revert_auto,
        principal(request),
        job,
        parsed.rule,
        parsed.comment,
        meta(request, "review.revert-auto"),
    )
    return answer({"action_id": action}, status=201)


async def settle_action(request: web.Request) -> web.Response:
    """`…/approvals/{action}/approve|decline`."""
    job = path_id(request, "job_id")
    verdict = request.match_info["verdict"]
    comment = (await body(request, Comment) if request.body_exists else Comment()).comment
    action = await run(
        request.app[JOB_REVIEWS].settle,
        principal(request),
        job,
        request.match_info["action"],
        verdict,
        comment,
        meta(request, f"review.{verdict}"),
    )
    return answer({"action_id": action}, status=201)


async def explain_item(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    parsed = await body(request, Explanation)
    action = await run(
        request.app[JOB_REVIEWS].explain,
        principal(request),
        job,
        (parsed.side, parsed.id),
        parsed.reason,
        parsed.note,
        meta(request, "review.explain"),
    )
    return answer({"action_id": action}, status=201)
