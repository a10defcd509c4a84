"""The C allocator setting of `tieout` processes (tieout.allocator)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from engine.matching.schemas import DONE
from tieout.allocator import with_one_arena

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def run(code: str, env: dict[str, str] | None = None) -> str:
    """What `code` prints in a process of its own: the allocators' settings last for the
    life of a process, so none is made in the test session's."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt's arena limit is glibc's")
def test_glibc_takes_the_arena_limit() -> None:
    code = "from tieout.allocator import limit_malloc_arenas as f; print(f(2))"
    assert run(code) == "True"


def test_the_cli_limits_arenas_before_polars_loads() -> None:
    """`tieout match` sets its allocators before polars starts its threads, so importing
    the CLI must not import polars."""
    code = "import sys, tieout.cli; print('polars' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "False"


RESOLVED = (
    "import os, sys, click, tieout.cli; from tieout.cli.root import cli; "
    "cli.get_command(click.Context(cli), sys.argv[1]); "
    "print(os.environ.get('_RJEM_MALLOC_CONF'), 'polars' in sys.modules)"
)


def settings_of(command: str, env: dict[str, str]) -> tuple[list[str], str]:
    """The jemalloc settings (polars adds its own defaults as it loads) once `command` is
    resolved, and whether polars was loaded by then."""
    conf, loaded = run(RESOLVED.replace("sys.argv[1]", repr(command)), env).split()
    return conf.split(","), loaded


def test_tieout_match_sets_one_jemalloc_arena_unless_the_user_chose() -> None:
    """Set as `match` is resolved, before its module loads polars; other settings of the
    user's stand beside it, and an arena count of the user's replaces it."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    conf, loaded = settings_of("match", env)
    assert "narenas:1" in conf
    assert loaded == "True"
    env["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:0"
    conf, _ = settings_of("match", env)
    assert "dirty_decay_ms:0" in conf
    assert "narenas:1" in conf
    env["_RJEM_MALLOC_CONF"] = "narenas:4"
    conf, _ = settings_of("match", env)
    assert "narenas:4" in conf
    assert "narenas:1" not in conf


def test_polars_settings_inherited_from_a_parent_keep_one_arena() -> None:
    """A parent process that imported polars leaves polars' own settings in the
    environment; `tieout match` started from it still gets its one arena."""
    inherited = run("import os, polars; print(os.environ['_RJEM_MALLOC_CONF'])")
    env = {**os.environ, "_RJEM_MALLOC_CONF": inherited}
    conf, _ = settings_of("match", env)
    assert "narenas:1" in conf


def test_one_arena_is_added_to_other_settings_only() -> None:
    assert with_one_arena("") == "narenas:1"
    assert with_one_arena("dirty_decay_ms:500,muzzy_decay_ms:1000") == (
        "dirty_decay_ms:500,muzzy_decay_ms:1000,narenas:1"
    )
    assert with_one_arena("narenas:2,dirty_decay_ms:0") == "narenas:2,dirty_decay_ms:0"


@pytest.mark.parametrize("command", ["serve", "worker", "projector", "jobs", "demo"])
def test_other_commands_keep_the_allocators_defaults(command: str) -> None:
    """A long-running process runs many allocating threads at once: its allocators are
    left as they are (tieout.cli.root.ONE_MATCH)."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    conf, _ = settings_of(command, env)
    assert "narenas:1" not in conf


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_free_memory_goes_back_once() -> None:
    """16 MB of malloc's blocks freed: the first call hands pages back, the second finds
    none left to hand."""
    code = (
        "from tieout.allocator import return_free_memory as trim; "
        "kept = [bytearray(64 << 10) for _ in range(256)]; del kept; print(trim(), trim())"
    )
    assert run(code) == "True False"


def test_tieout_match_returns_free_memory_once_the_rules_are_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tieout.cli import match as command  # noqa: PLC0415 - the CLI module under test

    calls: list[str] = []

    def trimmed() -> bool:
        calls.append("trim")
        return True

    monkeypatch.setattr(command, "return_free_memory", trimmed)
    with command._progress() as report:
        report("rule a", 0, 2)
        report("rule b", 1, 2)
        assert calls == []
        report(DONE, 2, 2)
    assert calls == ["trim"]
