"""The token secret from AWS Secrets Manager (moto's server on loopback): read once, cached,
refreshed after its time, and kept when a refresh fails; and from the settings or a file."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from api_helpers import Clock
from moto.server import ThreadedMotoServer

from engine.errors import BadInputError
from tieout.bootstrap import _tokens
from tieout.secrets import SecretsManagerSecret, StaticSecret, file_secret
from tieout.settings import Settings

FIRST = "first-secret-" + "a" * 40
SECOND = "second-secret-" + "b" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_cached_refreshed_and_kept_on_failure(endpoint: str) -> None:
    client = boto3.client("secretsmanager", endpoint_url=endpoint)
    arn = client.create_secret(Name="tieout/jwt-1", SecretString=FIRST)["ARN"]
    clock = Clock()
    secret = SecretsManagerSecret(arn, refresh_seconds=300, endpoint_url=endpoint, clock=clock)
    assert secret.current() == FIRST.encode()
    client.put_secret_value(SecretId=arn, SecretString=SECOND)
    clock.now += 299
    assert secret.current() == FIRST.encode()  # cached
    clock.now += 1
    assert secret.current() == SECOND.encode()  # refreshed
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    clock.now += 300
    assert secret.current() == SECOND.encode()  # the refresh failed: the last value stays


def test_a_missing_or_short_secret_is_named(endpoint: str) -> None:
    missing = SecretsManagerSecret("tieout/none", refresh_seconds=1, endpoint_url=endpoint)
    with pytest.raises(BadInputError, match="TIEOUT_JWT_SECRET_ID"):
        missing.current()
    client = boto3.client("secretsmanager", endpoint_url=endpoint)
    client.create_secret(Name="tieout/short", SecretString="short")
    short = SecretsManagerSecret("tieout/short", refresh_seconds=1, endpoint_url=endpoint)
    with pytest.raises(BadInputError, match="at least 32 bytes"):
        short.current()


def test_tokens_signed_with_the_configured_secret(endpoint: str, tmp_path: Path) -> None:
    client = boto3.client("secretsmanager", endpoint_url=endpoint)
    name = "tieout/jwt-2"
    client.create_secret(Name=name, SecretString=FIRST)
    from_aws = _tokens(Settings(home=tmp_path, jwt_secret_id=name, secrets_endpoint_url=endpoint))
    from_setting = _tokens(Settings(home=tmp_path, jwt_secret=FIRST))
    user = uuid.uuid4()
    assert from_setting.verify(from_aws.issue(user)) == user


def test_the_file_secret_is_made_once_and_private(tmp_path: Path) -> None:
    first = file_secret(tmp_path)
    assert file_secret(tmp_path).current() == first.current()
    assert (tmp_path / "jwt.secret").stat().st_mode & 0o777 == 0o600
    with pytest.raises(BadInputError):
        StaticSecret(b"too short")
