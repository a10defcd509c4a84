"""`get` tells a server that is not there from one that does not answer."""

from __future__ import annotations

import socket

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
