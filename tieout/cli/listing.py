"""`tieout projects list`, `sources list PROJECT`, `rulesets list PROJECT` and `rulesets show
PROJECT VERSION`: what was created, found again by name.

They read the read models. On the embedded default they first catch the read models up;
against a server they read what the projector has written and say how far behind it is.
`--json` prints `{"items": [...], "next_cursor": ...}` (a ruleset: the one object).
"""

from __future__ import annotations

from typing import Any

import click
import yaml

from projections.results_query import Page
from tieout.cli.context import emit_json, parse_id
from tieout.cli.display import print_table
from tieout.cli.paging import cursor_option, fresh, json_option, limit_option
from tieout.cli.write import projects, rulesets, sources


@projects.command("list")
@click.option("--name", default=None, help="Only projects whose name starts with this.")
@limit_option
@cursor_option
@json_option
def list_projects(name: str | None, limit: int, cursor: str | None, as_json: bool) -> None:
    """Projects by name, with their ids."""
    with fresh() as built:
        page = built.results.projects(name, limit, cursor)
    rows = [(item["project_id"], item["name"], _when(item["created_at"])) for item in page.items]
    empty = (
        f"no project's name starts with {name!r}"
        if name
        else "no projects yet: `tieout projects create`"
    )
    _print_page(page, as_json, ("project", "name", "created at"), rows, empty)


@sources.command("list")
@click.argument("project")
@limit_option
@cursor_option
@json_option
def list_sources(project: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """A project's sources, newest first."""
    project_id = parse_id(project, "project")
    with fresh(project_id) as built:
        page = built.results.sources(project_id, limit, cursor)
    rows = [
        (
            item["source_id"],
            item["name"],
            item["file_format"],
            item["row_count"],
            len(item["columns"]),
            _when(item["registered_at"]),
        )
        for item in page.items
    ]
    headers = ("source", "name", "format", "rows", "columns", "registered at")
    _print_page(page, as_json, headers, rows, "no sources yet: `tieout sources add`")


@rulesets.command("list")
@click.argument("project")
@json_option
def list_rulesets(project: str, as_json: bool) -> None:
    """A project's ruleset versions, oldest first."""
    project_id = parse_id(project, "project")
    with fresh(project_id) as built:
        page = Page(built.results.rulesets(project_id), None)
    rows = [
        (item["version"], _when(item["published_at"]), item["published_by"], item["digest"][:16])
        for item in page.items
    ]
    headers = ("version", "published at", "published by", "digest")
    _print_page(page, as_json, headers, rows, "no rulesets yet: `tieout rulesets publish`")


@rulesets.command("show")
@click.argument("project")
@click.argument("version", type=int)
@json_option
def show_ruleset(project: str, version: int, as_json: bool) -> None:
    """One ruleset version as YAML (what `rulesets publish` accepts) or JSON."""
    project_id = parse_id(project, "project")
    with fresh(project_id) as built:
        found = built.results.ruleset(project_id, version)
    if as_json:
        emit_json(found)
        return
    click.echo(f"# project {project_id}, ruleset version {version}, digest {found['digest']}")
    text = yaml.safe_dump(_without_nulls(found["ruleset"]), sort_keys=False, allow_unicode=True)
    click.echo(text.rstrip())


def _without_nulls(value: Any) -> Any:
    """The stored form spells every unset option as null; people read it without them."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _print_page(
    page: Page, as_json: bool, headers: tuple[str, ...], rows: list[Any], empty: str
) -> None:
    if as_json:
        emit_json(page.as_json())
        return
    print_table(headers, rows, empty)
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}", err=True)


def _when(value: Any) -> str:
    """ISO 8601 to the second, as the read models return it (text or a datetime)."""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:19].replace("T", " ")
