"""The signing and backup keys come from settings, from AWS Secrets Manager (moto's server
here), or for signing from a file made once under TIEOUT_HOME."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from net_helpers import free_port
from pydantic import SecretStr

from engine.commitment import Signer
from engine.errors import BadInputError
from tieout.keys import SIGNING_KEY_FILE, backup_key, signing_key
from tieout.settings import Settings


@pytest.fixture
def secrets_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_keys_are_read_from_secrets_manager(secrets_endpoint: str, tmp_path: Path) -> None:
    signer = Signer.generate()
    aes = base64.b64encode(os.urandom(32)).decode()
    client = boto3.client("secretsmanager", endpoint_url=secrets_endpoint)
    client.create_secret(Name="tieout/signing", SecretString=signer.text)
    client.create_secret(Name="tieout/backup", SecretString=aes + "\n")
    settings = Settings(
        home=tmp_path,
        secrets_endpoint_url=secrets_endpoint,
        signing_key_secret_id="tieout/signing",  # noqa: S106 - a secret's name
        backup_key_secret_id="tieout/backup",  # noqa: S106 - a secret's name
    )
    assert signing_key(settings).verifier.key_id == signer.verifier.key_id
    assert backup_key(settings) == base64.b64decode(aes)
    assert not (tmp_path / SIGNING_KEY_FILE).exists()
    missing = settings.model_copy(update={"signing_key_secret_id": "tieout/nothing"})
    with pytest.raises(BadInputError, match="TIEOUT_SIGNING_KEY_SECRET_ID: cannot read"):
        signing_key(missing)


def test_a_key_is_made_once_under_tieout_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first, again = signing_key(settings), signing_key(settings)
    assert first.verifier.key_id == again.verifier.key_id
    mode = (tmp_path / "home" / SIGNING_KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert backup_key(settings) is None


def test_bad_keys_name_their_setting(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="TIEOUT_SIGNING_KEY"):
        signing_key(Settings(home=tmp_path, signing_key=SecretStr("not base64!")))
    with pytest.raises(BadInputError, match="TIEOUT_BACKUP_KEY"):
        backup_key(Settings(home=tmp_path, backup_key=SecretStr(base64.b64encode(b"x").decode())))
