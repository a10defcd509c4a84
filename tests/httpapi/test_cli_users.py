"""`tieout users create` and `tieout apikeys create` print a working credential last."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from api_helpers import bearer
from prometheus_client.registry import CollectorRegistry

from api.app import create_app
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


async def test_printed_credentials_open_the_api(
    cli_env: dict[str, str], container: Container, aiohttp_client: Any
) -> None:
    token = run(cli_env, "users", "create", "Ann@Acme.test", "--role", "analyst", "--org", "acme")
    key = run(cli_env, "apikeys", "create", "--org", "acme", "--role", "viewer", "--name", "etl")
    again = run(cli_env, "users", "token", "ann@acme.test")
    client: TestClient[Any, Any] = await aiohttp_client(create_app(container, CollectorRegistry()))
    made = await client.post("/api/projects", json={"name": "P"}, headers=bearer(token))
    assert made.status == 201
    assert (await client.get("/api/projects", headers=bearer(again))).status == 200
    listed = await (await client.get("/api/projects", headers=bearer(key))).json()
    assert [item["name"] for item in listed["items"]] == ["P"]
    assert (
        await client.post("/api/projects", json={"name": "Q"}, headers=bearer(key))
    ).status == 403
