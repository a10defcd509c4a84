"""Errors as `application/problem+json` (RFC 9457), and the domain errors' statuses."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from engine.domain.org import ForbiddenError
from engine.errors import BadInputError, ConflictError, NotFoundError, TieoutError
from engine.tenancy import AuthenticationError

PROBLEM_JSON = "application/problem+json"

STATUSES: tuple[tuple[type[TieoutError], int, str], ...] = (
    (AuthenticationError, 401, "Unauthorized"),
    (ForbiddenError, 403, "Forbidden"),
    (NotFoundError, 404, "Not Found"),
    (ConflictError, 409, "Conflict"),
    (BadInputError, 422, "Unprocessable Content"),
)


class Problem(Exception):  # noqa: N818 - it is the problem document, not an error kind
    """An HTTP error answer raised from anywhere in a request's handling."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def response(problem: Problem, instance: str = "") -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    if instance:
        body["instance"] = instance
    body |= problem.extra
    return web.json_response(
        body, status=problem.status, headers=problem.headers, content_type=PROBLEM_JSON
    )


def from_domain(exc: TieoutError) -> Problem:
    for kind, status, title in STATUSES:
        if isinstance(exc, kind):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None  # noqa: PLR2004
            return Problem(status, title, str(exc), headers)
    return Problem(422, "Unprocessable Content", str(exc))


def from_validation(exc: ValidationError) -> Problem:
    """422 naming every bad field (`body.name`, `query.limit`)."""
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    return Problem(422, "Unprocessable Content", detail, errors=errors)


def from_http(exc: web.HTTPException) -> Problem:
    headers = {key: value for key, value in exc.headers.items() if key in {"Allow", "Retry-After"}}
    return Problem(exc.status, exc.reason, "", headers)
