"""Slow clients against a real `tieout serve`, over raw sockets: one that trickles its
request head is cut off within TIEOUT_HEADER_TIMEOUT_SECONDS; one that stops reading an
export is cut off within TIEOUT_EXPORT_IDLE_SECONDS, its handler ended and counted as 499.
Either way the server goes on answering others."""

from __future__ import annotations

import asyncio
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiohttp
import pytest
from api_helpers import JOBS, Client, bearer, build_world, job_body, user_token
from export_helpers import LARGE_EXPORT_ROWS, make_export_large
from net_helpers import free_port, get

from engine.domain.org import Role
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.workers import build_worker

TIEOUT = str(Path(sys.executable).parent / "tieout")
HEAD_SECONDS = 1.0
IDLE_SECONDS = 1.0
CUT_OFF_WITHIN = 10.0  # seconds: generous for a loaded 2-core machine, far below "never"


@dataclass
class Server:
    host: str
    port: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def server(container: Container, cli_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """`tieout serve` on the test database (its tables made by `container` first)."""
    port = free_port()
    env = cli_env | {
        "TIEOUT_HEADER_TIMEOUT_SECONDS": str(HEAD_SECONDS),
        "TIEOUT_EXPORT_IDLE_SECONDS": str(IDLE_SECONDS),
    }
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [TIEOUT, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        found = Server("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while get(f"{found.base}/api/health")[0] != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield found
    finally:
        process.terminate()
        process.wait(timeout=30)


def closed_by_peer(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed the connection (EOF or reset) within `wait` seconds."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        return sock.recv(1 << 16) == b""
    except ConnectionResetError:
        return True


def test_a_client_trickling_its_request_head_is_cut_off(server: Server) -> None:
    head = b"GET /api/health HTTP/1.1\r\nHost: tieout\r\nX-Padding: " + b"x" * 400 + b"\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        started = time.monotonic()
        for byte in head[:-4]:  # never the blank line that ends the head
            sock.sendall(bytes([byte]))
            if closed_by_peer(sock, 0.1):
                break
        else:
            pytest.fail("the server waited for a head trickled over a minute")
        elapsed = time.monotonic() - started
    assert HEAD_SECONDS * 0.9 <= elapsed < CUT_OFF_WITHIN
    assert get(f"{server.base}/api/health")[0] == 200


async def completed_job(server: Server, container: Container, admin: dict[str, str]) -> str:
    async with aiohttp.ClientSession(base_url=server.base) as session:
        world = await build_world(cast("Client", session), admin)  # the calls it makes
        made = await session.post(JOBS, json=job_body(world), headers=admin)
        assert made.status == 202, await made.text()
        job: str = (await made.json())["id"]
    assert build_worker(container).tick()
    catch_up(container.projections, timeout_seconds=60)
    return job


def test_a_client_that_stops_reading_an_export_is_cut_off(
    server: Server, container: Container
) -> None:
    admin = bearer(user_token(container, "boss@acme.test", Role.ADMIN))
    job = asyncio.run(completed_job(server, container, admin))
    make_export_large(container, job)
    request = (
        f"GET {JOBS}/{job}/export?format=csv HTTP/1.1\r\nHost: tieout\r\n"
        f"Authorization: {admin['Authorization']}\r\nX-Request-ID: stalled-1\r\n\r\n"
    ).encode()
    left = f'route="{JOBS}/{{job_id}}/export",status="499"'
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
        sock.settimeout(CUT_OFF_WITHIN)
        sock.connect((server.host, server.port))
        sock.sendall(request)
        start = b""
        while b"\r\n\r\n" not in start:  # the whole head, then read no more
            start += sock.recv(4096)
        assert start.startswith(b"HTTP/1.1 200"), start
        assert b"X-Request-ID: stalled-1" in start
        deadline = time.monotonic() + CUT_OFF_WITHIN
        while left not in get(f"{server.base}/metrics")[1]:  # reading nothing meanwhile
            assert time.monotonic() < deadline, "the export waited on a client not reading"
            time.sleep(0.2)
        received = len(start)
        try:
            while chunk := sock.recv(1 << 16):
                received += len(chunk)
        except ConnectionResetError:
            pass  # the server dropped what was not read
    assert received < LARGE_EXPORT_ROWS * 20  # far from the whole export
    assert get(f"{server.base}/api/health")[0] == 200
