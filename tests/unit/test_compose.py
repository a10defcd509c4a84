"""The compose stack, its monitoring files and the deployment doc agree with each other.

Docker does not run in CI, so these checks read the files: every service the deployment
relies on is there and wired the same way, every file it mounts exists, the alert rules and
the dashboard are well formed and name only metrics Tieout exports, and the doc covers
every service.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.registry import CollectorRegistry

from api.metrics import HttpMetrics
from api.ratelimit import fallback_counter
from engine.application import Tieout
from engine.domain.job import RetryPolicy
from engine.memory import InMemoryFencedRecorder, InMemoryJobQueue
from engine.worker.loop import Worker, WorkerConfig
from projections.projector import LagGauge
from snapshots.stores import LocalObjectStore
from tieout.backups import BackupMetrics
from tieout.metrics import register_queue_metrics, register_worker_metrics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "monitoring" / "prometheus.yml"
ALERTS = ROOT / "monitoring" / "alerts.yaml"
GRAFANA = ROOT / "monitoring" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "tieout.json"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

SERVICES = ("postgres", "minio", "api", "worker", "projector", "backup", "prometheus", "grafana")
TIEOUT_SERVICES = ("api", "worker", "projector", "backup")
HEALTHCHECKED = ("postgres", "minio", "api")
REQUIRED_ALERTS = ("TieoutDeadLetter", "TieoutStaleJob", "TieoutJobFailureRate")
SEVERITIES = {"critical", "warning", "info"}

# A histogram is exported as these series; the dashboard queries them by these names.
HISTOGRAM_SERIES = re.compile(r"_(bucket|count|sum)$")
METRIC = re.compile(r"\btieout_[a-z0-9_]+")
JOB_LABEL = re.compile(r'\bjob="([^"]+)"')


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.relative_to(ROOT)} is not a mapping"
    return loaded


def compose_services() -> dict[str, Any]:
    services = load_yaml(COMPOSE)["services"]
    assert isinstance(services, dict)
    return services


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel that queries, including those nested in collapsed rows."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.extend(panel.get("panels", []))
        if panel["type"] != "row":
            panels.append(panel)
    return panels


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, written either as a mapping or as `KEY=value` items."""
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def bind_mounts() -> list[tuple[str, str]]:
    """(service, host path) for every volume mounted from the repository (`./...`)."""
    mounts = []
    for name, service in compose_services().items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":", 1)[0]
            if source.startswith("./"):
                mounts.append((name, source))
    return mounts


def mount_target(service: str, source: str) -> str:
    for volume in compose_services()[service]["volumes"]:
        parts = volume.split(":")
        if parts[0] == source:
            return str(parts[1])
    pytest.fail(f"{service} does not mount {source}")


def metrics_in(expr: str) -> set[str]:
    return {HISTOGRAM_SERIES.sub("", name) for name in METRIC.findall(expr)}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return compose_services()


@pytest.fixture(scope="module")
def exported_metrics(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """What the processes register, each part as its process does, in one fresh registry:
    the API's HTTP and rate-limit metrics and the queue's job metrics, a worker's speed,
    the projector's lag and the backup schedule's metrics (an in-memory event store)."""
    registry = CollectorRegistry()
    recorder = InMemoryFencedRecorder()
    store = LocalObjectStore(tmp_path_factory.mktemp("objects"))
    app = Tieout({"PERSISTENCE_MODULE": "eventsourcing.popo"}, store, lambda _: recorder)
    queue = InMemoryJobQueue(recorder)
    policy = RetryPolicy(max_attempts=1, backoff_seconds=0, backoff_max_seconds=0)
    config = WorkerConfig("metrics", 1, 1.0, 0.5, 0.1, 10, policy)
    HttpMetrics.of(registry)
    fallback_counter(registry)
    register_queue_metrics(queue, registry)
    register_worker_metrics(Worker(app, queue, store, config), registry)
    LagGauge(registry)
    BackupMetrics(registry)
    names = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in registry.collect()
    }
    app.close()
    return frozenset(names)


def test_the_registered_metrics_include_the_job_metrics(exported_metrics: frozenset[str]) -> None:
    """The families come through under their exported names (a counter's `_total`)."""
    assert {
        "tieout_jobs",
        "tieout_job_attempts_total",
        "tieout_job_duration_seconds",
        "tieout_matcher_rows_per_second",
        "tieout_projection_lag_events",
        "tieout_backup_failures_total",
        "tieout_http_requests_total",
    } <= exported_metrics


