"""Every list the API answers is shaped as the CLI's `--json` of the same list (the
contract): each item has every key the CLI's item has, with the same values, and extra
keys only where the API says more (a project's `id`, latest ruleset version and the
caller's role)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from api_helpers import JOBS, Client, completed_job

from projections.projector import catch_up
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")
API_ONLY = {"projects": {"id", "latest_ruleset_version", "role"}}
"""Keys an API item has beyond the CLI's, by list."""


def cli_items(env: dict[str, str], args: tuple[str, ...]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [TIEOUT, *args, "--json"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    items: list[dict[str, Any]] = found["items"] if isinstance(found, dict) else found
    return items


async def test_api_list_items_have_the_cli_json_keys(
    client: Client, admin: dict[str, str], container: Container, cli_env: dict[str, str]
) -> None:
    job = await completed_job(client, admin, container)
    project = (await (await client.get(f"{JOBS}/{job}", headers=admin)).json())["project_id"]
    catch_up(container.projections, timeout_seconds=60)
    lists = {
        "projects": ("/api/projects", ("projects", "list")),
        "rulesets": (f"/api/projects/{project}/rulesets", ("rulesets", "list", project)),
        "sources": (f"/api/projects/{project}/sources", ("sources", "list", project)),
        "jobs": (JOBS, ("jobs", "list")),
        "results": (f"{JOBS}/{job}/results", ("results", job)),
        "unmatched": (f"{JOBS}/{job}/unmatched", ("unmatched", job)),
        "audit": ("/api/audit/events", ("audit", "events")),
    }
    with ThreadPoolExecutor(max_workers=len(lists)) as pool:
        from_cli = {
            name: pool.submit(cli_items, cli_env, args) for name, (_, args) in lists.items()
        }
        for name, (url, _) in lists.items():
            answer = await client.get(url, headers=admin)
            assert answer.status == 200, await answer.text()
            api = (await answer.json())["items"]
            cli = from_cli[name].result()
            assert api, f"{name}: the API listed nothing"
            assert cli, f"{name}: the CLI listed nothing"
            api_keys, cli_keys = set(api[0]), set(cli[0])
            assert cli_keys <= api_keys, f"{name}: the API lacks {cli_keys - api_keys}"
            assert api_keys - cli_keys == API_ONLY.get(name, set()), name
            if name != "audit":  # the API's log is the caller's organization's, the CLI's all
                assert {key: api[0][key] for key in cli_keys} == cli[0], name
