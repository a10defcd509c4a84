"""Rulesets: published as YAML or JSON text, immutable and versioned."""

from __future__ import annotations

from aiohttp import web

from api.handlers.common import (
    answer,
    meta,
    path_id,
    path_int,
    principal,
    query,
    run,
    services,
    sliced,
    text_body,
)
from api.schemas import PageQuery


async def publish_ruleset(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    text = await text_body(request)
    version = await run(
        services(request).publish_ruleset,
        principal(request),
        project_id,
        text,
        meta(request, "rulesets.publish"),
    )
    location = f"/api/projects/{project_id}/rulesets/{version}"
    return answer({"version": version}, status=201, headers={"Location": location})


async def list_rulesets(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    paging = query(request, PageQuery)
    return sliced(await run(services(request).rulesets, principal(request), project_id), paging)


async def get_ruleset(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    version = path_int(request, "version")
    return answer(await run(services(request).ruleset, principal(request), project_id, version))