@pytest.mark.parametrize("name", SERVICES)
def test_compose_has_service(services: dict[str, Any], name: str) -> None:
    assert name in services


@pytest.mark.parametrize("name", TIEOUT_SERVICES)
def test_tieout_service_is_built_from_the_repository(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    context = build["context"] if isinstance(build, dict) else build
    assert context in {".", "./"}
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", TIEOUT_SERVICES)
def test_tieout_service_uses_the_compose_database(services: dict[str, Any], name: str) -> None:
    url = environment(services[name])["TIEOUT_DATABASE_URL"]
    assert url.startswith("postgresql://")
    assert "@postgres:5432/" in url


@pytest.mark.parametrize("name", HEALTHCHECKED)
def test_service_has_a_healthcheck(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert not check.get("disable", False)
    assert check["test"]


def test_api_waits_for_a_healthy_database(services: dict[str, Any]) -> None:
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize(("service", "source"), bind_mounts())
def test_mounted_file_exists(service: str, source: str) -> None:
    assert (ROOT / source).exists(), f"{service} mounts {source}, which is not in the repository"


def test_named_volumes_are_declared(services: dict[str, Any]) -> None:
    declared = set(load_yaml(COMPOSE).get("volumes") or {})
    used = {
        volume.split(":", 1)[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if isinstance(volume, str) and not volume.startswith(("./", "/"))
    }
    assert used <= declared


def test_prometheus_loads_the_alert_rules() -> None:
    rule_files = load_yaml(PROMETHEUS)["rule_files"]
    config_dir = Path(mount_target("prometheus", "./monitoring/prometheus.yml")).parent
    alerts_at = Path(mount_target("prometheus", "./monitoring/alerts.yaml"))
    assert any(config_dir / rule_file == alerts_at for rule_file in rule_files)


def test_prometheus_scrapes_every_tieout_service() -> None:
    config = load_yaml(PROMETHEUS)
    targets = json.dumps(config["scrape_configs"])
    for name in TIEOUT_SERVICES:
        assert f'"{name}' in targets, f"no scrape config reaches {name}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule.get("alert")))
def test_alert_rule_is_complete(rule: dict[str, Any]) -> None:
    assert rule["alert"].startswith("Tieout")
    assert rule["expr"].strip()
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()


@pytest.mark.parametrize("name", REQUIRED_ALERTS)
def test_required_alert_exists(name: str) -> None:
    assert name in {rule["alert"] for rule in alert_rules()}


def test_alerts_name_only_scraped_jobs_and_exported_metrics(
    exported_metrics: frozenset[str],
) -> None:
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS)["scrape_configs"]}
    for rule in alert_rules():
        assert set(JOB_LABEL.findall(rule["expr"])) <= jobs, rule["alert"]
        assert metrics_in(rule["expr"]) <= exported_metrics, rule["alert"]


@pytest.mark.parametrize("panel", dashboard_panels(), ids=lambda panel: str(panel.get("title")))
def test_dashboard_panel_queries_tieout_metrics(
    panel: dict[str, Any], exported_metrics: frozenset[str]
) -> None:
    alerted = set().union(*(metrics_in(rule["expr"]) for rule in alert_rules()))
    exprs = [target["expr"] for target in panel["targets"]]
    assert exprs, "a panel without a query"
    for expr in exprs:
        named = metrics_in(expr)
        assert named, f"{expr!r} names no tieout_* metric"
        assert named <= exported_metrics | alerted, f"{expr!r} names an unknown metric"


def test_dashboard_uses_the_provisioned_datasource() -> None:
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yaml")
    uids = {source["uid"] for source in datasources["datasources"]}
    used = {
        target["datasource"]["uid"] for panel in dashboard_panels() for target in panel["targets"]
    }
    assert used <= uids


def test_grafana_loads_dashboards_from_where_compose_mounts_them() -> None:
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml")
    paths = {provider["options"]["path"] for provider in providers["providers"]}
    assert mount_target("grafana", "./monitoring/grafana/dashboards") in paths


@pytest.mark.parametrize("name", sorted(compose_services()))
def test_deployment_doc_describes_service(name: str) -> None:
    assert f"`{name}`" in DEPLOYMENT_DOC.read_text(encoding="utf-8")
