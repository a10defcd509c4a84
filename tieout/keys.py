"""The deployment's keys: the Ed25519 signing key and the backup encryption key.

Both come from settings. When `TIEOUT_SIGNING_KEY` is unset, a key is generated once and
kept in `TIEOUT_HOME/signing.key` (mode 0600), so the embedded default signs out of the
box; a deployment with several machines sets the same key everywhere (docs/backups.md).
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path

from engine.commitment import Signer
from engine.errors import BadInputError
from tieout.settings import Settings

SIGNING_KEY_FILE = "signing.key"
AES_KEY_BYTES = (16, 24, 32)


def signing_key(settings: Settings) -> Signer:
    """TIEOUT_SIGNING_KEY, or the key kept under TIEOUT_HOME (made on first use)."""
    if settings.signing_key:
        return Signer.from_text(settings.signing_key.get_secret_value(), "TIEOUT_SIGNING_KEY")
    path = settings.home / SIGNING_KEY_FILE
    if not path.exists():
        _write_private(path, Signer.generate().text)
    return Signer.from_text(path.read_text(encoding="ascii"), str(path))


def backup_key(settings: Settings) -> bytes | None:
    """The AES-GCM key of TIEOUT_BACKUP_KEY (base64 of 16, 24 or 32 bytes), or None."""
    if settings.backup_key is None:
        return None
    try:
        raw = base64.b64decode(settings.backup_key.get_secret_value(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) not in AES_KEY_BYTES:
        raise BadInputError("TIEOUT_BACKUP_KEY: expected base64 of a 16, 24 or 32-byte key")
    return raw


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
