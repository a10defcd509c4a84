"""`tieout status`: where the data is, which database, what is running, how far behind."""

from __future__ import annotations

from typing import Any

import click

from projections.activity import Activity
from tieout.bootstrap import Container
from tieout.cli.context import container, emit_json
from tieout.cli.display import print_fields, safe_url
from tieout.cli.root import cli

START = {
    "worker": "start one with `tieout worker`",
    "projector": "start it with `tieout projector`",
    "api": "start it with `tieout serve`",
}


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Where the data is, which database, whether a worker and the projector are running,
    and how many events each read model is behind the log."""
    with container() as built:
        report = _report(built, built.activity.activity(), built.lags.behind())
    if as_json:
        emit_json(report)
        return
    print_fields(_lines(report))


def _report(built: Container, activity: Activity, lags: dict[str, int]) -> dict[str, Any]:
    settings = built.settings
    embedded = settings.database_url is None
    processes = {
        process: {
            "running": activity.running(process) or _inside_serve(process, activity, embedded),
            "connections": activity.connections[process],
        }
        for process in ("worker", "projector", "api")
    }
    return {
        "home": str(settings.home.resolve()),
        "object_store": settings.object_store_location,
        "database": {
            "url": safe_url(built.database_url),
            "embedded": embedded,
            "name": activity.database,
            "server_version": activity.server_version,
        },
        "processes": processes,
        "inside_serve": embedded and activity.running("api"),
        "projection_lag_events": lags,
        "jobs": built.catalog.job_counts(),
    }


def _inside_serve(process: str, activity: Activity, embedded: bool) -> bool:
    """On the embedded default `tieout serve` runs a worker and the projector itself."""
    return embedded and process in {"worker", "projector"} and activity.running("api")


def _lines(report: dict[str, Any]) -> list[tuple[str, str]]:
    database = report["database"]
    where = "embedded, under TIEOUT_HOME/pgdata" if database["embedded"] else "TIEOUT_DATABASE_URL"
    lines = [
        ("data", f"{report['home']} (TIEOUT_HOME)"),
        ("sources", report["object_store"]),
        ("database", f"{database['url']} ({where}; PostgreSQL {database['server_version']})"),
        ("psql", f'psql "{database["url"]}"'),
    ]
    for process, state in report["processes"].items():
        lines.append((process, _process_line(process, state, report["inside_serve"])))
    for name, behind in report["projection_lag_events"].items():
        running = report["processes"]["projector"]["running"]
        lines.append((f"read model {name}", _lag_line(behind, running, database["embedded"])))
    jobs = report["jobs"]
    waiting, running, dead = (jobs.get(key, 0) for key in ("pending", "running", "dead_letters"))
    lines.append(("jobs", f"{waiting:,} waiting, {running:,} running, {dead:,} dead-lettered"))
    return lines


def _process_line(process: str, state: dict[str, Any], inside_serve: bool) -> str:
    if state["connections"]:
        return f"running ({state['connections']} connections)"
    if state["running"] and inside_serve:
        return "running inside `tieout serve`"
    return f"not running: {START[process]}"


def _lag_line(behind: int, projector_running: bool, embedded: bool) -> str:
    if not behind:
        return "up to date"
    if projector_running:
        hint = ""
    elif embedded:
        hint = " (commands that read it catch it up first on the embedded default)"
    else:
        hint = " (no projector is running: `tieout projector`)"
    return f"{behind:,} events behind the log{hint}"
