"""A job's results: pages of decisions and unmatched items, stats, the streamed export, the
job as of a moment, the proof of replay and a ruleset's diff.

A completed job's reads never change (its decisions hash is fixed; reviews will carry
their own version), so they carry a strong ETag and `If-None-Match` answers 304 after the
access check, without reading the results again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow.parquet as pq
from aiohttp import web

from api.handlers.common import answer, path_id, principal, query, run, text_body
from api.keys import CLIENT_GONE, CONTAINER, JOB_READS, LONG_CALLS
from api.results import strong_etag
from api.schemas import (
    DiffQuery,
    ExportQuery,
    HistoryQuery,
    ResultsQuery,
    StatsQuery,
    UnmatchedQuery,
)
from projections.results_query import EXPORT_SCHEMAS, DecisionFilters, UnmatchedFilters

logger = logging.getLogger("tieout.api")
ResultT = TypeVar("ResultT")

FILE_CHUNK = 1 << 20
CACHE_CONTROL = "private, no-cache"  # keep it, but ask again: a 304 costs no result read


async def results(request: web.Request) -> web.StreamResponse:
    job = path_id(request, "job_id")
    parsed = query(request, ResultsQuery)
    filters = DecisionFilters(
        parsed.status,
        parsed.rule,
        parsed.review_status,
        parsed.min_confidence,
        parsed.max_confidence,
    )
    reads = request.app[JOB_READS]
    return await cached(
        request,
        lambda: run(reads.decisions, principal(request), job, filters, parsed.limit, parsed.cursor),
    )


async def unmatched(request: web.Request) -> web.StreamResponse:
    job = path_id(request, "job_id")
    parsed = query(request, UnmatchedQuery)
    filters = UnmatchedFilters(parsed.side, parsed.age, parsed.reason, parsed.as_of)
    reads = request.app[JOB_READS]
    return await cached(
        request,
        lambda: run(reads.unmatched, principal(request), job, filters, parsed.limit, parsed.cursor),
    )


async def stats(request: web.Request) -> web.StreamResponse:
    job = path_id(request, "job_id")
    as_of = query(request, StatsQuery).as_of
    reads = request.app[JOB_READS]
    return await cached(request, lambda: run(reads.stats, principal(request), job, as_of))


async def export(request: web.Request) -> web.StreamResponse:
    """The decisions (or unmatched items) as CSV or Parquet, streamed a page at a time."""
    job = path_id(request, "job_id")
    parsed = query(request, ExportQuery)
    tag = await entity_tag(request)
    if tag is not None and matches(request, tag):
        return not_modified(tag)
    pages = await run(request.app[JOB_READS].export_pages, principal(request), job, parsed.what)
    name = f"{job}-{parsed.what}.{parsed.format}"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv" if parsed.format == "csv" else "application/x-parquet",
            "Content-Disposition": f'attachment; filename="{name}"',
            **({"ETag": tag, "Cache-Control": CACHE_CONTROL} if tag else {}),
        }
    )
    try:
        if parsed.format == "csv":
            await stream_csv(request, response, pages, parsed.what)
        else:
            await stream_parquet(request, response, pages, parsed.what)
        await response.write_eof()
    except ConnectionResetError:  # the client went away mid-stream: its choice, no fault
        logger.info("export of job %s ended: the client closed the connection", job)
        request[CLIENT_GONE] = True
    except ClientStalledError:
        logger.info("export of job %s cut off: the client stopped reading", job)
        request[CLIENT_GONE] = True
        if request.transport is not None:
            request.transport.abort()  # what it has not read is dropped, not sent later
    return response


async def history(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    parsed = query(request, HistoryQuery)
    reads = request.app[JOB_READS]
    return answer(await run(reads.history, principal(request), job, parsed.as_of, parsed.limit))


async def rerun(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    return answer(await run_long(request, request.app[JOB_READS].rerun, principal(request), job))


async def diff(request: web.Request) -> web.Response:
    job = path_id(request, "job_id")
    limit = query(request, DiffQuery).limit
    text = await text_body(request)
    reads = request.app[JOB_READS]
    return answer(await run_long(request, reads.diff, principal(request), job, text, limit))


async def run_long(request: web.Request, call: Callable[..., ResultT], *args: Any) -> ResultT:
    """`run` within the app's slots for long calls (`long_call_slots`). The slot is held
    until the thread ends, not until the request does: a request that times out answers
    503 at once, while its thread finishes (and frees the slot) on its own."""
    slots = request.app[LONG_CALLS]
    await slots.acquire()
    context = contextvars.copy_context()  # the request id, for the thread's log lines
    call_in_context = functools.partial(context.run, call, *args)
    done = asyncio.get_running_loop().run_in_executor(None, call_in_context)
    done.add_done_callback(lambda _: slots.release())
    return await asyncio.shield(done)


# Conditional reads


async def cached(
    request: web.Request, produce: Callable[[], Awaitable[dict[str, Any]]]
) -> web.Response:
    """304 when the client holds this representation of a completed job, else the answer
    with its ETag (none while the job can still change)."""
    tag = await entity_tag(request)
    if tag is not None and matches(request, tag):
        return not_modified(tag)
    found = answer(await produce())
    if tag is not None:
        found.headers["ETag"] = tag
        found.headers["Cache-Control"] = CACHE_CONTROL
    return found


async def entity_tag(request: web.Request) -> str | None:
    job = path_id(request, "job_id")
    basis = await run(request.app[JOB_READS].entity_tag, principal(request), job)
    return None if basis is None else strong_etag(basis, request.path_qs)


def matches(request: web.Request, tag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return any(candidate.strip() in {tag, "*"} for candidate in wanted.split(",") if candidate)


def not_modified(tag: str) -> web.Response:
    return web.Response(status=304, headers={"ETag": tag, "Cache-Control": CACHE_CONTROL})


# Export writers: one page of rows in memory at a time.


class ClientStalledError(Exception):
    """The client read nothing of the export for TIEOUT_EXPORT_IDLE_SECONDS."""


async def send(request: web.Request, response: web.StreamResponse, data: bytes) -> None:
    """Write `data`, waiting for the client to read at most TIEOUT_EXPORT_IDLE_SECONDS: a
    write waits only while the socket's buffers are full, so a client that stops reading
    would otherwise hold this handler for as long as it keeps the connection open."""
    idle = request.app[CONTAINER].settings.export_idle_seconds
    try:
        async with asyncio.timeout(idle):
            await response.write(data)
    except TimeoutError:
        raise ClientStalledError from None


async def stream_csv(
    request: web.Request, response: web.StreamResponse, pages: Iterator[pl.DataFrame], what: str
) -> None:
    await response.prepare(request)
    header = True
    while (frame := await run(next, pages, None)) is not None:
        await send(request, response, frame.write_csv(include_header=header).encode())
        header = False
    if header:  # no rows: the header alone
        empty = pl.DataFrame(schema=EXPORT_SCHEMAS[what])
        await send(request, response, empty.write_csv(include_header=True).encode())


async def stream_parquet(
    request: web.Request, response: web.StreamResponse, pages: Iterator[pl.DataFrame], what: str
) -> None:
    """Parquet's footer comes last, so the pages are written to a scratch file first."""
    with tempfile.TemporaryDirectory(prefix="tieout-export-") as scratch:
        path = Path(scratch) / "export.parquet"
        await run(write_parquet, pages, path, what)
        await response.prepare(request)
        with path.open("rb") as handle:
            while chunk := handle.read(FILE_CHUNK):
                await send(request, response, chunk)


def write_parquet(pages: Iterator[pl.DataFrame], path: Path, what: str) -> None:
    schema = pl.DataFrame(schema=EXPORT_SCHEMAS[what]).to_arrow().schema
    with pq.ParquetWriter(path, schema) as writer:
        for frame in pages:
            writer.write_table(frame.to_arrow().cast(schema))
