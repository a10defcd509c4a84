"""Loopback helpers for tests that start servers: a free port and a plain HTTP GET."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

ANSWER_SECONDS = 10.0  # a loaded 2-core machine can take seconds; a server never takes this


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, timeout: float = ANSWER_SECONDS) -> tuple[int, str]:
    """Status and body; an error status is returned too.

    Nothing listening (yet), or the connection dropped, is (0, ""): a server starting or
    stopping, which callers poll through. A server that accepts but does not answer within
    `timeout` raises TimeoutError naming the URL, so a slow answer is not taken for a
    server that is not there.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise TimeoutError(f"{url}: no answer within {timeout} s") from error
        if isinstance(error.reason, ConnectionError):
            return 0, ""
        raise
    except TimeoutError as error:
        raise TimeoutError(f"{url}: no answer within {timeout} s") from error
    except ConnectionError:
        return 0, ""
