"""`get` tells a server that is not there from one that does not answer."""

from __future__ import annotations

import select
import socket
import urllib.error
from contextlib import ExitStack

import pytest
from net_helpers import free_port, get


def test_nothing_listening_is_no_answer() -> None:
    assert get(f"http://127.0.0.1:{free_port()}/", timeout=1) == (0, "")


def test_a_server_that_accepts_and_stays_silent_is_a_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/metrics"
        with pytest.raises(TimeoutError, match=r"no answer within 0\.2 s"):
            get(url, timeout=0.2)


def test_a_server_whose_queue_is_full_is_a_timeout_to_connect() -> None:
    """A listener whose accept queue is full drops new connections' SYNs, so the connect
    itself times out, which urllib reports wrapped in a URLError (a silent server's read
    timeout comes bare): `get` names the URL all the same."""
    with socket.socket() as full, ExitStack() as waiting:
        full.bind(("127.0.0.1", 0))
        full.listen(0)  # never accepts
        address = full.getsockname()
        for _ in range(16):
            connecting = waiting.enter_context(socket.socket())
            connecting.settimeout(0)  # non-blocking: connect_ex starts the handshake only
            connecting.connect_ex(address)
            if not select.select([], [connecting], [], 0.5)[1]:
                break  # this one was not let in: the queue is full
        else:
            pytest.fail("the accept queue never filled")
        url = f"http://127.0.0.1:{address[1]}/"
        with pytest.raises(TimeoutError, match=r"no answer within 0\.2 s") as raised:
            get(url, timeout=0.2)
    assert isinstance(raised.value.__cause__, urllib.error.URLError)
