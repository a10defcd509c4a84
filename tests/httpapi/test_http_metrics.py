"""The API's request metrics carry the route template (never a raw path) and the status."""

from __future__ import annotations

import uuid

from api_helpers import JOBS, Client

from api.keys import METRICS


async def test_requests_are_counted_by_route_template_and_status(
    client: Client, admin: dict[str, str]
) -> None:
    job = uuid.uuid4()
    assert (await client.get(f"{JOBS}/{job}", headers=admin)).status == 404
    assert (await client.get("/api/no/such/route", headers=admin)).status == 404
    assert (await client.get("/api/health")).status == 200
    registry = client.app[METRICS]

    def count(route: str, status: str) -> float | None:
        labels = {"method": "GET", "route": route, "status": status}
        counted = registry.get_sample_value("tieout_http_requests_total", labels)
        timed = registry.get_sample_value("tieout_http_request_duration_seconds_count", labels)
        assert counted == timed
        return float(counted) if counted is not None else None

    assert count(f"{JOBS}/{{job_id}}", "404") == 1
    assert count("unmatched", "404") == 1
    assert count("/api/health", "200") == 1
    raw = f"{JOBS}/{job}"
    exposed = {
        sample.labels.get("route")
        for family in registry.collect()
        for sample in family.samples
        if family.name.startswith("tieout_http_request")
    }
    assert raw not in exposed
