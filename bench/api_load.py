"""The HTTP API under open-loop load, beside a floor measured in the same run.

    .venv/bin/python bench/api_load.py --rates 200 500 --sweep 600 800 1000 1200

On a fresh database of the PostgreSQL server at TIEOUT_DATABASE_URL (default: the local
one), a server process is started for each target and driven from this process over
loopback, open loop: request i is sent at t0 + i/rate whether or not earlier ones have
answered, and its latency is counted from that moment (so queueing shows, instead of
being hidden by a client that waits).

- `floor`: a bare aiohttp handler that appends one event through eventsourcing
  (`Tieout.create_project`) on the bounded executor: the cost of the stack beneath us;
- `api`: `POST /api/reconciliation/jobs` through the whole API: bearer token, pydantic
  validation, access check, a fresh Idempotency-Key per request, rate limits, request
  ids, metrics and the job's event and queue row.

Then, unless --no-results: a completed job given --decisions synthetic decision rows in
its read model; page latency of `GET .../results` (first pages, pages deep behind a
cursor, filters), the same with If-None-Match (304), and the export rate in rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from aiohttp import web
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from read_models import copy_synthetic_decisions

from engine.domain.meta import event_meta
from engine.domain.org import Role
from projections.projector import catch_up
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings
from tieout.workers import build_worker

META = event_meta(actor="service:bench", causation="bench.api_load")
RULES = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
"""
UNLIMITED = "login=1000000/1,jobs=1000000/1,uploads=1000000/1,reads=1000000/1,writes=1000000/1"


@dataclass(frozen=True)
class Run:
    target: str
    rate: float
    sent: int
    ok: int
    throughput: float
    p50: float
    p95: float
    p99: float

    def line(self) -> str:
        return (
            f"{self.target:>6} {self.rate:>7.0f}/s  ok {self.ok:>6}/{self.sent:<6} "
            f"throughput {self.throughput:>7.1f}/s  p50 {self.p50:7.2f} ms  "
            f"p95 {self.p95:7.2f} ms  p99 {self.p99:7.2f} ms"
        )


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# The server side


def serve(target: str, port: int) -> None:
    container = bootstrap(process=f"bench-{target}")
    if target == "api":
        from api.app import create_app  # noqa: PLC0415 - the floor must not pay for it

        app = create_app(container)
    else:
        app = floor_app(container)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def floor_app(container: Container) -> web.Application:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    async def executor(app: web.Application) -> Any:
        del app
        pool = ThreadPoolExecutor(max_workers=container.settings.db_pool_size)
        asyncio.get_running_loop().set_default_executor(pool)
        yield
        pool.shutdown()

    async def append(request: web.Request) -> web.Response:
        del request
        made = await asyncio.to_thread(container.app.create_project, "floor", META)
        return web.json_response({"id": str(made)}, status=201)

    async def health(request: web.Request) -> web.Response:
        del request
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.cleanup_ctx.append(executor)
    app.router.add_post("/floor", append)
    app.router.add_get("/api/health", health)
    return app


# The load side


async def open_loop(
    session: aiohttp.ClientSession,
    url: str,
    rate: float,
    seconds: float,
    make: Any,
) -> tuple[int, list[float], float]:
    """Send at a fixed rate for `seconds`; latencies from each request's intended start."""
    count = int(rate * seconds)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        intended = start + i / rate
        await asyncio.sleep(max(0.0, intended - loop.time()))
        kwargs = make(i)
        try:
            async with session.post(url, **kwargs) as answer:
                await answer.read()
                if answer.status < 300:
                    latencies.append((loop.time() - intended) * 1000)
        except (aiohttp.ClientError, TimeoutError):
            pass

    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = loop.time() - start
    return count, latencies, elapsed


async def drive(
    target: str, base: str, rate: float, seconds: float, job_body: dict[str, Any], token: str
) -> Run:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if target == "floor":
            url = f"{base}/floor"

            def make(i: int) -> dict[str, Any]:
                del i
                return {}
        else:
            url = f"{base}/api/reconciliation/jobs"
            tag = uuid.uuid4().hex[:8]

            def make(i: int) -> dict[str, Any]:
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{tag}-{i}"}
                return {"json": job_body, "headers": headers}

        sent, latencies, elapsed = await open_loop(session, url, rate, seconds, make)
    return Run(
        target,
        rate,
        sent,
        len(latencies),
        len(latencies) / elapsed,
        percentile(latencies, 0.50),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
    )


# Set-up


