"""What the dashboard and the alerts query is what the running processes export.

`tieout serve`, `tieout worker` and `tieout projector` are started against the test
database, each with its metrics port, and scraped once as Prometheus would (one scrape job
of monitoring/prometheus.yml each). Every `tieout_*` metric an alert rule or a dashboard
panel names must be in some scrape, under the exact name it is exported as (`_total` for
a counter, `_bucket`/`_sum`/`_count` for a histogram).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from net_helpers import free_port, get

ROOT = Path(__file__).resolve().parents[2]
TIEOUT = str(Path(sys.executable).parent / "tieout")
METRIC = re.compile(r"\btieout_[a-z0-9_]+")
SAMPLE = re.compile(r"^(tieout_[a-z0-9_]+)", re.MULTILINE)
JOBS = ("tieout-api", "tieout-worker", "tieout-projector", "tieout-backup")


def command_for(job: str, port: int) -> tuple[list[str], dict[str, str]]:
    """How to start what a scrape job of prometheus.yml scrapes, serving /metrics on `port`."""
    if job == "tieout-api":
        return [TIEOUT, "serve", "--port", str(port)], {}
    metrics = {"TIEOUT_METRICS_PORT": str(port)}
    if job == "tieout-backup":
        return [TIEOUT, "backup", "schedule"], metrics | {"TIEOUT_BACKUP_INTERVAL_SECONDS": "3600"}
    return [TIEOUT, job.removeprefix("tieout-")], metrics


def scrape_jobs() -> set[str]:
    config = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text(encoding="utf-8"))
    return {job["job_name"] for job in config["scrape_configs"] if job["job_name"] != "prometheus"}


def queried_metrics() -> dict[str, set[str]]:
    """Each `tieout_*` series name an alert or a panel queries, with where."""
    alerts = yaml.safe_load((ROOT / "monitoring" / "alerts.yaml").read_text(encoding="utf-8"))
    exprs = [(r["alert"], r["expr"]) for group in alerts["groups"] for r in group["rules"]]
    dashboard = json.loads(
        (ROOT / "monitoring" / "grafana" / "dashboards" / "tieout.json").read_text("utf-8")
    )
    exprs += [
        (str(panel.get("title")), target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    found: dict[str, set[str]] = {}
    for where, expr in exprs:
        for name in METRIC.findall(expr):
            found.setdefault(name, set()).add(where)
    return found


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def scrape(url: str, log: Path, seconds: float = 60) -> str:
    """The /metrics page, once the process serves it."""
    deadline = time.monotonic() + seconds
    while True:
        status, body = get(url)
        if status == 200 and "tieout_" in body:
            return body
        assert time.monotonic() < deadline, f"{url} never answered: {log.read_text()}"
        time.sleep(0.2)


def test_every_queried_metric_is_exported_by_a_scraped_process(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert scrape_jobs() <= set(JOBS), "a scrape job this test does not start"
    exported: dict[str, set[str]] = {}
    with ExitStack() as stack:
        urls = {}
        for job in JOBS:
            port = free_port()
            command, extra = command_for(job, port)
            log = tmp_path / f"{job}.log"
            stack.enter_context(running(command, cli_env | extra, log))
            urls[job] = (f"http://127.0.0.1:{port}/metrics", log)
        for job, (url, log) in urls.items():
            scrape(url, log)  # up: now give labelled series their first sample
            if job == "tieout-api":
                assert get(url.replace("/metrics", "/api/health"))[0] == 200
                timed = 'tieout_http_request_duration_seconds_count{method="GET",'
                timed += 'route="/api/health",status="200"}'
                assert timed in scrape(url, log), "latency is labelled by route and status"
        # A labelled series appears with its first sample (the projector's lag after its
        # first poll): scrape again until every queried name is there, or the deadline.
        deadline = time.monotonic() + 60
        while True:
            for job, (url, log) in urls.items():
                for name in SAMPLE.findall(scrape(url, log)):
                    exported.setdefault(name, set()).add(job)
            missing = {
                name: where for name, where in queried_metrics().items() if name not in exported
            }
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert "tieout_matcher_rows_per_second" in {
        n for n, jobs in exported.items() if "tieout-worker" in jobs
    }
    assert not missing, f"queried but exported by no process: {missing}"
