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
