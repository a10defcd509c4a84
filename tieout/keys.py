"""The deployment's keys: the Ed25519 signing key and the backup encryption key.

Each comes from its setting, else from the AWS Secrets Manager secret its `..._SECRET_ID`
setting names (read through boto3's usual credentials). When neither names a signing key,
one is generated once and kept in `TIEOUT_HOME/signing.key` (mode 0600), so the embedded
default signs out of the box; a deployment with several machines gives every machine the
same key (docs/backups.md).
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from engine.commitment import Signer
from engine.errors import BadInputError
from tieout.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SIGNING_KEY_FILE = "signing.key"
AES_KEY_BYTES = (16, 24, 32)


def signing_key(settings: Settings) -> Signer:
    """TIEOUT_SIGNING_KEY, its secret, or the key kept under TIEOUT_HOME (made on first use)."""
    text = _configured(settings, settings.signing_key, settings.signing_key_secret_id, "SIGNING")
    if text is not None:
        return Signer.from_text(text, "TIEOUT_SIGNING_KEY")
    path = settings.home / SIGNING_KEY_FILE
    if not path.exists():
        _write_private(path, Signer.generate().text)
    return Signer.from_text(path.read_text(encoding="ascii"), str(path))


def backup_key(settings: Settings) -> bytes | None:
    """The AES-GCM key of TIEOUT_BACKUP_KEY or its secret (base64 of 16, 24 or 32 bytes),
    or None."""
    text = _configured(settings, settings.backup_key, settings.backup_key_secret_id, "BACKUP")
    if text is None:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) not in AES_KEY_BYTES:
        raise BadInputError("TIEOUT_BACKUP_KEY: expected base64 of a 16, 24 or 32-byte key")
    return raw


def _configured(
    settings: Settings, value: SecretStr | None, secret_id: str | None, kind: str
) -> str | None:
    if value is not None:
        return value.get_secret_value().strip()
    if secret_id:
        return _read_secret(
            secret_id, settings.secrets_endpoint_url, f"TIEOUT_{kind}_KEY_SECRET_ID"
        )
    return None


def _read_secret(secret_id: str, endpoint_url: str | None, variable: str) -> str:
    client: SecretsManagerClient = boto3.client("secretsmanager", endpoint_url=endpoint_url)
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise BadInputError(f"{variable}: cannot read {secret_id}: {exc}") from None
    text = answer.get("SecretString")
    if not text:
        raise BadInputError(f"{variable}: {secret_id} holds no text (base64 of the key)")
    return text.strip()


def _write_private(path: Path, text: str) -> None:
    """Written whole to a private scratch file, then linked into place: a process that loses
    the race keeps the winner's key, and no process reads a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".signing-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)
