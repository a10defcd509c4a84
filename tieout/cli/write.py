"""The write side: projects, rulesets, sources."""

from __future__ import annotations

from pathlib import Path

import click

from engine.errors import BadInputError
from tieout.cli.context import cli_meta, container, parse_id
from tieout.cli.root import cli


@cli.group()
def projects() -> None:
    """Create and inspect projects."""


@projects.command("create")
@click.argument("name")
def create_project(name: str) -> None:
    """Create a project; prints its id."""
    with container() as built:
        click.echo(built.app.create_project(name, cli_meta("projects.create")))


@cli.group()
def rulesets() -> None:
    """Publish immutable, versioned rulesets."""


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
    """Register input files (CSV, Parquet, NDJSON)."""


@sources.command("add")
@click.argument("project")
@click.argument("file", type=click.Path(path_type=Path))
def add_source(project: str, file: Path) -> None:
    """Store FILE once, content-addressed, and register it; prints the source id."""
    project_id = parse_id(project, "project")
    with container() as built:
        click.echo(built.app.register_source(project_id, file, cli_meta("sources.add")))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: cannot read: not UTF-8 text") from None
