"""The API's fixtures: an app over a real PostgreSQL, and callers in two organizations."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Client, Clock, bearer, user_token
from prometheus_client.registry import CollectorRegistry

from api.app import create_app
from api.ratelimit import MemoryLimiter
from engine.domain.org import Role
from tieout.bootstrap import Container


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(container: Container, clock: Clock, aiohttp_client: Any) -> Client:
    app = create_app(container, CollectorRegistry(), MemoryLimiter(clock))
    found: Client = await aiohttp_client(app)
    return found


@pytest.fixture
def admin(container: Container) -> dict[str, str]:
    return bearer(user_token(container, "boss@acme.test", Role.ADMIN))


@pytest.fixture
def outsider(container: Container) -> dict[str, str]:
    return bearer(user_token(container, "eve@evil.test", Role.ADMIN, org="evil"))
