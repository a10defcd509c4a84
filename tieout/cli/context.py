"""What CLI commands share: the container, the acting user, output helpers."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import click

from engine.domain.meta import EventMeta, event_meta
from engine.errors import BadInputError
from tieout.bootstrap import Container, bootstrap


@contextmanager
def container(process: str = "cli") -> Iterator[Container]:
    """Bootstrap for one command (or long-running `process`) and close afterwards."""
    built = bootstrap(process=process)
    try:
        yield built
    finally:
        built.close()


def cli_meta(command: str) -> EventMeta:
    """Events caused from the CLI name the OS user; they have no request id."""
    return event_meta(actor=f"cli:{getpass.getuser()}", causation=command)


def parse_id(value: str, label: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadInputError(f"{label}: {value!r} is not a valid id") from None


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
