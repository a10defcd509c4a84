"""What every handler shares: parsing bodies and queries within limits, the event metadata
of the request, running the synchronous services off the loop, and JSON answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.keys import CONTAINER, PRINCIPAL, REQUEST_ID, SERVICES
from api.problems import Problem
from api.schemas import PageQuery, decode_cursor, encode_cursor
from api.services import ApiServices
from engine.domain.meta import EventMeta, event_meta
from engine.errors import BadInputError
from engine.tenancy import Principal

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")
CHUNK = 1 << 16


def services(request: web.Request) -> ApiServices:
    return request.app[SERVICES]


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def meta(request: web.Request, causation: str) -> EventMeta:
    """The metadata of every event this request causes."""
    return event_meta(request[PRINCIPAL].actor, causation, request[REQUEST_ID])


async def run(call: Callable[..., ResultT], *args: Any) -> ResultT:
    """A synchronous call on the bounded executor (docs/adr/0002)."""
    return await asyncio.to_thread(call, *args)


def path_id(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, "Not Found", f"{name}: no such object") from None


def path_int(request: web.Request, name: str) -> int:
    text = request.match_info[name]
    if not text.isdigit() or len(text) > 9:  # noqa: PLR2004 - beyond any version there is
        raise Problem(404, "Not Found", f"{name}: no such object")
    return int(text)


def query(request: web.Request, model: type[ModelT]) -> ModelT:
    values = {key: request.query.getone(key) for key in request.query}
    return validate(model, values, "query")


def validate(model: type[ModelT], values: Any, where: str) -> ModelT:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _located(exc, where) from None


async def read_limited(request: web.Request) -> bytes:
    """The whole body, refused with 413 past TIEOUT_MAX_BODY_BYTES (before reading it all)."""
    limit = request.app[CONTAINER].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, "Content Too Large", f"the body is limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Content Too Large", f"the body is limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def body(request: web.Request, model: type[ModelT]) -> ModelT:
    raw = await read_limited(request)
    try:
        values = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise BadInputError("body: not valid JSON") from None
    return validate(model, values, "body")


async def text_body(request: web.Request) -> str:
    raw = await read_limited(request)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError("body: not UTF-8 text") from None


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def page(items: Sequence[Any], next_cursor: str | None) -> web.Response:
    return answer({"items": list(items), "next_cursor": next_cursor})


def sliced(items: Sequence[Any], paging: PageQuery) -> web.Response:
    """A page of a list held whole (projects, members, sources, rulesets)."""
    start = _offset(paging.cursor) if paging.cursor else 0
    end = start + paging.limit
    following = encode_cursor("offset", [end]) if end < len(items) else None
    return page(items[start:end], following)


def _offset(cursor: str) -> int:
    values = decode_cursor("offset", cursor)
    if len(values) != 1 or not isinstance(values[0], int) or values[0] < 0:
        raise BadInputError("cursor: not a cursor this API gave out")
    return values[0]


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str, separators=(",", ":"))


def _located(exc: ValidationError, where: str) -> Problem:
    errors = [
        {
            "field": ".".join([where, *(str(part) for part in error["loc"])]),
            "message": error["msg"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]
    detail = f"{errors[0]['field']}: {errors[0]['message']}" if errors else where
    return Problem(422, "Unprocessable Content", detail, errors=errors)
