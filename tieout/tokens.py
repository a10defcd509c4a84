"""API bearer tokens: HS256 JWTs naming a user, with expiry, issuer and audience.

The algorithm is pinned on both sides (a token saying `alg: none` or `RS256` is refused
before its signature is looked at), and `exp`, `iss`, `aud` and `sub` are required.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

import jwt

from tieout.secrets import SecretSource

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class InvalidTokenError(Exception):
    """The token is not one this server issued, or it has expired."""


class Tokens:
    def __init__(
        self,
        secret: SecretSource,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def issue(self, user: UUID, ttl_seconds: int | None = None) -> str:
        now = int(self.clock())
        claims = {
            "sub": str(user),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + (ttl_seconds or self.ttl_seconds),
        }
        return jwt.encode(claims, self.secret.current(), algorithm=ALGORITHM)

    def verify(self, token: str) -> UUID:
        """The user the token names; `InvalidTokenError` for anything else."""
        try:
            claims = jwt.decode(
                token,
                self.secret.current(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            return UUID(str(claims["sub"]))
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidTokenError(str(exc)) from None
