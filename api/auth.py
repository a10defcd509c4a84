"""Who is calling: a bearer JWT (a user) or an API key (`tieout_...`, a service).

Failed authentications are counted per client address in the `login` rate tier, so
guessing keys or tokens is throttled before it costs a database read.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.keys import CONTAINER, LIMITS, PRINCIPAL
from api.problems import Problem
from engine.tenancy import KEY_PREFIX, AuthenticationError, Principal
from tieout.bootstrap import Container
from tieout.tokens import InvalidTokenError

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tieout"'}


async def authenticate(request: web.Request) -> Principal:
    """The caller, or a 401 (429 once the address has failed too often)."""
    container = request.app[CONTAINER]
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    try:
        principal = await asyncio.to_thread(_principal, container, scheme, credential.strip())
    except AuthenticationError as exc:
        decision = await request.app[LIMITS].take("login", request.remote or "unknown")
        if not decision.allowed:
            raise Problem(
                429, "Too Many Requests", "too many failed sign-ins", decision.headers()
            ) from None
        raise Problem(401, "Unauthorized", str(exc), CHALLENGE) from None
    request[PRINCIPAL] = principal
    return principal


def _principal(container: Container, scheme: str, credential: str) -> Principal:
    if scheme.lower() != "bearer" or not credential:
        raise AuthenticationError("send Authorization: Bearer <token or API key>")
    if credential.startswith(KEY_PREFIX):
        return container.tenancy.key_principal(credential)
    try:
        user = container.tokens.verify(credential)
    except InvalidTokenError as exc:
        raise AuthenticationError(f"invalid token: {exc}") from None
    return container.tenancy.user_principal(user)
