"""The OpenAPI document describes every route, the docs page renders it from the package,
and schemathesis finds no server error anywhere in it (a bounded number of examples)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from api_helpers import LEFT_CSV, OPERATOR, RIGHT_CSV, RULES, Client, user_token
from budget import examples
from hypothesis import HealthCheck, given, settings
from prometheus_client.registry import CollectorRegistry
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from threads import Threads

from api.app import create_app
from api.openapi import openapi_path
from api.routes import ROUTES
from engine.domain.org import Role, user_id
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.workers import build_worker

EXAMPLES = 12  # per operation: about 250 requests in all


async def test_every_route_is_documented_and_the_page_is_self_contained(client: Client) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == {(route.method, openapi_path(route.path)) for route in ROUTES}
    page = await client.get("/api/docs")
    text = await page.text()
    assert page.content_type == "text/html"
    assert "/api/openapi.json" in text
    assert "http://" not in text
    assert "https://" not in text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


async def test_conditional_reads_problems_and_media_types_are_documented(
    client: Client,
) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    job = "/api/reconciliation/jobs/{job_id}"
    for read in ("results", "unmatched", "stats", "export"):
        operation = paths[f"{job}/{read}"]["get"]
        assert "If-None-Match" in {parameter["name"] for parameter in operation["parameters"]}
        assert {"ETag", "Cache-Control"} <= set(operation["responses"]["200"]["headers"])
        assert "ETag" in operation["responses"]["304"]["headers"]
    export = paths[f"{job}/export"]["get"]["responses"]
    assert set(export["200"]["content"]) == {"text/csv", "application/x-parquet"}
    assert "503" not in export  # streamed: an idle timeout, not the request timeout
    upload = paths["/api/projects/{project_id}/sources"]["post"]["responses"]
    assert {"408", "413", "415", "429"} <= set(upload)
    create = paths["/api/reconciliation/jobs"]["post"]["responses"]
    assert {"413", "429", "503"} <= set(create)
    assert "Retry-After" in create["429"]["headers"]
    listing = paths["/api/projects"]["get"]["responses"]
    assert {"429", "503"} <= set(listing)
    assert not {"408", "413", "415", "304"} & set(listing)
    for item in paths.values():
        for operation in item.values():
            for answer in operation["responses"].values():
                assert "X-Request-ID" in answer["headers"], operation["operationId"]


@pytest.fixture
def served(container: Container, threads: Threads) -> Iterator[str]:
    """The API on a loopback port, its loop on a thread (schemathesis calls synchronously)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(container, CollectorRegistry()))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    threads.start(loop.run_forever)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    threads.join()
    loop.run_until_complete(runner.cleanup())
    loop.close()


def world(container: Container, tmp_path: Path) -> dict[str, Any]:
    token = user_token(container, "boss@acme.test", Role.ADMIN)
    principal = container.tenancy.user_principal(user_id("boss@acme.test"))
    project = container.tenancy.create_project(principal, "Fuzzed", OPERATOR)
    container.app.publish_ruleset(project, RULES, OPERATOR)
    ids = []
    for name, data in (("left.csv", LEFT_CSV), ("right.csv", RIGHT_CSV)):
        path = tmp_path / name
        path.write_bytes(data)
        ids.append(container.app.register_source_file(project, path, OPERATOR))
    job = container.app.request_job(project, ids[0], ids[1], 1, OPERATOR)
    assert build_worker(container).tick()  # completed: its reads carry ETags, answer 304
    catch_up(container.projections, timeout_seconds=60)
    return {"token": token, "project_id": str(project), "job_id": str(job)}


def test_schemathesis_finds_no_server_error(
    container: Container, served: str, tmp_path: Path
) -> None:
    found = world(container, tmp_path)
    document = requests.get(f"{served}/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(
        base_url=served,
        headers={"Authorization": f"Bearer {found['token']}"},
        parameters={"project_id": found["project_id"], "job_id": found["job_id"]},
    )
    auth = {"Authorization": f"Bearer {found['token']}"}
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples(EXAMPLES),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(base_url=served, headers=auth, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=checks)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert failures == []
