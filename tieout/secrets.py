"""Where the token-signing secret comes from: a setting, AWS Secrets Manager, or a file.

`TIEOUT_JWT_SECRET` wins; else `TIEOUT_JWT_SECRET_ID` names a Secrets Manager secret, read
through boto3 and kept for `TIEOUT_JWT_SECRET_REFRESH_SECONDS` (a rotated secret is picked
up within that time, and a failed refresh keeps serving the last value it read); else a
random secret is made once and kept, readable by its owner only, in TIEOUT_HOME/jwt.secret,
so that `tieout users create` and `tieout serve` on one machine agree with no set-up.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from engine.errors import BadInputError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = logging.getLogger(__name__)
SECRET_FILE = "jwt.secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_BYTES = 32


class SecretSource(Protocol):
    def current(self) -> bytes:
        """The secret to sign and verify with now."""
        ...


class StaticSecret:
    def __init__(self, value: bytes) -> None:
        if len(value) < MIN_SECRET_BYTES:
            msg = f"TIEOUT_JWT_SECRET: must be at least {MIN_SECRET_BYTES} bytes"
            raise BadInputError(msg)
        self.value = value

    def current(self) -> bytes:
        return self.value


def file_secret(home: Path) -> StaticSecret:
    """The secret kept under TIEOUT_HOME, made on first use (owner-only permissions)."""
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="ascii") as handle:
                path.chmod(0o600)
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass  # another process made it first; read theirs
    return StaticSecret(path.read_text(encoding="ascii").strip().encode())


class SecretsManagerSecret:
    """A secret in AWS Secrets Manager, cached and refreshed; thread-safe."""

    def __init__(
        self,
        secret_id: str,
        refresh_seconds: float,
        endpoint_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.client: SecretsManagerClient = boto3.client(
            "secretsmanager", endpoint_url=endpoint_url
        )
        self._lock = threading.Lock()
        self._value: bytes | None = None
        self._read_at = 0.0

    def current(self) -> bytes:
        with self._lock:
            if self._value is None or self.clock() - self._read_at >= self.refresh_seconds:
                self._refresh()
            assert self._value is not None  # noqa: S101 - _refresh sets it or raises
            return self._value

    def _refresh(self) -> None:
        try:
            answer = self.client.get_secret_value(SecretId=self.secret_id)
        except (BotoCoreError, ClientError) as exc:
            if self._value is None:
                msg = f"TIEOUT_JWT_SECRET_ID: cannot read {self.secret_id}: {exc}"
                raise BadInputError(msg) from None
            logger.warning("keeping the cached token secret: refresh failed: %s", exc)
            self._read_at = self.clock()
            return
        text = answer.get("SecretString")
        value = text.encode() if text is not None else answer.get("SecretBinary", b"")
        self._value = StaticSecret(value).value
        self._read_at = self.clock()
