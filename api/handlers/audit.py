"""The audit log of the projects the caller may audit; for an organization's admins and
auditors also the organization's events that belong to no project (users, API keys)."""

from __future__ import annotations

from aiohttp import web

from api.handlers.common import page, principal, query, run, services
from api.schemas import AuditQuery, decode_cursor, encode_cursor
from engine.errors import BadInputError
from projections.audit_query import AuditFilters
from projections.catalog import AuditPage


async def audit_events(request: web.Request) -> web.Response:
    parsed = query(request, AuditQuery)
    filters = AuditFilters(
        actor=parsed.actor,
        event_type=parsed.type,
        request_id=parsed.request_id,
        project_id=parsed.project_id,
        since=parsed.from_,
        until=parsed.to,
        limit=parsed.limit,
    )
    before = audit_cursor(parsed.cursor) if parsed.cursor else None
    wanted = AuditPage(filters, parsed.aggregate_id, before)
    found = await run(services(request).audit_events, principal(request), filters, wanted)
    following = None
    if len(found) == parsed.limit:
        following = encode_cursor("audit", [found[-1]["notification_id"]])
    return page(found, following)


def audit_cursor(cursor: str) -> int:
    values = decode_cursor("audit", cursor)
    if len(values) != 1 or not isinstance(values[0], int):
        raise BadInputError("cursor: not a cursor this API gave out")
    return values[0]
