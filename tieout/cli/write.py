"""The write side: projects, rulesets, sources (their list and show commands are in
tieout/cli/listing.py, on these same groups)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from engine.errors import BadInputError
from engine.ingest import FORMATS, Upload, open_upload
from tieout.cli.context import cli_meta, container, parse_id
from tieout.cli.root import cli


@cli.group()
def projects() -> None:
    """Create projects, and list them to find an id by name."""


@projects.command("create")
@click.argument("name")
def create_project(name: str) -> None:
    """Create a project; prints its id."""
    with container() as built:
        click.echo(built.app.create_project(name, cli_meta("projects.create")))


@cli.group()
def rulesets() -> None:
    """Publish immutable, versioned rulesets; list and show them."""


@rulesets.command("publish")
@click.argument("project")
@click.argument("file", type=click.Path(path_type=Path))
def publish_ruleset(project: str, file: Path) -> None:
    """Validate FILE (YAML or JSON) and publish it; prints the version."""
    project_id = parse_id(project, "project")
    text = _read_text(file)
    with container() as built:
        click.echo(built.app.publish_ruleset(project_id, text, cli_meta("rulesets.publish")))


@cli.group()
def sources() -> None:
    """Register input files (CSV, Parquet, NDJSON) and list them."""


@sources.command("add")
@click.argument("project")
@click.argument("file")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    default=None,
    help="The input's format; needed for standard input (FILE `-`). Default: the extension.",
)
@click.option("--name", default=None, help="The source's name (default: the file's name).")
def add_source(project: str, file: str, file_format: str | None, name: str | None) -> None:
    """Store FILE (or standard input, `-`) once, content-addressed, and register it; prints
    the source id. The same content gives the same id from a file or from standard input."""
    project_id = parse_id(project, "project")
    meta = cli_meta("sources.add")
    with _upload(file, file_format, name) as upload, container() as built:
        click.echo(built.app.register_source(project_id, upload, meta))


@contextmanager
def _upload(file: str, file_format: str | None, name: str | None) -> Iterator[Upload]:
    if file == "-":
        if file_format is None:
            raise click.UsageError("--format is required when FILE is - (standard input)")
        stream = sys.stdin.buffer
        yield Upload(name or "stdin", file_format, stream)
        return
    with open_upload(Path(file), file_format) as upload:
        yield upload if name is None else replace(upload, name=name)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: cannot read: not UTF-8 text") from None