def fresh_database() -> str:
    url = os.environ.get("TIEOUT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"tieout_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo("", **(conninfo_to_dict(url) | {"dbname": name}))


def prepare(container: Container, scratch: Path) -> tuple[str, dict[str, Any]]:
    """A user's token and a job request's body (a project, two sources, a ruleset)."""
    user = container.tenancy.create_user("bench@example.com", Role.ADMIN, "bench", META)
    principal = container.tenancy.user_principal(user.id)
    project = container.tenancy.create_project(principal, "Bench", META)
    container.app.publish_ruleset(project, RULES, META)
    ids = []
    for name, text in (
        ("left.csv", "txn_id,reference\n1,A\n2,B\n3,C\n"),
        ("right.csv", "entry_id,ref\n9,A\n8,B\n"),
    ):
        path = scratch / name
        path.write_text(text, encoding="utf-8")
        ids.append(str(container.app.register_source_file(project, path, META)))
    body = {
        "project_id": str(project),
        "left_source_id": ids[0],
        "right_source_id": ids[1],
        "ruleset_version": 1,
    }
    return container.tokens.issue(user.id), body


def start_server(target: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, __file__, "--serve", target, "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, base
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"{target} server did not start")


def load(env: dict[str, str], args: argparse.Namespace, token: str, body: dict[str, Any]) -> None:
    for target in ("floor", "api"):
        server, base = start_server(target, env)
        try:
            asyncio.run(drive(target, base, 50, 2, body, token))  # warm-up
            for rate in [*args.rates, *args.sweep]:
                print(asyncio.run(drive(target, base, rate, args.seconds, body, token)).line())
        finally:
            server.terminate()
            server.wait(timeout=30)


# Results at scale


def completed_job(container: Container, token: str, body: dict[str, Any]) -> str:
    del token
    job = container.app.request_job(
        uuid.UUID(body["project_id"]),
        uuid.UUID(body["left_source_id"]),
        uuid.UUID(body["right_source_id"]),
        1,
        META,
    )
    worker = build_worker(container)
    while container.app.get_job(job).status != "completed":
        worker.tick()
    catch_up(container.projections, timeout_seconds=600)
    return str(job)


async def results_latency(base: str, job: str, token: str, samples: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/reconciliation/jobs/{job}/results"
    queries = [
        "limit=100",
        "limit=100&status=suggested",
        "limit=100&rule=fuzzy",
        "limit=100&min_confidence=0.25&max_confidence=0.75",
    ]
    timings: dict[str, list[float]] = {"first pages": [], "deep pages": [], "304": []}
    async with aiohttp.ClientSession() as session:
        cursors: list[str] = []
        for i in range(samples):
            query = random.choice(queries)
            started = time.perf_counter()
            async with session.get(f"{url}?{query}", headers=headers) as answer:
                page = await answer.json()
                tag = answer.headers.get("ETag", "")
            timings["first pages"].append((time.perf_counter() - started) * 1000)
            if page.get("next_cursor") and len(cursors) < samples:
                cursors.append(f"{query}&cursor={page['next_cursor']}")
            conditional = headers | {"If-None-Match": tag}
            started = time.perf_counter()
            async with session.get(f"{url}?{query}", headers=conditional) as answer:
                await answer.read()
                assert answer.status == 304  # noqa: S101
            timings["304"].append((time.perf_counter() - started) * 1000)
            if cursors and i % 2:
                # walk a stored cursor one page deeper: pages far from the start
                query = cursors.pop(random.randrange(len(cursors)))
                for _ in range(20):
                    started = time.perf_counter()
                    async with session.get(f"{url}?{query}", headers=headers) as answer:
                        page = await answer.json()
                    timings["deep pages"].append((time.perf_counter() - started) * 1000)
                    if not page.get("next_cursor"):
                        break
                    query = query.split("&cursor=")[0] + f"&cursor={page['next_cursor']}"
    for name, values in timings.items():
        print(
            f"results {name:>11}: n {len(values):>5}  p50 {percentile(values, 0.5):6.2f} ms  "
            f"p95 {percentile(values, 0.95):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms"
        )


async def export_rate(base: str, job: str, token: str, seconds: float) -> None:
    """Rows/s of the CSV export, read for at most `seconds` (the rate, not the whole file)."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/reconciliation/jobs/{job}/export?format=csv"
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        lines = 0
        async with session.get(url, headers=headers) as answer:
            async for chunk in answer.content.iter_chunked(1 << 20):
                lines += chunk.count(b"\n")
                if time.perf_counter() - started > seconds:
                    break
        elapsed = time.perf_counter() - started
    rows = lines - 1
    print(f"export csv: {rows:,} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s")


def results(env: dict[str, str], container: Container, args: argparse.Namespace, token: str,
            body: dict[str, Any]) -> None:  # fmt: skip
    job = completed_job(container, token, body)
    started = time.perf_counter()
    copy_synthetic_decisions(container.database_url, uuid.UUID(job), args.decisions)
    print(f"copied {args.decisions:,} decisions in {time.perf_counter() - started:.1f} s")
    server, base = start_server("api", env)
    try:
        asyncio.run(results_latency(base, job, token, args.samples))
        if not args.no_export:
            asyncio.run(export_rate(base, job, token, args.export_seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=["floor", "api"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rates", type=float, nargs="*", default=[200, 500])
    parser.add_argument("--sweep", type=float, nargs="*", default=[700, 900, 1100, 1300])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--decisions", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--no-results", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--export-seconds", type=float, default=30)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    url = fresh_database()
    with tempfile.TemporaryDirectory(prefix="tieout-bench-api-") as scratch:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
        env |= {
            "TIEOUT_DATABASE_URL": url,
            "TIEOUT_HOME": scratch,
            "TIEOUT_OBJECT_STORE": str(Path(scratch) / "objects"),
            "TIEOUT_RATE_LIMITS": UNLIMITED,
            "TIEOUT_LOG_LEVEL": "ERROR",
        }
        settings = Settings(
            home=Path(scratch), database_url=url, object_store=str(Path(scratch) / "objects")
        )
        container = bootstrap(settings, process="bench")
        try:
            token, body = prepare(container, Path(scratch))
            if not args.no_results:  # first: a worker runs jobs in order, the load's too
                results(env, container, args, token, body)
            if not args.no_load:
                load(env, args, token, body)
        finally:
            container.close()
            drop_database(url)


def drop_database(url: str) -> None:
    name = conninfo_to_dict(url)["dbname"]
    admin = make_conninfo("", **(conninfo_to_dict(url) | {"dbname": "postgres"}))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
