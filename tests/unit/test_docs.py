"""Docs cannot rot: every setting is in the README, every event in the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.domain import stored_event_classes
from tieout.settings import Settings

ROOT = Path(__file__).parent.parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EVENTS_DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(field: str) -> None:
    variable = f"TIEOUT_{field.upper()}"
    assert re.search(rf"^\| `{variable}` \|", README, re.MULTILINE), (
        f"{variable} is missing from README's configuration table"
    )


def readme_default(variable: str) -> str:
    """The default column of a setting's row in README's configuration table."""
    found = re.search(rf"^\| `{variable}` \| ([^|]+) \|", README, re.MULTILINE)
    assert found is not None, f"{variable} is missing from README's configuration table"
    return found.group(1).strip()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_the_readme_default_is_the_settings_default(field: str) -> None:
    """`unset` (or a path under TIEOUT_HOME, derived at run time) is no default; anything
    else is the default's value, read as the setting's own type would read it."""
    written = readme_default(f"TIEOUT_{field.upper()}")
    default = Settings.model_fields[field].default
    if written == "unset" or written.startswith("`TIEOUT_HOME/"):
        assert default is None, f"README says {written}, the settings say {default!r}"
        return
    assert written.startswith("`"), f"{written!r}: a default is written in backticks"
    value = written.strip("`")
    if isinstance(default, bool):
        assert value == str(default).lower()
    elif isinstance(default, int | float):
        assert float(value) == default, (value, default)
    else:
        assert value == str(default), (value, default)


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_has_a_description(field: str) -> None:
    assert Settings.model_fields[field].description


def stored_event_names() -> list[str]:
    return sorted({event.__name__ for event in stored_event_classes()})


@pytest.mark.parametrize("name", stored_event_names())
def test_every_event_is_in_the_catalogue(name: str) -> None:
    assert f"`{name}`" in EVENTS_DOC, f"{name} is missing from docs/events.md"


def test_adrs_have_context_decision_consequences() -> None:
    adrs = sorted((ROOT / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert len(adrs) >= 3
    for adr in adrs:
        text = adr.read_text(encoding="utf-8")
        for heading in ("Context", "Decision", "Consequences"):
            assert re.search(rf"^#+ {heading}", text, re.MULTILINE), f"{adr.name}: {heading}"
