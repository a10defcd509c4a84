"""Projects and their members."""

from __future__ import annotations

from aiohttp import web

from api.handlers.common import answer, body, meta, path_id, principal, query, run, services, sliced
from api.schemas import AddMember, CreateProject, PageQuery


async def create_project(request: web.Request) -> web.Response:
    parsed = await body(request, CreateProject)
    created = await run(
        services(request).create_project,
        principal(request),
        parsed.name,
        meta(request, "projects.create"),
    )
    return answer({"id": created}, status=201, headers={"Location": f"/api/projects/{created}"})


async def list_projects(request: web.Request) -> web.Response:
    paging = query(request, PageQuery)
    return sliced(await run(services(request).projects, principal(request)), paging)


async def get_project(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    return answer(await run(services(request).project, principal(request), project_id))


async def add_member(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    parsed = await body(request, AddMember)
    added = await run(
        services(request).add_member,
        principal(request),
        project_id,
        parsed.email,
        parsed.role,
        meta(request, "projects.members.add"),
    )
    return answer(added, status=201)


async def remove_member(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    email = request.match_info["email"]
    await run(
        services(request).remove_member,
        principal(request),
        project_id,
        email,
        meta(request, "projects.members.remove"),
    )
    return web.Response(status=204)


async def list_members(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    paging = query(request, PageQuery)
    return sliced(await run(services(request).members, principal(request), project_id), paging)
