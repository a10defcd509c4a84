"""The OpenAPI document and the page that renders it, both served from the package."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from api.handlers.common import answer
from api.keys import OPENAPI

DOCS_PAGE = resources.files("api").joinpath("static/docs.html").read_text(encoding="utf-8")


async def openapi_document(request: web.Request) -> web.Response:
    return answer(request.app[OPENAPI])


async def docs_page(request: web.Request) -> web.Response:
    del request
    return web.Response(
        text=DOCS_PAGE,
        content_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'",
        },
    )
