"""Reconciliation jobs: request (idempotent with a key), list, show, cancel."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from aiohttp import web

from api.handlers.common import answer, body, meta, page, path_id, principal, query, run, services
from api.problems import Problem
from api.schemas import CancelJob, CreateJob, JobListQuery, decode_cursor, encode_cursor
from engine.errors import BadInputError

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


async def create_job(request: web.Request) -> web.Response:
    key = idempotency_key(request)
    parsed = await body(request, CreateJob)
    created = await run(
        services(request).request_job,
        principal(request),
        parsed.model_dump(),
        key,
        meta(request, "jobs.run"),
    )
    location = f"/api/reconciliation/jobs/{created['id']}"
    return answer(created, status=202, headers={"Location": location})


async def list_jobs(request: web.Request) -> web.Response:
    filters = query(request, JobListQuery)
    after = job_cursor(filters.cursor) if filters.cursor else None
    statuses = (filters.status,) if filters.status else ()
    found = await run(
        services(request).jobs,
        principal(request),
        filters.project_id,
        statuses,
        after,
        filters.limit,
    )
    following = None
    if len(found) == filters.limit:
        following = encode_cursor("jobs", [found[-1]["created_at"], found[-1]["id"]])
    return page(found, following)


async def get_job(request: web.Request) -> web.Response:
    job_id = path_id(request, "job_id")
    return answer(await run(services(request).job, principal(request), job_id))


async def cancel_job(request: web.Request) -> web.Response:
    job_id = path_id(request, "job_id")
    parsed = await body(request, CancelJob) if request.body_exists else CancelJob()
    await run(
        services(request).cancel_job,
        principal(request),
        job_id,
        parsed.reason,
        meta(request, "jobs.cancel"),
    )
    return answer({"id": job_id, "status": "cancelled"})


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if key and not IDEMPOTENCY_KEY.match(key):
        raise Problem(
            422, "Unprocessable Content", "Idempotency-Key: 1 to 200 printable ASCII characters"
        )
    return key


def job_cursor(cursor: str) -> tuple[datetime, UUID]:
    values = decode_cursor("jobs", cursor)
    try:
        created, job = values
        return datetime.fromisoformat(created), UUID(job)
    except (TypeError, ValueError):
        raise BadInputError("cursor: not a cursor this API gave out") from None
