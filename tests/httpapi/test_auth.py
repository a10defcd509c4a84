"""Credentials: only tokens this server signed, unexpired, for this issuer and audience,
with the pinned algorithm; API keys until revoked; failed attempts throttled."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from api_helpers import OPERATOR, Client, Clock, bearer, user_token

from engine.domain.org import Role, user_id
from tieout.bootstrap import Container

URL = "/api/projects"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    found = {
        "sub": str(user_id("boss@acme.test")),
        "iss": "tieout",
        "aud": "tieout-api",
        "iat": now,
        "exp": now + 600,
    }
    found.update(changes)
    return {key: value for key, value in found.items() if value is not None}


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["sub"] = str(user_id("eve@evil.test"))
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


Forge = Callable[[bytes, str], str]
NEGATIVES: dict[str, Forge] = {
    "alg none": lambda _key, _good: unsigned(claims()),
    "wrong key": lambda _key, _good: jwt.encode(claims(), b"k" * 32, algorithm="HS256"),
    "HS512 with the right key": lambda key, _good: jwt.encode(claims(), key, algorithm="HS512"),
    "expired": lambda key, _good: jwt.encode(claims(exp=int(time.time()) - 5), key, "HS256"),
    "missing exp": lambda key, _good: jwt.encode(claims(exp=None), key, "HS256"),
    "wrong audience": lambda key, _good: jwt.encode(claims(aud="other"), key, "HS256"),
    "wrong issuer": lambda key, _good: jwt.encode(claims(iss="other"), key, "HS256"),
    "missing subject": lambda key, _good: jwt.encode(claims(sub=None), key, "HS256"),
    "unknown user": lambda key, _good: jwt.encode(
        claims(sub=str(user_id("ghost@acme.test"))), key, "HS256"
    ),
    "tampered payload": lambda _key, good: tampered(good),
    "garbage": lambda _key, _good: "not-a-token",
}


@pytest.fixture
def setup(container: Container) -> tuple[bytes, str]:
    user_token(container, "eve@evil.test", Role.ADMIN, org="evil")
    return container.tokens.secret.current(), user_token(container, "boss@acme.test", Role.ADMIN)


async def test_a_good_token_works_and_every_forgery_is_401(
    client: Client, setup: tuple[bytes, str]
) -> None:
    key, good = setup
    assert (await client.get(URL, headers=bearer(good))).status == 200
    statuses = {}
    for name, forge in NEGATIVES.items():
        answer = await client.get(URL, headers=bearer(forge(key, good)))
        statuses[name] = answer.status
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.content_type == "application/problem+json"
    assert statuses == dict.fromkeys(NEGATIVES, 401)


@pytest.mark.parametrize(
    "header", ["", "Basic Ym9zczpwdw==", "Bearer", "Bearer  ", "bearer tieout_00_x"]
)
async def test_missing_or_malformed_credentials_are_401(client: Client, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    answer = await client.get(URL, headers=headers)
    assert answer.status == 401


async def test_api_keys_until_revoked(client: Client, container: Container) -> None:
    issued = container.tenancy.issue_api_key("acme", Role.ANALYST, "loader", OPERATOR)
    made = await client.post(URL, json={"name": "Loads"}, headers=bearer(issued.token))
    assert made.status == 201
    container.tenancy.revoke_api_key(issued.id, "rotated", OPERATOR)
    assert (await client.get(URL, headers=bearer(issued.token))).status == 401


async def test_failed_sign_ins_are_throttled_per_address(
    client: Client, clock: Clock, setup: tuple[bytes, str]
) -> None:
    _, good = setup
    statuses = [(await client.get(URL, headers=bearer("nope"))).status for _ in range(21)]
    assert statuses == [401] * 20 + [429]
    limited = await client.get(URL, headers=bearer("nope"))
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await client.get(URL, headers=bearer(good))).status == 200  # good ones still pass
    clock.now += 60
    assert (await client.get(URL, headers=bearer("nope"))).status == 401
