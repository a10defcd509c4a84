"""Sources: the upload is streamed to a scratch file (never held in memory), within the
size limit and the idle timeout, then converted and stored by the application."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from api.handlers.common import answer, meta, page, path_id, principal, query, run, services
from api.keys import CONTAINER
from api.problems import Problem
from api.schemas import PageQuery, SourceQuery
from engine.domain.org import Operation
from engine.ingest import EXTENSIONS

UPLOAD_TYPES = {
    "text/csv": "csv",
    "application/x-parquet": "parquet",
    "application/vnd.apache.parquet": "parquet",
    "application/x-ndjson": "ndjson",
}


async def upload_source(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    name = query(request, SourceQuery).name
    file_format = upload_format(request.content_type)
    await run(services(request).check, principal(request), project_id, Operation.WRITE)
    with tempfile.TemporaryDirectory(prefix="tieout-upload-") as scratch:
        spooled = Path(scratch) / f"upload{EXTENSIONS[file_format]}"
        await spool(request, spooled)
        created = await run(
            services(request).register_source,
            principal(request),
            project_id,
            spooled,
            name,
            file_format,
            meta(request, "sources.add"),
        )
    return answer(created, status=201)


async def list_sources(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    paging = query(request, PageQuery)
    found = await run(
        services(request).sources, principal(request), project_id, paging.limit, paging.cursor
    )
    return page(found["items"], found["next_cursor"])


def upload_format(content_type: str) -> str:
    found = UPLOAD_TYPES.get(content_type)
    if found is None:
        known = ", ".join(sorted(UPLOAD_TYPES))
        raise Problem(415, "Unsupported Media Type", f"Content-Type must be one of {known}")
    return found


async def spool(request: web.Request, target: Path) -> None:
    """Write the body to `target` chunk by chunk: 413 as soon as it passes
    TIEOUT_MAX_UPLOAD_BYTES, 408 when no chunk arrives for TIEOUT_UPLOAD_IDLE_SECONDS."""
    settings = request.app[CONTAINER].settings
    limit = settings.max_upload_bytes
    too_large = Problem(413, "Content Too Large", f"uploads are limited to {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    size = 0
    with target.open("wb") as out:
        while True:
            try:
                chunk = await asyncio.wait_for(
                    request.content.readany(), settings.upload_idle_seconds
                )
            except TimeoutError:
                raise Problem(408, "Request Timeout", "the upload stalled") from None
            if not chunk:
                return
            size += len(chunk)
            if size > limit:
                raise too_large
            out.write(chunk)  # to the page cache: microseconds, not worth a thread hop
