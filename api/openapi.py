"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.routes import ROUTES, Route
from tieout import __version__

REF = "#/components/schemas/{model}"
PATH_PARAMETER = re.compile(r"{(\w+)(?::([^}]+))?}")
PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["title", "status"],
}
PROBLEMS = {
    "401": "No valid credentials",
    "403": "The caller's role does not allow this",
    "404": "No such object, or not visible to the caller",
    "408": "The upload stalled: no chunk within TIEOUT_UPLOAD_IDLE_SECONDS",
    "409": "Conflicts with the current state",
    "413": "Body too large",
    "415": "Unsupported media type",
    "422": "Invalid input; `errors` names each field",
    "429": "Rate limit reached; see Retry-After",
    "503": "Took longer than TIEOUT_REQUEST_TIMEOUT_SECONDS",
}
HEADERS = {
    "X-Request-ID": "The request's id: the client's when sane, else a new one.",
    "X-RateLimit-Limit": "Requests the route's rate tier allows in a burst.",
    "X-RateLimit-Remaining": "Requests left in the bucket.",
    "X-RateLimit-Reset": "Seconds until the bucket is full again.",
    "Retry-After": "Seconds until one more request would be allowed.",
    "ETag": "Strong: a completed job's reads never change except through review events. "
    "Absent while the job can still change.",
    "Cache-Control": "`private, no-cache`: keep the answer, ask again with If-None-Match.",
}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag this route answered: 304, without the body, while it is current.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]{0,998}[\\x21-\\x7e])?$"},
}


def openapi_document() -> dict[str, Any]:
    models = _models()
    refs, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template=REF
    )
    schemas = definitions.get("$defs", {}) | {"Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        operation = _operation(route, {model: refs[(model, "validation")] for model in models})
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tieout API",
            "version": __version__,
            "description": "Event-sourced reconciliation. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in HEADERS.items()
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `tieout users create` or an API key "
                    "from `tieout apikeys create`.",
                }
            },
        },
    }


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for route in ROUTES:
        for model in (route.body, route.answer):
            if isinstance(model, type) and issubclass(model, BaseModel) and model not in found:
                found.append(model)
    return found


def _operation(route: Route, refs: dict[type[BaseModel], Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": _path_parameters(route) + _query_parameters(route),
        "responses": _responses(route, refs),
    }
    if route.tier is None:
        operation["security"] = []
    else:
        operation["security"] = [{"bearer": []}]
        operation["x-rate-tier"] = route.tier
    if route.body is not None:
        schema = refs[route.body]
        operation["requestBody"] = {
            "required": not route.path.endswith("/cancel"),
            "content": {"application/json": {"schema": schema}},
        }
    elif route.content:
        media = {"schema": {"type": "string", "format": "binary"}}
        operation["requestBody"] = {
            "required": True,
            "content": dict.fromkeys(route.content, media),
        }
    if route.cached:
        operation["parameters"].append(IF_NONE_MATCH)
    if route.path.endswith("/reconciliation/jobs") and route.method == "POST":
        operation["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
            }
        )
    return operation


def openapi_path(path: str) -> str:
    """aiohttp's `{name:regex}` as OpenAPI's `{name}`."""
    return PATH_PARAMETER.sub(lambda found: "{" + found.group(1) + "}", path)


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    parameters = []
    for name, pattern in PATH_PARAMETER.findall(route.path):
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if name.endswith("_id"):
            schema = {"type": "string", "format": "uuid"}
        elif name == "version":
            schema = {"type": "integer", "minimum": 1}
        elif pattern:
            schema = {"type": "string", "enum": pattern.split("|")}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(route: Route) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    schema = route.query.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": field}
        for name, field in schema.get("properties", {}).items()
    ]


def _responses(route: Route, refs: dict[type[BaseModel], Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": route.summary}
    if isinstance(route.answer, type) and issubclass(route.answer, BaseModel):
        success["content"] = {"application/json": {"schema": refs[route.answer]}}
    elif route.produces:
        success["content"] = {
            media: {"schema": {"type": "string", "format": "binary"}} for media in route.produces
        }
    rated = RATE_HEADERS if route.tier is not None else ()
    cached = ("ETag", "Cache-Control") if route.cached else ()
    success["headers"] = _headers("X-Request-ID", *rated, *cached)
    responses: dict[str, Any] = {str(route.status): success}
    if route.cached:
        responses["304"] = {
            "description": "Not modified: the If-None-Match given is current",
            "headers": _headers("X-Request-ID", *rated, *cached),
        }
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for code in _problems(route):
        extra = ("Retry-After",) if code == "429" else ()
        responses[code] = {
            "description": PROBLEMS[code],
            "content": problem,
            "headers": _headers("X-Request-ID", *rated, *extra),
        }
    return responses


def _problems(route: Route) -> list[str]:
    """The problem statuses this route can answer."""
    if route.tier is None:
        return []
    found = ["401", "403", "404", "409", "422", "429"]
    if route.body is not None or route.content:
        found.append("413")
    if route.streamed and route.content:  # an upload: its media type, its idle timeout
        found += ["408", "415"]
    if not route.streamed:
        found.append("503")
    return sorted(found)


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}
